"""Examiner review benchmark: regrade of one question over 1000 stored answers, and overrides.

    scripts/bench review                                 # all backends, 1000 answers
    scripts/bench review --backends sqlite --answers 200 --grader hybrid

Per backend, on a fresh database with the shipped medical bank: N finished sittings of 12
answers each (the benchmarked question's answers graded by the real grader, 5 % of them
overridden by hand; the other answers a fixed 6/10), results stored. Then the question's
keywords change and the regrade service runs as the API runs it (grader in the inference pool,
one transaction): the dry run (median of ``--runs``), and applying (keywords switched back and
forth between runs so every apply changes scores and results). Last, ``--overrides`` overrides
one at a time, each its own transaction (evaluation, result re-summed, audit row): p50 / p95.
Prints a table and writes JSON to bench/results/review.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.fixtures.databases import BACKENDS, fresh_database_url

from newspeech import __version__
from newspeech.audits.service import Auditor, ClientInfo
from newspeech.auth.scope import Scope
from newspeech.config import Settings
from newspeech.db.base import utcnow
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.migrations import upgrade
from newspeech.grading import AsyncGrader
from newspeech.grading.factory import build_grader
from newspeech.kit.ids import new_session_code
from newspeech.models import (
    Answer,
    Evaluation,
    EvaluatorType,
    ExamSession,
    FeedbackType,
    Question,
    Result,
    SessionStatus,
    User,
    UserRole,
)
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.results.rules import QuestionScore, ResultPolicy, summarise
from newspeech.review.regrade import grading_question, regrade_question
from newspeech.review.service import ReviewService
from newspeech.seed import seed_reference_data
from newspeech.voice.pool import InferencePool

RESULTS = Path(__file__).resolve().parent / "results"
_BANK = load_bank(BANKS_DIR / "medical.yaml")
POLICY = ResultPolicy()


def _answers_for(question: Question, n: int) -> list[str]:
    """A spread of answers: the model answer, its first sentence, half of it, a miss."""
    model = question.model_answer or question.question_text
    first = model.split(". ")[0]
    half = " ".join(model.split()[: max(3, len(model.split()) // 2)])
    forms = [model, first, half, "I am not sure, I would ask a senior."]
    return [forms[i % len(forms)] for i in range(n)]


async def _prepare(
    sessionmaker: async_sessionmaker[AsyncSession], grader: AsyncGrader, n: int
) -> tuple[Question, list[int], User]:
    async with unit_of_work(sessionmaker) as db:
        await seed_reference_data(db, banks=[_BANK])
        questions = list(
            await db.scalars(
                select(Question)
                .where(Question.college_type == "medical")
                .order_by(Question.scenario_id, Question.question_number)
            )
        )
        target = questions[0]
        student = User(
            username="bench-student",
            email="s@example.org",
            password_hash="x",
            full_name="Bench Student",
            role=UserRole.STUDENT,
            college_type="medical",
        )
        examiner = User(
            username="bench-examiner",
            email="e@example.org",
            password_hash="x",
            full_name="Bench Examiner",
            role=UserRole.EXAMINER,
        )
        db.add_all([student, examiner])
        await db.flush()
        now = utcnow()
        sessions = list(
            await db.scalars(
                insert(ExamSession).returning(ExamSession.id),
                [
                    {
                        "user_id": student.id,
                        "college_type": "medical",
                        "session_code": new_session_code(),
                        "status": SessionStatus.COMPLETED,
                        "questions_answered": 12,
                        "start_time": now,
                        "end_time": now,
                    }
                    for _ in range(n)
                ],
            )
        )
        texts = _answers_for(target, n)
        grading = grading_question(target)
        grades = await asyncio.gather(
            *(grader.grade_async(grading, text, asr_confidence=0.9) for text in texts)
        )
        target_answers: list[int] = []
        for index, session_id in enumerate(sessions):
            rows = [
                {
                    "session_id": session_id,
                    "question_bank_id": q.id,
                    "question_number": number,
                    "question_text": q.question_text,
                    "transcribed_text": texts[index] if q.id == target.id else "an answer",
                    "answer_text": texts[index] if q.id == target.id else "an answer",
                    "confidence_score": 0.9,
                    "is_complete": True,
                }
                for number, q in enumerate(questions, start=1)
            ]
            answer_ids = list(await db.scalars(insert(Answer).returning(Answer.id), rows))
            target_answers.append(answer_ids[0])
            grade = grades[index]
            manual = index % 20 == 0
            evaluations = [
                {
                    "answer_id": answer_id,
                    "session_id": session_id,
                    "evaluator_type": EvaluatorType.MANUAL
                    if manual and number == 1
                    else grade.evaluator
                    if number == 1
                    else EvaluatorType.KEYWORD_MATCH,
                    "score_obtained": grade.score if number == 1 else 6,
                    "max_score": 10,
                    "percentage_correct": 10.0 * (grade.score if number == 1 else 6),
                    "feedback_type": grade.feedback_type if number == 1 else FeedbackType.CORRECT,
                }
                for number, answer_id in enumerate(answer_ids, start=1)
            ]
            await db.execute(insert(Evaluation), evaluations)
            summary = summarise(
                [
                    QuestionScore(number, int(str(e["score_obtained"])))
                    for number, e in enumerate(evaluations, start=1)
                ],
                POLICY,
            )
            db.add(
                Result(
                    session_id=session_id,
                    user_id=student.id,
                    college_type="medical",
                    total_score=summary.total_score,
                    max_score=summary.max_score,
                    percentage_correct=summary.percentage,
                    grade=summary.grade,
                    pass_status=summary.passed,
                    result_json=summary.to_json(),
                )
            )
        await db.flush()
    return target, target_answers, examiner


def _switch_keywords(question: Question, original: list[dict[str, Any]], flip: bool) -> None:
    """The original keywords, or all but the first with an extra synonym on the rest."""
    keywords = (
        original
        if not flip
        else [{**k, "synonyms": [*k.get("synonyms", []), "approach"]} for k in original[1:]]
    )
    question.keywords = keywords
    question.expected_keywords = [k["term"] for k in keywords]


async def _regrade(
    sessionmaker: async_sessionmaker[AsyncSession],
    question_id: int,
    grader: AsyncGrader,
    *,
    apply: bool,
    flip: bool,
    original: list[dict[str, Any]],
) -> tuple[float, int, int]:
    async with unit_of_work(sessionmaker) as db:
        question = await db.get(Question, question_id)
        assert question is not None
        _switch_keywords(question, original, flip)
        await db.flush()
    start = time.perf_counter()
    async with unit_of_work(sessionmaker) as db:
        question = await db.get(Question, question_id)
        assert question is not None
        auditor = Auditor(db, ClientInfo(user_agent="bench"))
        report = await regrade_question(db, question, grader, apply=apply, auditor=auditor)
    elapsed = 1000 * (time.perf_counter() - start)
    return elapsed, len(report.changes), len(report.results)


async def _overrides(
    sessionmaker: async_sessionmaker[AsyncSession],
    answer_ids: list[int],
    examiner: User,
    count: int,
) -> list[float]:
    scope = Scope(examiner.id, UserRole.ADMIN)
    times = []
    for n, answer_id in enumerate(answer_ids[:count]):
        start = time.perf_counter()
        async with unit_of_work(sessionmaker) as db:
            service = ReviewService(db, Auditor(db, ClientInfo()), scope, utcnow)
            await service.override(examiner, answer_id, n % 11, "bench override")
        times.append(1000 * (time.perf_counter() - start))
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)


async def run_backend(
    backend: str, answers: int, runs: int, overrides: int, grader_name: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = await fresh_database_url(backend, Path(folder), "newspeech_bench_review")
        settings = Settings(
            database_url=url, speech_enabled=False, data_dir=Path(folder), grader=grader_name
        )
        engine = create_engine(settings)
        pool = InferencePool()
        try:
            await upgrade(engine)
            sessionmaker = create_sessionmaker(engine)
            grader = build_grader(settings, run=pool.run)
            started = time.perf_counter()
            question, answer_ids, examiner = await _prepare(sessionmaker, grader, answers)
            setup_s = time.perf_counter() - started
            original = list(question.keywords or [])
            dry = [
                await _regrade(
                    sessionmaker, question.id, grader, apply=False, flip=True, original=original
                )
                for _ in range(runs)
            ]
            applied = [
                await _regrade(
                    sessionmaker,
                    question.id,
                    grader,
                    apply=True,
                    flip=n % 2 == 0,
                    original=original,
                )
                for n in range(runs)
            ]
            override_ms = await _overrides(sessionmaker, answer_ids[1:], examiner, overrides)
            return {
                "answers": answers,
                "setup_seconds": round(setup_s, 1),
                "dry_run_ms": round(statistics.median(t for t, _c, _r in dry), 1),
                "dry_run_changes": dry[0][1],
                "dry_run_results_changed": dry[0][2],
                "apply_ms": round(statistics.median(t for t, _c, _r in applied), 1),
                "apply_changes": [c for _t, c, _r in applied],
                "apply_results_changed": [r for _t, _c, r in applied],
                "override_n": len(override_ms),
                "override_p50_ms": _p(override_ms, 0.5),
                "override_p95_ms": _p(override_ms, 0.95),
            }
        finally:
            pool.close()
            await engine.dispose()


def _print(results: dict[str, Any]) -> None:
    rows = [
        ("answers to the question", "answers", "{:.0f}"),
        ("regrade dry run (ms)", "dry_run_ms", "{:.1f}"),
        ("  scores that change", "dry_run_changes", "{:.0f}"),
        ("regrade apply (ms)", "apply_ms", "{:.1f}"),
        ("override p50 (ms)", "override_p50_ms", "{:.1f}"),
        ("override p95 (ms)", "override_p95_ms", "{:.1f}"),
    ]
    print(f"\n{'':<26}" + "".join(f"{b:>14}" for b in results))
    for label, key, fmt in rows:
        print(f"{label:<26}" + "".join(f"{fmt.format(r[key]):>14}" for r in results.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--answers", type=int, default=1000, help="sittings answering it")
    parser.add_argument("--runs", type=int, default=3, help="dry runs and applies (median)")
    parser.add_argument("--overrides", type=int, default=50)
    parser.add_argument("--grader", default="keyword", choices=["seed", "keyword", "hybrid"])
    parser.add_argument("--output", type=Path, default=RESULTS / "review.json")
    args = parser.parse_args()
    results = {}
    load_before = os.getloadavg()
    for backend in args.backends.split(","):
        print(f"... {backend}: {args.answers} sittings, grader {args.grader}", flush=True)
        results[backend] = asyncio.run(
            run_backend(backend, args.answers, args.runs, args.overrides, args.grader)
        )
    _print(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "benchmark": "review",
                "version": __version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "grader": args.grader,
                "cpus": os.cpu_count(),
                # A shared machine: other work running at the same time slows every figure.
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "backends": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
