"""Invitations: an examiner or admin creates a code; a new user redeems it once to register."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.auth.scope import Scope, set_assigned_colleges
from newspeech.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from newspeech.invitations.schemas import InvitationCreate, InvitationRedeem
from newspeech.kit.clock import WallClock
from newspeech.kit.pagination import PageRequest, fetch_page, order_by
from newspeech.kit.tokens import hash_secret, new_secret
from newspeech.models import Invitation, User, UserRole
from newspeech.users.schemas import UserCreate
from newspeech.users.service import UserService

SORTABLE = {
    "id": Invitation.id,
    "created_at": Invitation.created_at,
    "expires_at": Invitation.expires_at,
}


class InvitationService:
    def __init__(
        self,
        db: AsyncSession,
        users: UserService,
        auditor: Auditor,
        clock: WallClock,
        default_hours: int,
    ) -> None:
        self.db = db
        self.users = users
        self.auditor = auditor
        self.clock = clock
        self.default_hours = default_hours

    async def create(
        self, actor: User, scope: Scope, data: InvitationCreate
    ) -> tuple[Invitation, str]:
        """A new invitation and its code (returned once, stored hashed)."""
        if not scope.is_admin:
            if data.role is not UserRole.STUDENT:
                raise PermissionDenied("examiners may invite students only")
            if not scope.manages_college(data.college_type):
                raise PermissionDenied("examiners invite students to their own colleges only")
        if data.college_type is not None:
            await self.users.require_college(data.college_type)
        code = new_secret(18)
        hours = data.expires_in_hours or self.default_hours
        invitation = Invitation(
            code_hash=hash_secret(code),
            role=data.role,
            college_type=data.college_type,
            email=data.email.strip().lower() if data.email else None,
            created_by=actor.id,
            expires_at=self.clock() + dt.timedelta(hours=hours),
        )
        self.db.add(invitation)
        await self.db.flush()
        await self.auditor.record(
            "invitation.create",
            actor_id=actor.id,
            resource_type="invitation",
            resource_id=invitation.id,
            details={"role": data.role.value, "college_type": data.college_type},
        )
        return invitation, code

    async def search(self, scope: Scope, page: PageRequest) -> tuple[list[Invitation], int]:
        query = select(Invitation)
        if not scope.is_admin:
            query = query.where(Invitation.created_by == scope.user_id)
        query = query.order_by(*order_by(page.sort, SORTABLE, ["-created_at", "-id"]))
        return await fetch_page(self.db, query, page)

    async def revoke(self, actor: User, scope: Scope, invitation_id: int) -> None:
        invitation = await self.db.get(Invitation, invitation_id)
        if invitation is None or not (scope.is_admin or invitation.created_by == actor.id):
            raise NotFound(f"invitation {invitation_id} does not exist")
        if invitation.used_at is not None:
            raise Conflict("the invitation was already redeemed")
        await self.db.delete(invitation)
        await self.db.flush()
        await self.auditor.record(
            "invitation.revoke",
            actor_id=actor.id,
            resource_type="invitation",
            resource_id=invitation_id,
        )

    async def redeem(self, data: InvitationRedeem) -> User:
        now = self.clock()
        query = select(Invitation).where(Invitation.code_hash == hash_secret(data.code))
        invitation = (await self.db.scalars(query)).one_or_none()
        if invitation is None:
            raise NotFound("unknown invitation code")
        if invitation.used_at is not None:
            raise Conflict("the invitation was already redeemed")
        if now >= invitation.expires_at:
            raise ValidationFailed("the invitation has expired")
        if invitation.email and invitation.email != data.email.strip().lower():
            raise ValidationFailed("the invitation was made for another email address")
        college = invitation.college_type if invitation.role is UserRole.STUDENT else None
        user = await self.users.register(
            UserCreate(
                username=data.username,
                email=data.email,
                password=data.password,
                full_name=data.full_name,
                role=invitation.role,
                college_type=college,
            ),
            actor_id=None,
            action="invitation.redeem",
        )
        # Conditional: of two racing redemptions exactly one marks the code used.
        claimed = await self.db.execute(
            update(Invitation)
            .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
            .values(used_at=now, used_by=user.id),
            execution_options={"synchronize_session": False},
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            raise Conflict("the invitation was already redeemed")
        if invitation.role is UserRole.EXAMINER and invitation.college_type:
            await set_assigned_colleges(self.db, user.id, [invitation.college_type])
        return user
