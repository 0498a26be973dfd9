from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from newspeech.ask.repository import ReadOnlyRunner
from newspeech.ask.service import AskService
from newspeech.auth.deps import AuditorDep, CurrentUser
from newspeech.errors import PermissionDenied
from newspeech.llm.client import LLMClient
from newspeech.models import User, UserRole

ASKERS = frozenset({UserRole.EXAMINER, UserRole.ANALYST, UserRole.ADMIN})


def get_asker(user: CurrentUser) -> User:
    """Examiners (exam data of their colleges), analysts (recording analysis) and admins
    (both): what each may read is the row filter's business (``service.row_filter``)."""
    if user.role not in ASKERS:
        raise PermissionDenied("examiners, analysts and admins only")
    return user


AskerUser = Annotated[User, Depends(get_asker)]


def get_ask_llm(request: Request) -> LLMClient | None:
    """The chat client questions are written with (``NEWSPEECH_LLM_*``), or None."""
    client: LLMClient | None = getattr(request.app.state, "ask_llm", None)
    return client


AskLLM = Annotated[LLMClient | None, Depends(get_ask_llm)]


def get_ask_runner(request: Request) -> ReadOnlyRunner:
    """The process's runner (built in the lifespan, on NEWSPEECH_ASK_DATABASE_URL's login when
    configured, else the application's)."""
    runner: ReadOnlyRunner = request.app.state.ask_runner
    return runner


def get_ask_service(
    runner: Annotated[ReadOnlyRunner, Depends(get_ask_runner)], auditor: AuditorDep, llm: AskLLM
) -> AskService:
    return AskService(runner, auditor, llm)


AskServiceDep = Annotated[AskService, Depends(get_ask_service)]
