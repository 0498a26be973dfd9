from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from newspeech.auth.deps import AdminUser, CurrentUser
from newspeech.kit.ids import Id
from newspeech.kit.pagination import Page, PageRequest
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.models import UserRole, UserStatus
from newspeech.users.deps import UserServiceDep
from newspeech.users.schemas import (
    CollegeAssignment,
    CollegeAssignmentRead,
    ProfileUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)
from newspeech.users.service import UserFilter

router = APIRouter(prefix="/users", tags=["users"], responses=COMMON_ERRORS)


@router.get("")
async def list_users(
    _admin: AdminUser,
    service: UserServiceDep,
    page: Annotated[PageRequest, Query()],
    role: UserRole | None = None,
    status: UserStatus | None = None,
    college_type: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=100, description="in user name or email")] = None,
) -> Page[UserRead]:
    """Sortable by id, username, email, created_at, last_login."""
    users, total = await service.search(UserFilter(role, status, college_type, q), page)
    return Page(
        items=[UserRead.model_validate(u) for u in users],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, admin: AdminUser, service: UserServiceDep) -> UserRead:
    user = await service.register(body, actor_id=admin.id, action="user.create")
    return UserRead.model_validate(user)


@router.get("/me")
async def my_profile(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.patch("/me")
async def update_my_profile(
    body: ProfileUpdate, user: CurrentUser, service: UserServiceDep
) -> UserRead:
    return UserRead.model_validate(await service.update_profile(user, body))


@router.get("/{user_id}")
async def get_user(user_id: Id, _admin: AdminUser, service: UserServiceDep) -> UserRead:
    return UserRead.model_validate(await service.get(user_id))


@router.patch("/{user_id}")
async def update_user(
    user_id: Id, body: UserUpdate, admin: AdminUser, service: UserServiceDep
) -> UserRead:
    """Change role, status, name or college. A status other than active ends the account's
    sign-in sessions."""
    return UserRead.model_validate(await service.update(admin, user_id, body))


@router.delete("/{user_id}")
async def deactivate_user(user_id: Id, admin: AdminUser, service: UserServiceDep) -> UserRead:
    """Deactivate (never delete: results and audit rows keep their owner)."""
    return UserRead.model_validate(await service.deactivate(admin, user_id))


@router.get("/{user_id}/colleges")
async def get_user_colleges(
    user_id: Id, _admin: AdminUser, service: UserServiceDep
) -> CollegeAssignmentRead:
    return CollegeAssignmentRead(user_id=user_id, colleges=await service.colleges(user_id))


@router.put("/{user_id}/colleges")
async def assign_user_colleges(
    user_id: Id, body: CollegeAssignment, admin: AdminUser, service: UserServiceDep
) -> CollegeAssignmentRead:
    """The colleges an examiner may see (replaces the previous assignment)."""
    colleges = await service.assign_colleges(admin, user_id, body.colleges)
    return CollegeAssignmentRead(user_id=user_id, colleges=colleges)


@router.post("/{user_id}/unlock", status_code=status.HTTP_204_NO_CONTENT)
async def unlock_user(user_id: Id, admin: AdminUser, service: UserServiceDep) -> None:
    """Lift a sign-in lockout of the account."""
    await service.unlock(admin, user_id)
