"""The SemEval-2013 loader now lives in the package (the hybrid grader's fit uses it)."""

from newspeech.grading.derive import derive_keywords
from newspeech.grading.semeval import (
    DATA,
    SPLITS,
    TRAINING,
    SemEvalQuestion,
    grading_questions,
    load_split,
)

__all__ = [
    "DATA",
    "SPLITS",
    "TRAINING",
    "SemEvalQuestion",
    "derive_keywords",
    "grading_questions",
    "load_split",
]
