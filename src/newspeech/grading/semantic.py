"""Semantic signals from sentence embeddings, and a grader on similarity alone.

Signals for one answer (:class:`SemanticSignals`, all cosines of unit vectors, -1..1):

- ``similarity``: the whole answer against the whole model answer;
- ``coverage``: the model answer's sentences are its key points; each is credited with its best
  match among the answer's chunks (sentences, long ones cut into overlapping windows), and
  coverage is their mean. A long answer that states each point somewhere covers them all, even
  when its whole-answer vector drifts;
- ``keypoint_coverage``: the same for the question's key concepts (keyword terms), weighted;
- ``question_similarity``: the answer against the question (students who repeat the question
  are close to it without answering it);
- ``question_model_similarity``: the question against the model answer (no answer involved): the
  similarity an answer gets for restating the question. Some model answers are close to their
  question's words and some are not, so the raw ``similarity`` means more on one question than
  on another; the hybrid grader's ``similarity_gain`` subtracts this (0 without a model answer).

The question's side (model answer, its sentences, the keywords) is embedded once per question
and cached by the embedder. Each answer costs one forward pass: its chunks' vectors are pooled
from the same pass (:meth:`~newspeech.grading.embeddings.MiniLMEmbedder.embed_spans`).

:class:`SemanticGrader` maps the similarity to the model answer to a fraction linearly between
:data:`FLOOR` and :data:`CEILING`. Public data (SemEval-2013) shows similarity alone is a weak
grader; it is here as a signal for :mod:`newspeech.grading.hybrid` and as a benchmark row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from newspeech.enums import EvaluatorType
from newspeech.grading.embeddings import Embedder, Vectors
from newspeech.grading.feedback import with_feedback
from newspeech.grading.guards import strip_instructions
from newspeech.grading.keyword import grade_confidence
from newspeech.grading.protocols import Grade, GradingQuestion, GradingThresholds, ReviewReason

WINDOW_WORDS = 14
"""Sentences longer than this are also read as overlapping windows of this many words."""
WINDOW_STRIDE = 7
MAX_CHUNKS = 24
"""A bound on the batch per answer: very long answers are read in wider steps."""
FLOOR = 0.2
CEILING = 0.8
"""Similarities at or below FLOOR earn nothing; at or above CEILING, everything."""

_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]*")
_WORD = re.compile(r"\S+")


def chunk_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the answer's sentences, long ones also as overlapping word windows
    (spoken answers often come back from ASR as one long unpunctuated sentence)."""
    spans: list[tuple[int, int]] = []
    for sentence in _SENTENCE.finditer(text):
        words = list(_WORD.finditer(sentence.group()))
        if not words:
            continue
        base = sentence.start()
        spans.append((base + words[0].start(), base + words[-1].end()))
        if len(words) > WINDOW_WORDS:
            last = len(words) - WINDOW_WORDS
            for first in [*range(0, last, WINDOW_STRIDE), last]:
                window = words[first : first + WINDOW_WORDS]
                spans.append((base + window[0].start(), base + window[-1].end()))
    unique = list(dict.fromkeys(spans))
    if len(unique) > MAX_CHUNKS:
        step = math.ceil(len(unique) / MAX_CHUNKS)
        unique = unique[::step]
    return unique


def chunks(text: str) -> list[str]:
    """The texts of :func:`chunk_spans`."""
    return [text[a:b] for a, b in chunk_spans(text)]


@dataclass(frozen=True)
class SemanticSignals:
    similarity: float
    coverage: float
    keypoint_coverage: float
    question_similarity: float
    keypoints: tuple[tuple[str, float], ...]
    """Each key concept with its best similarity in the answer, question order."""
    question_model_similarity: float = 0.0
    """The question text against the model answer (0 when there is no model answer)."""


