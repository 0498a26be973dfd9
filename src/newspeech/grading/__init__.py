"""Pure scoring of transcribed answers behind one :class:`Grader` protocol.

No I/O, no database, no event loop: graders take a :class:`GradingQuestion` and a transcript and
return a :class:`Grade`, fast enough to run per answer in the inference pool: keyword graders
(:mod:`.keyword`), semantic signals on MiniLM (:mod:`.semantic`, :mod:`.embeddings`), the
fitted hybrid grader (:mod:`.hybrid`, weights by :mod:`.fit`). The LLM grader (:mod:`.llm`) is
awaited instead (:class:`AsyncGrader`); :func:`.factory.build_grader` builds the configured one.
"""

from newspeech.grading.guards import StuffingPolicy
from newspeech.grading.keyword import KeywordGrader, SeedKeywordGrader
from newspeech.grading.protocols import (
    AsyncGrader,
    Grade,
    Grader,
    GradingQuestion,
    GradingThresholds,
    Keyword,
    ReviewReason,
)

__all__ = [
    "AsyncGrader",
    "Grade",
    "Grader",
    "GradingQuestion",
    "GradingThresholds",
    "Keyword",
    "KeywordGrader",
    "ReviewReason",
    "SeedKeywordGrader",
    "StuffingPolicy",
]
