"""A sitting's measured turns and graded answers reach the Prometheus histograms."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.service import ExamConversation
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import User
from newspeech.observability.metrics import Metrics
from newspeech.observability.timed import TimedGrader
from newspeech.voice.pool import InferencePool
from tests.exams.plans import FakeClock
from tests.exams.test_service import MODEL_ANSWERS, Candidate, confirm


def samples(metrics: Metrics) -> dict[str, float]:
    exposition = metrics.exposition().decode()
    return {
        s.name: float(s.value)
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if not s.labels
    }


async def test_measured_turns_and_grading_fill_the_histograms(
    sessionmaker: async_sessionmaker[AsyncSession], pool: InferencePool, student: User
) -> None:
    metrics = Metrics()
    clock = FakeClock()
    deps = ExamDependencies(
        sessionmaker=sessionmaker,
        grader=TimedGrader(PooledGrader(KeywordGrader(), pool.run), metrics),
        clock=clock,
        on_turn_measured=metrics.observe_turn,
    )
    candidate = Candidate(await ExamConversation.start(deps, student, "medical"), clock)
    await confirm(candidate)  # the identity check: a measured turn, nothing graded
    await candidate.say(MODEL_ANSWERS[0])
    values = samples(metrics)
    assert values["newspeech_turn_response_seconds_count"] == 2.0
    # Candidate.say: the turn is declared 0.3 s after speech ends, audio 0.2 s after that.
    assert values["newspeech_turn_response_seconds_sum"] == pytest.approx(0.4)
    assert values["newspeech_turn_voice_to_voice_seconds_sum"] == pytest.approx(1.0)
    assert values["newspeech_grading_seconds_count"] == 1.0