class SemanticScorer:
    """Computes :class:`SemanticSignals` with a shared :class:`Embedder`."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def prepare(self, question: GradingQuestion) -> None:
        """Embed the question's side now (when the question is asked), so grading the
        answer later only runs the model on the answer."""
        self._question_side(question)

    def _question_side(self, question: GradingQuestion) -> tuple[list[str], list[str], Vectors]:
        model_points = chunks(question.model_answer) or [question.model_answer or question.text]
        terms = [k.term for k in question.keywords]
        vectors = self.embedder.embed(
            [question.model_answer or question.text, question.text, *model_points, *terms]
        )
        return model_points, terms, vectors

    def signals(self, question: GradingQuestion, answer: str) -> SemanticSignals:
        model_points, terms, question_side = self._question_side(question)
        whole_model, asked = question_side[0], question_side[1]
        points = question_side[2 : 2 + len(model_points)]
        term_vectors = question_side[2 + len(model_points) :]

        restated = float(asked @ whole_model) if question.model_answer else 0.0
        spans = chunk_spans(answer)
        if not spans:
            return SemanticSignals(0.0, 0.0, 0.0, 0.0, tuple((t, 0.0) for t in terms), restated)
        whole_answer, parts = self.embedder.embed_spans(answer, spans)

        coverage = float(_best(points, parts).mean())
        keypoints: tuple[tuple[str, float], ...] = ()
        keypoint_coverage = coverage
        if terms:
            best = _best(term_vectors, parts)
            weights = np.array([k.weight for k in question.keywords], dtype=np.float32)
            keypoint_coverage = float((best * weights).sum() / weights.sum())
            keypoints = tuple((t, round(float(b), 4)) for t, b in zip(terms, best, strict=True))
        return SemanticSignals(
            similarity=float(whole_answer @ whole_model),
            coverage=coverage,
            keypoint_coverage=keypoint_coverage,
            question_similarity=float(whole_answer @ asked),
            keypoints=keypoints,
            question_model_similarity=restated,
        )


def _best(targets: Vectors, parts: Vectors) -> Vectors:
    """For each target row, its highest cosine with any row of ``parts``."""
    if not len(targets):
        return np.zeros(0, dtype=np.float32)
    result: Vectors = (targets @ parts.T).max(axis=1)
    return result


def similarity_fraction(similarity: float) -> float:
    return min(max((similarity - FLOOR) / (CEILING - FLOOR), 0.0), 1.0)


class SemanticGrader:
    """Credit from the answer's similarity to the model answer alone (a baseline)."""

    evaluator = EvaluatorType.HYBRID

    def __init__(self, embedder: Embedder, thresholds: GradingThresholds | None = None) -> None:
        self.scorer = SemanticScorer(embedder)
        self.thresholds = thresholds or GradingThresholds()

    def grade(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        text, instructions = strip_instructions(answer_transcript)
        signals = self.scorer.signals(question, text)
        fraction = similarity_fraction(signals.similarity)
        score = math.floor(fraction * question.max_score + 0.5 + 1e-9)
        feedback_type = self.thresholds.classify_mark(score, question.max_score)
        reasons: list[str] = []
        if instructions:
            reasons.append(ReviewReason.INSTRUCTION_IN_ANSWER)
        if asr_confidence is not None and asr_confidence < self.thresholds.asr_review_below:
            reasons.append(ReviewReason.LOW_ASR_CONFIDENCE)
        missing = tuple(term for term, best in signals.keypoints if best < 0.5)
        matched = tuple(term for term, best in signals.keypoints if best >= 0.5)
        grade = Grade(
            score=score,
            max_score=question.max_score,
            fraction=fraction,
            feedback_type=feedback_type,
            matched=matched,
            missing=missing,
            confidence=grade_confidence(fraction, self.thresholds, asr_confidence=asr_confidence),
            review_reasons=tuple(reasons),
            evaluator=self.evaluator,
            details={
                "method": "semantic similarity",
                "similarity": round(signals.similarity, 4),
                "coverage": round(signals.coverage, 4),
                "keypoint_coverage": round(signals.keypoint_coverage, 4),
            },
        )
        return with_feedback(grade, question.model_answer)
