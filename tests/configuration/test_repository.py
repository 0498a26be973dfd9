from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor, ClientInfo
from newspeech.configuration.current import current_config
from newspeech.configuration.keys import ExamConfig
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.configuration.schemas import ConfigEntryWrite
from newspeech.configuration.service import ConfigurationService
from newspeech.configuration.values import SEED_DEFAULTS, parse_value
from newspeech.errors import ValidationFailed
from newspeech.models import ConfigValueType, UserRole
from newspeech.seed import seed_reference_data
from tests.fixtures.factories import make_user

SEED_VALUES = {
    "vad_sensitivity": 0.5,
    "max_question_duration_seconds": 120,
    "min_answer_duration_seconds": 3,
    "keyword_matching_threshold": 0.8,  # the seed documents: correct >= 8 of 10
    "asr_language": "en-US",
    "llm_temperature": 0.0,  # what the LLM grader has always sent
}


async def test_seed_defaults_are_stored_typed(db: AsyncSession) -> None:
    await seed_reference_data(db, banks=[])
    values = await ConfigurationRepository(db).values()
    assert {key: values[key] for key in SEED_VALUES} == SEED_VALUES
    assert type(values["max_question_duration_seconds"]) is int
    assert values["pass_percentage"] == 50.0
    assert values["grade_thresholds"] == {"A": 90, "B": 80, "C": 70, "D": 60}


async def test_set_keeps_the_type_and_validates_values(db: AsyncSession) -> None:
    await seed_reference_data(db, banks=[])
    repo = ConfigurationRepository(db)
    await repo.set("total_questions", 10)
    await repo.set("vad_sensitivity", "0.65")
    assert await repo.get("total_questions") == 10
    assert await repo.get("vad_sensitivity") == 0.65

    with pytest.raises(ValidationFailed, match="'total_questions': 'loud' is not a valid integer"):
        await repo.set("total_questions", "loud")
    with pytest.raises(ValidationFailed, match="not a whole number"):
        await repo.set("total_questions", 2.5)
    assert await repo.get("total_questions") == 10


async def test_creates_new_keys_of_every_type_and_lists_them(db: AsyncSession) -> None:
    repo = ConfigurationRepository(db)
    await repo.set("feature_on", True, value_type=ConfigValueType.BOOLEAN)
    await repo.set("weights", {"keyword": 0.4}, value_type=ConfigValueType.JSON)
    await repo.set("greeting", "Welcome", description="what the examiner says first")
    await db.commit()

    assert await repo.get("feature_on") is True
    assert await repo.get("weights") == {"keyword": 0.4}
    assert [e.config_key for e in await repo.list()] == ["feature_on", "greeting", "weights"]
    assert await repo.get("missing", default="fallback") == "fallback"


async def test_inactive_keys_fall_back_to_the_default(db: AsyncSession) -> None:
    repo = ConfigurationRepository(db)
    entry = await repo.set("silence_prompt_seconds", 5, value_type=ConfigValueType.FLOAT)
    entry.is_active = False
    await db.flush()
    assert await repo.get("silence_prompt_seconds", default=8) == 8
    assert "silence_prompt_seconds" not in await repo.values()
    assert [e.config_key for e in await repo.list(active_only=True)] == []


async def test_a_declared_key_written_when_absent_gets_its_declared_type_and_description(
    db: AsyncSession,
) -> None:
    admin = await make_user(db, role=UserRole.ADMIN, college_type=None)
    service = ConfigurationService(db, Auditor(db, ClientInfo()))

    entry = await service.write(admin, "vad_sensitivity", ConfigEntryWrite(value=0.6))

    assert entry.value_type is ConfigValueType.FLOAT
    assert entry.description == ExamConfig.model_fields["vad_sensitivity"].description
    with pytest.raises(ValidationFailed, match=r"within 0\.\.1"):
        await service.write(admin, "vad_sensitivity", ConfigEntryWrite(value=1.5))
    with pytest.raises(ValidationFailed, match="language tag"):
        await service.write(admin, "asr_language", ConfigEntryWrite(value="English please"))
    assert (await current_config(db)).vad_sensitivity == 0.6


def test_every_declared_key_is_seeded_with_its_default() -> None:
    seeded = {d.key: parse_value(d.key, d.value, d.value_type) for d in SEED_DEFAULTS}
    assert ExamConfig.from_values(seeded) == ExamConfig()
    assert set(seeded) == set(ExamConfig.model_fields)
    assert all(d.description for d in SEED_DEFAULTS)


async def test_seeding_again_adds_missing_keys_and_keeps_the_stored_values(
    db: AsyncSession,
) -> None:
    """The seed stores every default in one statement; a key already stored keeps its value."""
    repo = ConfigurationRepository(db)
    await repo.set("total_questions", 10, value_type=ConfigValueType.INTEGER)
    await seed_reference_data(db, banks=[])
    await seed_reference_data(db, banks=[])
    values = await repo.values()
    assert values["total_questions"] == 10
    assert set(values) == {default.key for default in SEED_DEFAULTS}
    assert len(await repo.list()) == len(SEED_DEFAULTS)
