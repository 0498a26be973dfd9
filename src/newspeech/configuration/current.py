"""The one way to read the exam configuration as it stands: typed, defaults filled in."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.configuration.keys import ExamConfig
from newspeech.configuration.repository import ConfigurationRepository


async def current_config(db: AsyncSession) -> ExamConfig:
    """The values stored now (active keys; defaults for the rest). A new sitting stores these
    and keeps them; overrides and regrades use them."""
    return ExamConfig.from_values(await ConfigurationRepository(db).values())
