from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from newspeech.auth.deps import AdminUser, AuditorDep, CurrentUser
from newspeech.colleges.schemas import CollegeTypeCreate, CollegeTypeRead, CollegeTypeUpdate
from newspeech.colleges.service import CollegeTypeService
from newspeech.db.deps import DbSession
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/college-types", tags=["college types"], responses=COMMON_ERRORS)

CodePath = Annotated[str, Path(max_length=50)]


def get_service(db: DbSession, auditor: AuditorDep) -> CollegeTypeService:
    return CollegeTypeService(db, auditor)


ServiceDep = Annotated[CollegeTypeService, Depends(get_service)]


@router.get("")
async def list_college_types(_user: CurrentUser, service: ServiceDep) -> list[CollegeTypeRead]:
    return [CollegeTypeRead.model_validate(c) for c in await service.all()]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_college_type(
    body: CollegeTypeCreate, admin: AdminUser, service: ServiceDep
) -> CollegeTypeRead:
    return CollegeTypeRead.model_validate(await service.create(admin, body))


@router.get("/{code}")
async def get_college_type(
    code: CodePath, _user: CurrentUser, service: ServiceDep
) -> CollegeTypeRead:
    return CollegeTypeRead.model_validate(await service.get(code))


@router.patch("/{code}")
async def update_college_type(
    code: CodePath, body: CollegeTypeUpdate, admin: AdminUser, service: ServiceDep
) -> CollegeTypeRead:
    return CollegeTypeRead.model_validate(await service.update(admin, code, body))
