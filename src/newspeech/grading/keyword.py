"""Keyword graders: the seed's substring matcher (the baseline) and a better one.

:class:`SeedKeywordGrader` reproduces the seed exactly: each keyword *term* (no synonyms, no
weights) is looked up as a lower-case substring of the lower-cased answer; fraction =
matched / number of keywords; points = Python ``round(fraction * max_score)`` (half to even);
the band comes from the unrounded fraction.

:class:`KeywordGrader` finds concepts the way :mod:`newspeech.grading.matching` describes
(stems, synonyms, phrases, ASR slips, negation, numbers), weighs them (fraction = matched
weight / total weight), applies the gaming guards of :mod:`newspeech.grading.guards` and
rounds half up to whole points. Unlike the seed, it takes the band from the mark it gives
(:meth:`~newspeech.grading.protocols.GradingThresholds.classify_mark`), so a candidate told
8/10 is told "correct" under the default rule (correct >= 8, partial >= 5).

Both flag answers whose transcription confidence is below the configured threshold.

Confidence (0..1) is the product of: the ASR confidence (1 when unknown); the weakest fuzzy
match among the concepts credited (1 when all were exact); a margin factor from 0.5 on a band
boundary up to 1 at 0.15 or more away from it; and 0.5 when a gaming guard fired.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from newspeech.enums import EvaluatorType
from newspeech.errors import ValidationFailed
from newspeech.grading.feedback import with_feedback
from newspeech.grading.guards import StuffingPolicy, find_stuffing, strip_instructions
from newspeech.grading.matching import CompiledQuestion, ConceptMatch, ConceptMatcher
from newspeech.grading.protocols import (
    Grade,
    GradingQuestion,
    GradingThresholds,
    Keyword,
    ReviewReason,
)
from newspeech.grading.text import Analyser, Token

MARGIN_WIDTH = 0.15
"""Distance from a band boundary beyond which the band is not in doubt."""


def grade_confidence(
    fraction: float,
    thresholds: GradingThresholds,
    *,
    asr_confidence: float | None,
    certainty: float = 1.0,
    flagged: bool = False,
) -> float:
    boundary = min(abs(fraction - thresholds.correct), abs(fraction - thresholds.partial))
    margin = 0.5 + 0.5 * min(boundary / MARGIN_WIDTH, 1.0)
    asr = 1.0 if asr_confidence is None else asr_confidence
    value = margin * certainty * asr * (0.5 if flagged else 1.0)
    return round(min(max(value, 0.0), 1.0), 3)


def _check_asr(asr_confidence: float | None) -> None:
    if asr_confidence is not None and not 0.0 <= asr_confidence <= 1.0:
        raise ValidationFailed(f"asr_confidence {asr_confidence} is outside 0..1")


def _base_reasons(
    question: GradingQuestion, thresholds: GradingThresholds, asr_confidence: float | None
) -> list[str]:
    reasons: list[str] = []
    if asr_confidence is not None and asr_confidence < thresholds.asr_review_below:
        reasons.append(ReviewReason.LOW_ASR_CONFIDENCE)
    if not question.keywords:
        reasons.append(ReviewReason.NO_KEYWORDS)
    return reasons


def _by_importance(keywords: Sequence[Keyword]) -> tuple[str, ...]:
    """Terms, heaviest first, question order among equals (``sorted`` is stable)."""
    return tuple(k.term for k in sorted(keywords, key=lambda k: -k.weight))


class SeedKeywordGrader:
    """The seed's plain substring keyword matcher, kept as the baseline to beat."""

    evaluator = EvaluatorType.KEYWORD_MATCH

    def __init__(self, thresholds: GradingThresholds | None = None) -> None:
        self.thresholds = thresholds or GradingThresholds()

    def grade(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        _check_asr(asr_confidence)
        text = answer_transcript.lower()
        hits = [k for k in question.keywords if k.term.lower() in text]
        misses = [k for k in question.keywords if k not in hits]
        fraction = len(hits) / len(question.keywords) if question.keywords else 0.0
        feedback_type = self.thresholds.classify(fraction)
        score = round(fraction * question.max_score)
        reasons = tuple(_base_reasons(question, self.thresholds, asr_confidence))
        matched = tuple(k.term for k in hits)
        missing = _by_importance(misses)
        grade = Grade(
            score=score,
            max_score=question.max_score,
            fraction=fraction,
            feedback_type=feedback_type,
            matched=matched,
            missing=missing,
            confidence=grade_confidence(fraction, self.thresholds, asr_confidence=asr_confidence),
            review_reasons=reasons,
            evaluator=self.evaluator,
            details={"method": "seed substring"},
        )
        return with_feedback(grade, question.model_answer)


class KeywordGrader:
    """Weighted concept matching on stems, synonyms and phrases, robust to ASR slips,
    negation and gaming. Compiled questions are cached (thread-safe LRU)."""

    evaluator = EvaluatorType.KEYWORD_MATCH

    def __init__(
        self,
        thresholds: GradingThresholds | None = None,
        *,
        stuffing: StuffingPolicy | None = None,
        analyser: Analyser | None = None,
        cache_size: int = 512,
    ) -> None:
        self.thresholds = thresholds or GradingThresholds()
        self.stuffing = stuffing or StuffingPolicy()
        self.analyser = analyser or Analyser()
        self.matcher = ConceptMatcher(self.analyser)
        self.compile = functools.lru_cache(maxsize=cache_size)(self.matcher.compile)
        self.policy = functools.lru_cache(maxsize=cache_size)(self._policy)

    def _policy(self, question: GradingQuestion) -> StuffingPolicy:
        """The stuffing policy for ``question``: relaxed when its own model answer would be
        called a list (see :mod:`newspeech.grading.guards`)."""
        if not question.model_answer.strip():
            return self.stuffing
        compiled = self.compile(question)
        text, _ = strip_instructions(question.model_answer)
        tokens = self.matcher.tokens(compiled, text)
        if find_stuffing(tokens, self.matcher.match(compiled, tokens), self.stuffing).stuffed:
            return self.stuffing.for_dense_model_answer()
        return self.stuffing

    def grade(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        _check_asr(asr_confidence)
        compiled: CompiledQuestion = self.compile(question)
        text, instructions = strip_instructions(answer_transcript)
        tokens = self.matcher.tokens(compiled, text)
        matches = self.matcher.match(compiled, tokens)
        policy = self.policy(question)
        verdict = find_stuffing(tokens, matches, policy)

        total = question.total_weight
        earned = sum(m.keyword.weight for m in matches if m.matched)
        listed = sum(matches[k].keyword.weight for k in verdict.listed)
        raw = earned / total if total else 0.0
        fraction = raw
        if verdict.stuffed:
            fraction = max((earned - listed) / total, min(raw, policy.cap))
        # Half up, not Python's half-to-even: 4.5 points is 5, as a human marker would give.
        score = math.floor(fraction * question.max_score + 0.5 + 1e-9)
        feedback_type = self.thresholds.classify_mark(score, question.max_score)

        reasons = _base_reasons(question, self.thresholds, asr_confidence)
        if instructions:
            reasons.insert(0, ReviewReason.INSTRUCTION_IN_ANSWER)
        if verdict.stuffed:
            reasons.insert(0, ReviewReason.KEYWORD_STUFFING)
        matched = tuple(m.keyword.term for m in matches if m.matched)
        missing = _by_importance([m.keyword for m in matches if not m.matched])
        denied = tuple(m.keyword.term for m in matches if m.denied)
        certainty = min(
            (max(o.similarity for o in m.counted) for m in matches if m.matched), default=1.0
        )
        grade = Grade(
            score=score,
            max_score=question.max_score,
            fraction=fraction,
            feedback_type=feedback_type,
            matched=matched,
            missing=missing,
            confidence=grade_confidence(
                fraction,
                self.thresholds,
                asr_confidence=asr_confidence,
                certainty=certainty,
                flagged=bool(instructions) or verdict.stuffed,
            ),
            review_reasons=tuple(reasons),
            evaluator=self.evaluator,
            details=_details(matches, tokens, verdict.listed, instructions, raw, earned, total)
            | {"clause_ratio": round(verdict.clause_ratio, 3)},
        )
        return with_feedback(grade, question.model_answer, denied=denied)


def _details(
    matches: Sequence[ConceptMatch],
    tokens: Sequence[Token],
    listed: frozenset[int],
    instructions: Sequence[str],
    raw: float,
    earned: int,
    total: int,
) -> dict[str, Any]:
    evidence = []
    for match in matches:
        if not match.matched:
            continue
        best = max(match.counted, key=lambda o: o.similarity)
        heard = " ".join(t.text for t in tokens[best.positions[0] : best.positions[-1] + 1])
        evidence.append(
            {
                "concept": match.keyword.term,
                "weight": match.keyword.weight,
                "form": best.form,
                "heard": heard,
                "similarity": round(best.similarity, 3),
            }
        )
    return {
        "method": "keyword concepts",
        "evidence": evidence,
        "denied": [m.keyword.term for m in matches if m.denied],
        "listed": [matches[k].keyword.term for k in sorted(listed)],
        "instructions_removed": list(instructions),
        "fraction_before_caps": round(raw, 4),
        "weight_earned": earned,
        "weight_total": total,
    }
