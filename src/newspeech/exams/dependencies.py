"""What every live sitting in the process shares (built once by the app, passed to each)."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.service import AnswerAudioRecorder
from newspeech.configuration.keys import ExamConfig
from newspeech.db.base import utcnow
from newspeech.exams.lease import LeasePolicy
from newspeech.grading import AsyncGrader
from newspeech.results.mailer import ResultMailer
from newspeech.results.service import StatisticsCache
from newspeech.voice.terms import TermCorrector


@dataclass(frozen=True)
class OutagePolicy:
    """How a live sitting rides out a database outage (``newspeech.exams.outage``)."""

    wait_seconds: float = 120.0
    """The longest it waits where it must (before its result, or with its buffer full)."""
    retry_seconds: float = 2.0
    held_answers: int = 12


@dataclass(frozen=True)
class ExamDependencies:
    """What every sitting in the process shares. ``clock`` is the session loop's monotonic
    clock (the one :class:`TurnTimings` are measured on); ``wall_clock`` stamps stored rows."""

    sessionmaker: async_sessionmaker[AsyncSession]
    grader: AsyncGrader
    """Grades every sitting, unless ``grader_for`` is given."""
    grader_for: Callable[[ExamConfig], AsyncGrader] | None = None
    """The grader for a sitting's configuration (its thresholds and LLM temperature)."""
    audit_enabled: bool = True
    result_cache: StatisticsCache | None = None
    result_mailer: ResultMailer | None = None
    """Mails each student their result once the sitting ends (none: result e-mails are off)."""
    audio: AnswerAudioRecorder | None = None
    """Keeps each answer's recording (none: recordings are not kept)."""
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], dt.datetime] = utcnow
    rng: random.Random = field(default_factory=random.SystemRandom)
    """Chooses each sitting's cases when the bank holds more than ``total_questions``."""
    terms: TermCorrector | None = None
    """Reads the question's terms back into what was heard before it is graded (none: answers
    are graded as heard). The raw transcript is stored beside the corrected one."""
    on_turn_measured: Callable[[Mapping[str, float]], None] | None = None
    """Told each answered turn's latency figures in ms (the metrics' histograms)."""
    outage: OutagePolicy = field(default_factory=OutagePolicy)
    lease: LeasePolicy = field(default_factory=LeasePolicy)
    """The sitting lease (``newspeech.exams.lease``): one loop per sitting, across nodes."""
