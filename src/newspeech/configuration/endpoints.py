from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from newspeech.auth.deps import AdminUser, AuditorDep
from newspeech.configuration.schemas import ConfigEntryRead, ConfigEntryWrite
from newspeech.configuration.service import ConfigurationService, to_read
from newspeech.db.deps import DbSession
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/configuration", tags=["configuration"], responses=COMMON_ERRORS)

KeyPath = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[a-z][a-z0-9_.]*$")]


def get_service(db: DbSession, auditor: AuditorDep, _admin: AdminUser) -> ConfigurationService:
    return ConfigurationService(db, auditor)


ServiceDep = Annotated[ConfigurationService, Depends(get_service)]


@router.get("")
async def list_configuration(service: ServiceDep) -> list[ConfigEntryRead]:
    return [to_read(e) for e in await service.all()]


@router.get("/{key}")
async def get_configuration(key: KeyPath, service: ServiceDep) -> ConfigEntryRead:
    return to_read(await service.get(key))


@router.put("/{key}")
async def write_configuration(
    key: KeyPath, body: ConfigEntryWrite, admin: AdminUser, service: ServiceDep
) -> ConfigEntryRead:
    """Set a key; the value is checked against the key's type and allowed range."""
    return to_read(await service.write(admin, key, body))
