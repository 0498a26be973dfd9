"""``newspeech questions regrade QUESTION_ID [--apply]``: the regrade service from a shell."""

from __future__ import annotations

from newspeech.audits.service import Auditor, ClientInfo
from newspeech.config import Settings
from newspeech.configuration.current import current_config
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.errors import NotFound
from newspeech.grading.factory import build_grader, llm_client_from_settings
from newspeech.models import Question
from newspeech.review.regrade import RegradeReport, regrade_question


def report_lines(report: RegradeReport) -> list[str]:
    """The change table, the result table, and a one-line summary."""
    verb = "applied" if report.applied else "dry run (nothing stored; --apply to store)"
    lines = [
        f"question {report.question_id}: {report.graded} answers regraded, "
        f"{len(report.changes)} scores change, {len(report.results)} results change, "
        f"{report.skipped_manual} manual overrides untouched; {verb}"
    ]
    if report.changes:
        lines.append(f"{'answer':>8} {'session':<20} {'score':>9}  feedback")
        lines += [
            f"{c.answer_id:>8} {c.session_code:<20} {c.old_score:>4} -> {c.new_score:<2}  "
            f"{c.old_feedback_type.value} -> {c.new_feedback_type.value}"
            for c in report.changes
        ]
    if report.results:
        lines.append(f"{'session':<20} {'total':>11} {'grade':>7}  pass")
        lines += [
            f"{r.session_code:<20} {r.old_total:>4} -> {r.new_total:<4} "
            f"{r.old_grade or '-':>2} -> {r.new_grade}  {r.old_passed} -> {r.new_passed}"
            for r in report.results
        ]
    return lines


async def regrade_command(settings: Settings, question_id: int, *, apply: bool) -> RegradeReport:
    engine = create_engine(settings)
    llm_client = llm_client_from_settings(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as db:
            question = await db.get(Question, question_id)
            if question is None:
                raise NotFound(f"question {question_id} does not exist")
            config = await current_config(db)  # a regrade is decided now: the values stored now
            grader = build_grader(
                settings,
                thresholds=config.thresholds,
                temperature=config.llm_temperature,
                llm_client=llm_client,
            )
            auditor = Auditor(
                db, ClientInfo(user_agent="newspeech-cli"), enabled=settings.enable_audit_logs
            )
            report = await regrade_question(db, question, grader, apply=apply, auditor=auditor)
    finally:
        if llm_client is not None:
            await llm_client.aclose()
        await engine.dispose()
    return report
