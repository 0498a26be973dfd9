"""Fixtures the exam-service tests share: a small inference pool, a seeded medical student, and
the ``world`` of the tests that run ``newspeech serve`` as a process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.models import User
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.seed import seed_reference_data
from newspeech.voice.pool import InferencePool
from tests.exams.serve_process import world
from tests.fixtures.factories import make_user

__all__ = ["world"]  # a fixture: importing it here offers it to every module of tests/exams


@pytest.fixture(scope="module")
def pool() -> Iterator[InferencePool]:
    pool = InferencePool(workers=1)
    yield pool
    pool.close()


@pytest.fixture
async def student(db: AsyncSession) -> User:
    """Jane Doe, a medical student, with the medical bank seeded."""
    await seed_reference_data(db, banks=[load_bank(BANKS_DIR / "medical.yaml")])
    user = await make_user(db, college_type="medical")
    user.full_name = "Jane Doe"
    await db.commit()
    return user
