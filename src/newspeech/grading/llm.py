"""Grading with a large language model, kept honest by the offline grader.

:class:`LLMGrader` asks an :class:`~newspeech.llm.LLMClient` for a verdict (the prompt of
:mod:`newspeech.grading.llm_prompt`: rubric, graded examples, the transcript as quoted data),
validates the JSON reply with pydantic and clamps its score to 0..10. It always grades the
answer offline too (in the inference pool), because the offline grade is both the fallback and
the bound:

- the LLM fails (timeout, connection, HTTP error after retries, not JSON, wrong shape): the
  offline grade is returned, flagged for review with the reason;
- the offline guards found instructions to the grader or keyword stuffing, the answer denies
  a key concept ("it is not X": the classic way to fool a marker that only looks for X), or
  the LLM itself reports an injection attempt: the LLM may not score above the offline grade;
- otherwise the LLM may lift the grade at most :data:`MAX_LIFT` above the offline evidence
  (an LLM sees paraphrases a keyword matcher misses, but a larger jump is exactly what a
  successful injection looks like); a larger disagreement goes to review.

With ``combine=True`` and a :class:`~newspeech.grading.hybrid.HybridGrader` offline, the LLM's
fraction becomes one more signal of the hybrid grade instead (evaluator ``hybrid``).

Only the question's own key concepts are ever echoed in feedback, never the model's free text,
so nothing a student smuggles through the LLM is read back aloud.

LLM graders are asynchronous (:class:`~newspeech.grading.protocols.AsyncGrader`): the network
call waits on the event loop, the offline work runs through ``run`` (the inference pool).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from newspeech.enums import EvaluatorType
from newspeech.errors import UpstreamError
from newspeech.grading.feedback import with_feedback
from newspeech.grading.hybrid import DISAGREEMENT, SIGNALS_DISAGREE, HybridGrader
from newspeech.grading.keyword import grade_confidence
from newspeech.grading.llm_prompt import OUTPUT_SCHEMA, LLMVerdict, grading_messages
from newspeech.grading.protocols import Grade, Grader, GradingQuestion, GradingThresholds
from newspeech.grading.protocols import ReviewReason as Reason
from newspeech.llm.client import LLMClient, parse_json_object

Runner = Callable[..., Awaitable[Any]]
"""Runs a synchronous callable off the event loop, like ``InferencePool.run``."""

MAX_LIFT = 0.4
LLM_UNAVAILABLE = "llm unavailable, offline grade"
LLM_INVALID = "llm answer invalid, offline grade"
GUARDED = (Reason.INSTRUCTION_IN_ANSWER, Reason.KEYWORD_STUFFING)


def regrade_feedback(grade: Grade, question: GradingQuestion, reasons: Sequence[str]) -> Grade:
    """``grade`` with ``reasons`` and its feedback texts rebuilt to mention them."""
    return with_feedback(replace(grade, review_reasons=tuple(reasons)), question.model_answer)


def denied_concepts(grade: Grade) -> list[str]:
    """Key concepts the offline grade saw the answer deny ("it is not a STEMI")."""
    details = grade.details.get("keyword", grade.details)
    denied = details.get("denied") if isinstance(details, dict) else None
    return [str(d) for d in denied] if isinstance(denied, list) else []


class LLMGrader:
    """An LLM's verdict, bounded by the offline grade and falling back to it."""

    evaluator = EvaluatorType.LLM_BASED

    def __init__(
        self,
        client: LLMClient,
        offline: Grader,
        *,
        thresholds: GradingThresholds | None = None,
        run: Runner | None = None,
        combine: bool = False,
        temperature: float = 0.0,
    ) -> None:
        self.client = client
        self.temperature = temperature
        """Sent with every request (the configuration's ``llm_temperature``)."""
        self.offline = offline
        self.thresholds = thresholds or GradingThresholds()
        self.run: Runner = run or asyncio.to_thread
        self.combine = combine and isinstance(offline, HybridGrader)

    async def grade_async(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        offline: Grade = await self.run(
            self.offline.grade, question, answer_transcript, asr_confidence=asr_confidence
        )
        try:
            completion = await self.client.complete(
                grading_messages(question, answer_transcript),
                json_schema=OUTPUT_SCHEMA,
                schema_name="oral_exam_grade",
                temperature=self.temperature,
                max_tokens=400,
            )
        except (UpstreamError, TimeoutError) as exc:
            detail = exc.detail if isinstance(exc, UpstreamError) else "timed out"
            return self._fallback(offline, question, LLM_UNAVAILABLE, detail)
        try:
            verdict = LLMVerdict.model_validate(parse_json_object(completion.content))
        except (ValueError, ValidationError) as exc:
            return self._fallback(offline, question, LLM_INVALID, str(exc)[:300])
        llm_fraction = min(max(verdict.score / 10.0, 0.0), 1.0)
        details: dict[str, Any] = {
            "model": completion.model,
            "raw_score": verdict.score,
            "injection_detected": verdict.injection_detected,
            "rationale": verdict.rationale[:500],
        }
        if self.combine and isinstance(self.offline, HybridGrader):
            hybrid: Grade = await self.run(
                self.offline.grade_with,
                question,
                answer_transcript,
                asr_confidence=asr_confidence,
                llm_fraction=llm_fraction,
                llm_details=details,
            )
            if (
                verdict.injection_detected
                and Reason.INSTRUCTION_IN_ANSWER not in hybrid.review_reasons
            ):
                hybrid = regrade_feedback(
                    hybrid, question, (*hybrid.review_reasons, Reason.INSTRUCTION_IN_ANSWER)
                )
            return hybrid
        return self._bounded(question, offline, verdict, llm_fraction, details, asr_confidence)

    def _bounded(
        self,
        question: GradingQuestion,
        offline: Grade,
        verdict: LLMVerdict,
        llm_fraction: float,
        details: dict[str, Any],
        asr_confidence: float | None,
    ) -> Grade:
        reasons = list(offline.review_reasons)
        guarded = (
            verdict.injection_detected
            or any(r in reasons for r in GUARDED)
            or bool(denied_concepts(offline))
        )
        if verdict.injection_detected and Reason.INSTRUCTION_IN_ANSWER not in reasons:
            reasons.append(Reason.INSTRUCTION_IN_ANSWER)
        cap = offline.fraction if guarded else min(offline.fraction + MAX_LIFT, 1.0)
        fraction = min(llm_fraction, cap)
        disagree = llm_fraction - offline.fraction > MAX_LIFT or (
            offline.fraction - llm_fraction > DISAGREEMENT
        )
        if disagree and SIGNALS_DISAGREE not in reasons:
            reasons.append(SIGNALS_DISAGREE)
        score = math.floor(fraction * question.max_score + 0.5 + 1e-9)
        feedback_type = self.thresholds.classify_mark(score, question.max_score)
        said = {m.casefold() for m in verdict.matched}
        matched = tuple(
            k.term
            for k in question.keywords
            if k.term in offline.matched or any(f.casefold() in said for f in k.forms)
        )
        missing = tuple(term for term in offline.missing if term not in matched)
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
                certainty=0.7 if disagree else 1.0,
                flagged=guarded,
            ),
            review_reasons=(),
            evaluator=self.evaluator,
            details={
                "method": "llm",
                "llm": details,
                "llm_fraction": round(llm_fraction, 4),
                "offline_fraction": round(offline.fraction, 4),
                "cap": round(cap, 4),
                "offline": offline.details,
            },
        )
        return regrade_feedback(grade, question, reasons)

    def _fallback(
        self, offline: Grade, question: GradingQuestion, reason: str, detail: str
    ) -> Grade:
        grade = regrade_feedback(offline, question, (*offline.review_reasons, reason))
        return replace(
            grade,
            confidence=round(grade.confidence * 0.8, 3),
            details={**offline.details, "llm_error": detail},
        )
