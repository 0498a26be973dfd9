from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from newspeech.auth.deps import AuditorDep, ClockDep, ExaminerUser, ScopeDep
from newspeech.db.deps import DbSession, SettingsDep
from newspeech.invitations.schemas import (
    InvitationCreate,
    InvitationCreated,
    InvitationRead,
    InvitationRedeem,
)
from newspeech.invitations.service import InvitationService
from newspeech.kit.ids import Id
from newspeech.kit.pagination import Page, PageRequest
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.users.deps import UserServiceDep
from newspeech.users.schemas import UserRead

router = APIRouter(prefix="/invitations", tags=["invitations"], responses=COMMON_ERRORS)


def get_invitation_service(
    db: DbSession,
    users: UserServiceDep,
    auditor: AuditorDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> InvitationService:
    return InvitationService(db, users, auditor, clock, settings.invitation_hours)


InvitationServiceDep = Annotated[InvitationService, Depends(get_invitation_service)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_invitation(
    body: InvitationCreate, user: ExaminerUser, scope: ScopeDep, service: InvitationServiceDep
) -> InvitationCreated:
    """A single-use code (48 h by default). Examiners invite students to their colleges;
    admins invite any role."""
    invitation, code = await service.create(user, scope, body)
    read = InvitationRead.model_validate(invitation)
    return InvitationCreated(**read.model_dump(), code=code)


@router.get("")
async def list_invitations(
    _user: ExaminerUser,
    scope: ScopeDep,
    service: InvitationServiceDep,
    page: Annotated[PageRequest, Query()],
) -> Page[InvitationRead]:
    """Your invitations (admins: all). Sortable by id, created_at, expires_at."""
    rows, total = await service.search(scope, page)
    return Page(
        items=[InvitationRead.model_validate(r) for r in rows],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.delete("/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invitation(
    invitation_id: Id, user: ExaminerUser, scope: ScopeDep, service: InvitationServiceDep
) -> None:
    await service.revoke(user, scope, invitation_id)


@router.post("/redeem", status_code=status.HTTP_201_CREATED)
async def redeem_invitation(body: InvitationRedeem, service: InvitationServiceDep) -> UserRead:
    """Register with an invitation code (no sign-in needed); then sign in."""
    return UserRead.model_validate(await service.redeem(body))
