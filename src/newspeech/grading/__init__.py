"""Pure scoring of transcribed answers behind one :class:`Grader` protocol.

No I/O, no database, no event loop: graders take a :class:`GradingQuestion` and a transcript and
return a :class:`Grade`, fast enough to run per answer in the inference pool. Keyword graders
live here now; semantic, LLM and hybrid graders implement the same protocol.
"""

from newspeech.grading.guards import StuffingPolicy
from newspeech.grading.keyword import KeywordGrader, SeedKeywordGrader
from newspeech.grading.protocols import (
    Grade,
    Grader,
    GradingQuestion,
    GradingThresholds,
    Keyword,
    ReviewReason,
)

__all__ = [
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
