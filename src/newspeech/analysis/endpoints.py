"""The prompt registry's read API for admins: prompts, their versions, diffs between versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from newspeech.analysis.schemas import (
    PromptDiffRead,
    PromptRead,
    PromptVersionRead,
    RegistryEntryRead,
)
from newspeech.analysis.service import CatalogueEntry, CatalogueFilter, PromptRegistry
from newspeech.auth.deps import AdminUser
from newspeech.db.deps import DbSession
from newspeech.kit.ids import Id
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/analysis/prompts", tags=["analysis"], responses=COMMON_ERRORS)

VersionNumber = Annotated[int, Query(ge=1, le=2_147_483_647)]
KeyQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


def get_registry(db: DbSession, _admin: AdminUser) -> PromptRegistry:
    return PromptRegistry(db)


RegistryDep = Annotated[PromptRegistry, Depends(get_registry)]


@router.get("")
async def list_prompts(
    registry: RegistryDep,
    scenario: KeyQuery = None,
    report_type: KeyQuery = None,
    building_type: KeyQuery = None,
    include_retired: bool = False,
) -> list[PromptRead]:
    """The registry's prompts in chain order (scenario, report type, building type,
    ``run_part``), filtered by keys (``interview``, ``site-audit``, ``hotel``)."""
    wanted = CatalogueFilter(scenario, report_type, building_type, include_retired)
    return [_prompt_read(entry) for entry in await registry.catalogue(wanted)]


@router.get("/{prompt_id}/versions")
async def list_prompt_versions(prompt_id: Id, registry: RegistryDep) -> list[PromptVersionRead]:
    """Every version of the prompt, oldest first; none is ever changed or deleted."""
    return [PromptVersionRead.model_validate(v) for v in await registry.versions(prompt_id)]


@router.get("/{prompt_id}/diff")
async def diff_prompt_versions(
    prompt_id: Id,
    registry: RegistryDep,
    from_version: VersionNumber,
    to_version: VersionNumber,
) -> PromptDiffRead:
    """What changed in the prompt's text (and whether its JSON Schema changed) between two
    versions."""
    return PromptDiffRead.model_validate(await registry.diff(prompt_id, from_version, to_version))


def _prompt_read(entry: CatalogueEntry) -> PromptRead:
    return PromptRead(
        id=entry.prompt.id,
        scenario=RegistryEntryRead.model_validate(entry.scenario),
        report_type=RegistryEntryRead.model_validate(entry.report_type),
        building_type=RegistryEntryRead.model_validate(entry.building_type),
        run_part=entry.prompt.run_part,
        title=entry.prompt.title,
        is_active=entry.prompt.is_active,
        latest_version=entry.latest.version if entry.latest else 0,
        returns_json=bool(entry.latest and entry.latest.returns_json),
    )
