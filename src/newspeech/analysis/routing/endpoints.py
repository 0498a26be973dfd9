"""Routing API: the scenario, report types and building type an analyst chose last (each
upload records them), to offer as the default on the next upload."""

from __future__ import annotations

from fastapi import APIRouter

from newspeech.analysis.routing.schemas import RoutingRead, RoutingUpdate
from newspeech.analysis.routing.service import RoutingDesk
from newspeech.auth.deps import AnalystUser, AuditorDep
from newspeech.db.deps import DbSession
from newspeech.kit.responses import COMMON_ERRORS, error_responses

router = APIRouter(prefix="/analysis/routing", tags=["analysis"], responses=COMMON_ERRORS)


@router.get("")
async def get_routing(user: AnalystUser, db: DbSession) -> RoutingRead:
    """Your last choice (all empty before your first upload)."""
    return await RoutingDesk(db).get(user.id)


@router.put("", responses=error_responses(404))
async def put_routing(
    body: RoutingUpdate, user: AnalystUser, db: DbSession, auditor: AuditorDep
) -> RoutingRead:
    """Set your default choice without uploading: a scenario, its report types and a building
    type, each known to the prompt registry (404 names one that is not). Audited."""
    chosen = await RoutingDesk(db).choose(
        user.id, body.scenario, body.report_types, body.building_type
    )
    await auditor.record(
        "analysis.routing.set",
        actor_id=user.id,
        resource_type="analysis_routing_choices",
        resource_id=user.id,
        details={
            "scenario": chosen.scenario,
            "report_types": chosen.report_types,
            "building_type": chosen.building_type,
        },
    )
    return chosen
