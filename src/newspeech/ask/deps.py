from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from newspeech.ask.repository import ReadOnlyRunner
from newspeech.ask.service import AskService
from newspeech.auth.deps import AuditorDep
from newspeech.db.deps import EngineDep, SettingsDep
from newspeech.llm.client import LLMClient


def get_ask_llm(request: Request) -> LLMClient | None:
    """The chat client questions are written with (``NEWSPEECH_LLM_*``), or None."""
    client: LLMClient | None = getattr(request.app.state, "ask_llm", None)
    return client


AskLLM = Annotated[LLMClient | None, Depends(get_ask_llm)]


def get_ask_service(
    request: Request, engine: EngineDep, settings: SettingsDep, auditor: AuditorDep, llm: AskLLM
) -> AskService:
    # NEWSPEECH_ASK_DATABASE_URL's login when configured, else the application's.
    ask_engine = getattr(request.app.state, "ask_engine", None) or engine
    runner = ReadOnlyRunner(ask_engine, timeout_seconds=settings.ask_timeout_seconds)
    return AskService(runner, auditor, llm)


AskServiceDep = Annotated[AskService, Depends(get_ask_service)]
