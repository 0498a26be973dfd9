"""Asking the data (issue 18): ``POST /ask`` and ``GET /ask/catalogue``, for examiners, analysts
and admins (each reads what their row filter allows)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from newspeech.ask import curated
from newspeech.ask.catalogue import CATALOGUE
from newspeech.ask.deps import AskerUser, AskLLM, AskServiceDep
from newspeech.ask.schemas import (
    AskRead,
    AskRequest,
    CatalogueRead,
    ColumnRead,
    CuratedRead,
    ParameterRead,
    ViewRead,
)
from newspeech.ask.service import record_refusal, row_filter
from newspeech.auth.deps import ScopeDep, client_info
from newspeech.db.deps import SettingsDep
from newspeech.errors import QueryRefused
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/ask", tags=["ask"], responses=COMMON_ERRORS)


@router.post("")
async def ask(
    request: Request,
    body: AskRequest,
    service: AskServiceDep,
    settings: SettingsDep,
    _user: AskerUser,
    scope: ScopeDep,
) -> AskRead:
    """Answer a question with rows from the published views: a plain-language ``question``
    (written as SQL by the LLM) or a ``curated`` one. The SQL is checked, limited to the
    caller's colleges, run read-only and recorded in the audit log (refusals too)."""
    try:
        if body.curated is not None:
            answer = await service.ask_curated(body.curated, body.parameters, scope)
        else:
            answer = await service.ask(body.question or "", scope)
    except QueryRefused as refused:
        await record_refusal(
            request.app.state.sessionmaker,
            client_info(request),
            user_id=scope.user_id,
            question=body.question or body.curated or "",
            proposed=service.proposed,
            code=refused.code,
            enabled=settings.enable_audit_logs,
        )
        request.state.audited = True
        raise
    return AskRead(
        question=answer.question,
        sql=answer.sql,
        columns=answer.columns,
        rows=answer.rows,
        row_count=len(answer.rows),
        chart=answer.chart,
        source=answer.source,
    )


@router.get("/catalogue")
async def catalogue(_user: AskerUser, scope: ScopeDep, llm: AskLLM) -> CatalogueRead:
    """The views the caller's questions may read, their columns, and the curated questions
    the caller may ask (exam data for examiners, recording analysis for analysts, both for
    admins)."""
    rows = row_filter(scope)
    views = [
        ViewRead(
            name=view.name,
            description=view.description,
            visibility=view.visibility.value,
            columns=[
                ColumnRead(name=c.name, type=c.type, description=c.description)
                for c in view.columns
            ],
        )
        for view in CATALOGUE
        if rows.may_read(view.name)
    ]
    questions = [
        CuratedRead(
            key=q.key,
            title=q.title,
            parameters=list(q.parameters),
            inputs=[
                ParameterRead(name=p.name, kind=p.kind, label=p.label, choices=list(p.choices))
                for p in q.inputs
            ],
            chart=q.chart,
        )
        for q in curated.CURATED
        if q.for_rows(rows)
    ]
    return CatalogueRead(views=views, curated=questions, llm_configured=llm is not None)
