"""Asking the data (issue 18): guard overhead and the curated questions' accuracy.

    scripts/bench ask                          # all backends
    scripts/bench ask --backends sqlite --iterations 200

1. Guard overhead: parse + check + rewrite (:func:`newspeech.ask.guards.checked_sql`) of a
   fixed set of questions' SQL (curated ones, typical model SQL, refused attacks), for an
   examiner (exam data) or an analyst (recording analysis), in each backend's dialect:
   p50 / p95 per call over ``--iterations`` rounds. No database is involved. Goal: p95 <= 5 ms.
2. Accuracy: per backend, a fresh database with a known world (two colleges, six sittings
   each with fixed marks, results with fixed dates and pass/fail, flagged answers; design
   audits of spas and a hotel in Lyon and Paris with their reports, a report run and a model
   call: ``tests/fixtures/analysis_world.py``), then every fixed question through
   :class:`newspeech.ask.service.AskService` as an admin, an examiner of medical or an analyst;
   its rows are compared with the answer computed here in Python from the same fixed data.
   Accuracy = questions answered exactly / questions asked.

Prints a table and writes JSON to bench/results/ask.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update
from tests.fixtures.analysis_world import AnalysisWorld, build_analysis_world
from tests.fixtures.databases import BACKENDS, fresh_database_url
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session, make_user

from newspeech import __version__
from newspeech.ask import curated
from newspeech.ask.guards import ANALYSIS_ONLY, RowFilter, checked_sql
from newspeech.ask.repository import ReadOnlyRunner
from newspeech.ask.service import AskService
from newspeech.audits.service import Auditor, ClientInfo
from newspeech.auth.scope import Scope, set_assigned_colleges
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.errors import QueryRefused
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import Result, UserRole
from newspeech.results.service import calculate_result

RESULTS = Path(__file__).resolve().parent / "results"
EXAMINER = RowFilter(frozenset({"medical"}))
SAMPLE_VALUES = {
    ":college": "'medical'",
    ":since": "'2026-09-01'",
    ":building_type": "'spa'",
    ":city": "'Lyon'",
    ":word": "'%ventilation%'",
    ":dictionary": "'city'",
}


def _filled(sql: str) -> str:
    for placeholder, value in SAMPLE_VALUES.items():
        sql = sql.replace(placeholder, value)
    return sql


def _rows_for(question: curated.CuratedQuestion) -> RowFilter:
    return EXAMINER if question.for_rows(EXAMINER) else ANALYSIS_ONLY


GUARDED_SQL: list[tuple[str, RowFilter]] = [
    *((_filled(q.sql), _rows_for(q)) for q in curated.CURATED if "{week}" not in q.sql),
    ("SELECT college, AVG(score) AS mean FROM answers GROUP BY college ORDER BY mean", EXAMINER),
    (
        "SELECT q.question_text, q.mean_score FROM item_statistics AS q "
        "WHERE q.answers_marked > 0 ORDER BY q.mean_score ASC LIMIT 5",
        EXAMINER,
    ),
    (
        "WITH weekly AS (SELECT session_id, score FROM answers WHERE score IS NOT NULL) "
        "SELECT COUNT(*) AS n, AVG(score) AS mean FROM weekly",
        EXAMINER,
    ),
    (
        "SELECT r.college, COUNT(*) AS n FROM results AS r JOIN exam_sessions AS s "
        "ON s.session_id = r.session_id WHERE r.passed = TRUE GROUP BY r.college",
        EXAMINER,
    ),
    ("SELECT status, COUNT(*) FROM exam_sessions GROUP BY status HAVING COUNT(*) > 1", EXAMINER),
    (
        "SELECT r.report_id, r.place, o.total_tokens FROM reports AS r JOIN report_outputs AS o "
        "ON o.report_id = r.report_id WHERE LOWER(r.city) = 'lyon' AND LOWER(r.body) LIKE "
        "'%ventilation%' ORDER BY r.report_date DESC",
        ANALYSIS_ONLY,
    ),
    ("SELECT * FROM users", EXAMINER),
    ("SELECT pg_sleep(10)", EXAMINER),
    ("WITH d AS (DELETE FROM answers RETURNING *) SELECT * FROM d", EXAMINER),
    ("SELECT 1; DROP TABLE users", EXAMINER),
    ("SELECT answer_text FROM answers", ANALYSIS_ONLY),
]
DIALECTS = ("sqlite", "postgresql", "mysql")
SCORES = {"medical": [[8, 6, 3], [7, 5, 2], [9, 9, 4], [6, 4, 1], [5, 7, 3], [8, 2, 6]]}
SCORES["law"] = [[4, 4, 4], [6, 6, 6], [2, 9, 5], [7, 3, 8], [5, 5, 5], [9, 1, 7]]
# Result dates and pass/fail per sitting (same order as SCORES): three weeks of November.
DATES = [dt.datetime(2026, 11, d, 10, tzinfo=dt.UTC) for d in (2, 3, 10, 11, 17, 18)]
PASSED = {"medical": [True, False, True, False, True, True], "law": [False] * 5 + [True]}
FLAGGED_SCORE = 3  # answers with this mark are flagged for review


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def guard_overhead(iterations: int) -> dict[str, Any]:
    by_dialect: dict[str, Any] = {}
    for dialect in DIALECTS:
        timings: list[float] = []
        cpu: list[float] = []
        for _ in range(iterations):
            for sql, rows in GUARDED_SQL:
                start = time.perf_counter()
                start_cpu = time.thread_time()
                with contextlib.suppress(QueryRefused):
                    checked_sql(sql, dialect, rows)
                timings.append((time.perf_counter() - start) * 1000)
                cpu.append((time.thread_time() - start_cpu) * 1000)
        by_dialect[dialect] = {
            "calls": len(timings),
            "p50_ms": round(statistics.median(timings), 3),
            "p95_ms": round(_percentile(timings, 0.95), 3),
            "max_ms": round(max(timings), 3),
            # CPU time of the guarding thread: what the guards cost, without the waits for
            # a core that a loaded, shared machine adds to the wall clock.
            "cpu_p50_ms": round(statistics.median(cpu), 3),
            "cpu_p95_ms": round(_percentile(cpu, 0.95), 3),
        }
    return by_dialect


@dataclass(frozen=True)
class Known:
    name: str
    key: str
    parameters: dict[str, str]
    scope: str  # "admin", "examiner" or "analyst"
    expected: Callable[[str, AnalysisWorld], list[list[Any]]]
    """The rows, computed from the fixed data (the arguments: the dialect, the analysis ids)."""


def _week(dialect: str, moment: dt.datetime) -> str:
    if dialect == "sqlite":
        return moment.strftime("%Y-%W")
    year, week, _ = moment.isocalendar()
    return f"{year}-{week:02d}"


def _rate(flags: list[bool]) -> float:
    return round(100.0 * sum(flags) / len(flags), 1)


def _lowest_means(college: str) -> list[list[Any]]:
    means = [statistics.mean(s[i] for s in SCORES[college]) for i in range(3)]
    ranked = sorted(range(3), key=lambda i: (means[i], i))
    return [[i, round(means[i], 3), len(SCORES[college])] for i in ranked]


def _by_week(college: str, dialect: str) -> list[list[Any]]:
    weeks: dict[str, list[bool]] = {}
    for moment, passed in zip(DATES, PASSED[college], strict=True):
        weeks.setdefault(_week(dialect, moment), []).append(passed)
    return [[week, len(flags), _rate(flags)] for week, flags in sorted(weeks.items())]


def _flagged(college: str) -> int:
    return sum(score == FLAGGED_SCORE for sitting in SCORES[college] for score in sitting)


KNOWN = [
    Known("lowest mean, medical", "lowest_mean_mark_per_question", {"college": "medical"}, "admin",
          lambda d, a: _lowest_means("medical")),
    Known("lowest mean, law", "lowest_mean_mark_per_question", {"college": "law"}, "admin",
          lambda d, a: _lowest_means("law")),
    Known("pass rate by week, medical", "pass_rate_by_week", {"college": "medical"}, "admin",
          lambda d, a: _by_week("medical", d)),
    Known("pass rate by week, law (examiner: none)", "pass_rate_by_week", {"college": "law"},
          "examiner", lambda d, a: []),
    Known("pass rate by college", "pass_rate_by_college", {}, "admin",
          lambda d, a: [["law", 6, _rate(PASSED["law"])],
                        ["medical", 6, _rate(PASSED["medical"])]]),
    Known("pass rate by college (examiner)", "pass_rate_by_college", {}, "examiner",
          lambda d, a: [["medical", 6, _rate(PASSED["medical"])]]),
    Known("sittings by status, law", "sittings_by_status", {"college": "law"}, "admin",
          lambda d, a: [["completed", 6]]),
    Known("answers awaiting review, medical", "answers_awaiting_review", {"college": "medical"},
          "examiner", lambda d, a: [[_flagged("medical")]]),
    Known("lowest mean since 2000, medical (examiner)", "lowest_mean_mark_since",
          {"college": "medical", "since": "2000-01-01"}, "examiner",
          lambda d, a: _lowest_means("medical")),
    Known("lowest mean since 2999 (none)", "lowest_mean_mark_since",
          {"college": "medical", "since": "2999-01-01"}, "admin", lambda d, a: []),
    Known("spa audits in Lyon mentioning ventilation", "reports_mentioning",
          {"building_type": "spa", "city": "Lyon", "word": "ventilation"}, "analyst",
          lambda d, a: [[i] for i in sorted(a.spa_lyon_ventilation)]),
    Known("hotel audits in Lyon mentioning tiles (none)", "reports_mentioning",
          {"building_type": "hotel", "city": "Lyon", "word": "tiles"}, "admin", lambda d, a: []),
    Known("reports per place (analyst)", "reports_by_place", {}, "analyst",
          lambda d, a: [["Les Thermes", 4], ["Grand Hotel", 1]]),
    Known("reports per building type", "reports_by_building_type", {}, "analyst",
          lambda d, a: [["spa", 4], ["hotel", 1]]),
    Known("recordings per week", "recordings_by_week", {}, "analyst",
          lambda d, a: [[_week(d, dt.datetime(2026, 11, 30, tzinfo=dt.UTC)), 5]]),
    Known("model use per prompt", "model_use_by_prompt", {}, "admin",
          lambda d, a: [["findings", 1, 150, 1.5]]),
    Known("cities in the dictionary", "dictionary_entries", {"dictionary": "city"}, "analyst",
          lambda d, a: [["Lyon"], ["Paris"]]),
]  # fmt: skip


@dataclass(frozen=True)
class BenchWorld:
    scopes: dict[str, Scope]
    positions: dict[int, int]
    """bank question id -> position 0..2 in its college"""
    analysis: AnalysisWorld


async def _world(settings: Settings) -> BenchWorld:
    """The fixed data and who asks."""
    engine = create_engine(settings)
    await upgrade(engine)
    positions: dict[int, int] = {}
    async with create_sessionmaker(engine)() as db:
        admin = await make_user(db, role=UserRole.ADMIN, college_type=None)
        analyst = await make_user(db, role=UserRole.ANALYST, college_type=None)
        examiner = await make_user(db, role=UserRole.EXAMINER)
        await set_assigned_colleges(db, examiner.id, ["medical"])
        for college, sittings in SCORES.items():
            questions = (await make_questions(db, college))[:3]
            positions |= {q.id: i for i, q in enumerate(questions)}
            for n, scores in enumerate(sittings):
                student = await make_user(db, college_type=college)
                exam_session = await make_session(db, student)
                for number, (question, score) in enumerate(zip(questions, scores, strict=True)):
                    _answer, evaluation = await answer_and_evaluate(
                        db, exam_session, question, number + 1, score
                    )
                    evaluation.needs_review = score == FLAGGED_SCORE
                await ExamSessionRepository(db).complete(exam_session.id)
                result = await calculate_result(db, exam_session)
                await db.execute(
                    update(Result)
                    .where(Result.id == result.id)
                    .values(generated_at=DATES[n], pass_status=PASSED[college][n])
                )
        await db.flush()
        await db.commit()
        analysis = await build_analysis_world(db)
    await engine.dispose()
    scopes = {
        "admin": Scope(admin.id, UserRole.ADMIN),
        "examiner": Scope(examiner.id, UserRole.EXAMINER, frozenset({"medical"})),
        "analyst": Scope(analyst.id, UserRole.ANALYST),
    }
    return BenchWorld(scopes, positions, analysis)


def _comparable(key: str, rows: list[list[Any]], positions: dict[int, int]) -> list[list[Any]]:
    if key == "lowest_mean_mark_per_question":
        return [[positions[r[0]], round(float(r[2]), 3), int(r[3])] for r in rows]
    if key == "answers_awaiting_review":
        return [[len(rows)]]
    if key == "lowest_mean_mark_since":
        return _comparable("lowest_mean_mark_per_question", rows, positions)
    if key in ("reports_mentioning", "dictionary_entries"):
        return [row[:1] for row in rows]
    return [[float(v) if isinstance(v, float) else v for v in row] for row in rows]


async def accuracy(backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = await fresh_database_url(backend, Path(tmp), "newspeech_bench_ask")
        settings = Settings(environment="test", data_dir=Path(tmp), database_url=url)
        world = await _world(settings)
        engine = create_engine(settings)
        outcomes = []
        async with create_sessionmaker(engine)() as db:
            service = AskService(ReadOnlyRunner(engine), Auditor(db, ClientInfo()))
            for known in KNOWN:
                scope = world.scopes[known.scope]
                answer = await service.ask_curated(known.key, known.parameters, scope)
                got = _comparable(known.key, answer.rows, world.positions)
                want = known.expected(engine.dialect.name, world.analysis)
                outcomes.append(
                    {"question": known.name, "ok": got == want, "got": got, "want": want}
                )
            await db.rollback()
        await engine.dispose()
    right = sum(o["ok"] is True for o in outcomes)
    return {
        "asked": len(outcomes),
        "right": right,
        "accuracy": right / len(outcomes),
        "questions": outcomes,
    }


def _print(overhead: dict[str, Any], correct: dict[str, Any]) -> None:
    print(
        f"\n{'guard (parse+check+rewrite)':<30}{'calls':>8}"
        f"{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'cpu p50':>10}{'cpu p95':>10}"
    )
    for dialect, r in overhead.items():
        print(
            f"{dialect:<30}{r['calls']:>8}{r['p50_ms']:>10.3f}{r['p95_ms']:>10.3f}"
            f"{r['max_ms']:>10.3f}{r['cpu_p50_ms']:>10.3f}{r['cpu_p95_ms']:>10.3f}"
        )
    print(f"\n{'curated accuracy':<30}{'asked':>8}{'right':>10}{'share':>10}")
    for backend, r in correct.items():
        print(f"{backend:<30}{r['asked']:>8}{r['right']:>10}{r['accuracy']:>10.0%}")
        for o in r["questions"]:
            if not o["ok"]:
                print(f"   wrong: {o['question']}: got {o['got']} want {o['want']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--output", type=Path, default=RESULTS / "ask.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    overhead = guard_overhead(args.iterations)
    correct = {b: asyncio.run(accuracy(b)) for b in args.backends.split(",")}
    _print(overhead, correct)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "benchmark": "ask",
                "version": __version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                # A shared machine: other work running at the same time slows every figure.
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "statements_per_round": len(GUARDED_SQL),
                "guard_overhead": overhead,
                "accuracy": correct,
            },
            indent=2,
            default=str,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
