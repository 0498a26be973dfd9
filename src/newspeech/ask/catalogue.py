"""The published read-only surface: the views questions may read, their columns, what they mean.

The views themselves are created by migration ``3a5c7e9b1d24``; this catalogue documents them
for people (``GET /api/v1/ask/catalogue``, docs/ask.md) and for the model (the prompt lists
every view and column). ``tests/ask/test_views.py`` checks it against the real views.

Questions name views by their logical name (``answers``); :func:`physical_name` says where a
backend keeps it (``ask.answers`` on PostgreSQL, ``ask_answers`` elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Visibility(StrEnum):
    """Who may read a view. ``college``: exam data, for examiners (their colleges' rows only)
    and admins. ``analysis``: recording analysis (it has no college), for analysts and admins;
    analysts read no exam data and examiners no recordings, as in the rest of the product."""

    COLLEGE = "college"
    ANALYSIS = "analysis"


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class ViewDoc:
    name: str
    description: str
    columns: tuple[ColumnDoc, ...]
    visibility: Visibility = Visibility.COLLEGE
    college_column: str | None = "college"

    @property
    def column_names(self) -> frozenset[str]:
        return frozenset(column.name for column in self.columns)


def _c(name: str, type_: str, description: str) -> ColumnDoc:
    return ColumnDoc(name, type_, description)


_COLLEGE = _c("college", "text", "college code (medical, law, ...)")
_CANDIDATE = _c("candidate_id", "integer", "the candidate's user id")

CATALOGUE: tuple[ViewDoc, ...] = (
    ViewDoc(
        "colleges",
        "The colleges whose students sit vivas.",
        (
            _COLLEGE,
            _c("name", "text", "display name"),
            _c("description", "text", "free text"),
        ),
    ),
    ViewDoc(
        "exam_sessions",
        "One row per exam sitting.",
        (
            _c("session_id", "integer", "the sitting"),
            _COLLEGE,
            _CANDIDATE,
            _c("status", "text", "pending, in_progress, completed or terminated"),
            _c("attempt_number", "integer", "1 for the candidate's first sitting, 2 next ..."),
            _c("started_at", "timestamp", "when the sitting started (UTC)"),
            _c("ended_at", "timestamp", "when it ended (UTC)"),
            _c("duration_seconds", "integer", "length of the sitting"),
            _c("total_score", "integer", "marks so far"),
            _c("total_questions", "integer", "questions in the exam"),
            _c("questions_answered", "integer", "questions answered"),
            _c("created_at", "timestamp", "when the sitting was created (UTC)"),
        ),
    ),
    ViewDoc(
        "answers",
        "One row per answer given, with its mark (NULL score: not marked yet).",
        (
            _c("answer_id", "integer", "the answer"),
            _c("session_id", "integer", "the sitting (exam_sessions.session_id)"),
            _COLLEGE,
            _CANDIDATE,
            _c("question_id", "integer", "the bank question (item_statistics.question_id)"),
            _c("question_number", "integer", "position of the question in the sitting"),
            _c("question_text", "text", "the words asked"),
            _c("answer_text", "text", "what was graded (transcript, term-corrected)"),
            _c("audio_duration_seconds", "real", "length of the spoken answer"),
            _c("score", "integer", "marks obtained (0..max_score)"),
            _c("max_score", "integer", "marks available"),
            _c("percentage_correct", "real", "score as a percentage"),
            _c("feedback_type", "text", "correct, partial or incorrect"),
            _c("evaluator_type", "text", "which grader marked it"),
            _c("needs_review", "boolean", "waiting for an examiner's review"),
            _c("answered_at", "timestamp", "when the answer was stored (UTC)"),
        ),
    ),
    ViewDoc(
        "results",
        "One row per finished sitting: total, percentage, grade, pass or fail.",
        (
            _c("result_id", "integer", "the result"),
            _c("session_id", "integer", "the sitting"),
            _CANDIDATE,
            _COLLEGE,
            _c("total_score", "integer", "marks obtained"),
            _c("max_score", "integer", "marks available (usually 120)"),
            _c("percentage_correct", "real", "total as a percentage"),
            _c("grade", "text", "letter grade"),
            _c("passed", "boolean", "whether the sitting passed"),
            _c("generated_at", "timestamp", "when the result was calculated (UTC)"),
        ),
    ),
    ViewDoc(
        "item_statistics",
        "One row per bank question with statistics over its marked answers.",
        (
            _c("question_id", "integer", "the bank question"),
            _COLLEGE,
            _c("scenario_id", "integer", "the case the question belongs to"),
            _c("scenario_name", "text", "the case's title"),
            _c("question_number", "integer", "position within the case"),
            _c("question_text", "text", "the question"),
            _c("category", "text", "subject category"),
            _c("difficulty", "text", "easy, medium or hard"),
            _c("max_score", "integer", "marks available"),
            _c("answers_marked", "integer", "marked answers to it"),
            _c("mean_score", "real", "mean mark (NULL if none)"),
            _c("lowest_score", "integer", "lowest mark"),
            _c("highest_score", "integer", "highest mark"),
        ),
    ),
    ViewDoc(
        "transcriptions",
        "Recordings of interviews and site audits with their metadata and transcript text.",
        (
            _c("transcription_id", "integer", "the recording"),
            _c("scenario", "text", "interview or design (site audit)"),
            _c("building_type", "text", "hotel, restaurant, spa ..."),
            _c("employee", "text", "who recorded it"),
            _c("client", "text", "for whom"),
            _c("place", "text", "the venue"),
            _c("zone", "text", "the part of the venue"),
            _c("city", "text", "the city"),
            _c("recorded_on", "date", "the day it was recorded"),
            _c("status", "text", "uploaded, transcribing, transcribed or failed"),
            _c("language", "text", "spoken language"),
            _c("duration_seconds", "real", "length"),
            _c("text", "text", "the transcript"),
            _c("created_at", "timestamp", "when it was uploaded (UTC)"),
        ),
        visibility=Visibility.ANALYSIS,
        college_column=None,
    ),
    ViewDoc(
        "reports",
        "Reports (a design audit's findings, an interview's client brief) written from "
        "transcriptions, with the recording's metadata.",
        (
            _c("report_id", "integer", "the report"),
            _c("transcription_id", "integer", "the recording it was made from"),
            _c("report_type", "text", "kind of report (findings, client brief ...)"),
            _c("employee", "text", "who recorded it"),
            _c("client", "text", "for whom"),
            _c("place", "text", "the venue"),
            _c("report_date", "date", "the report's date"),
            _c("status", "text", "pending, ready or failed"),
            _c("body", "text", "the report in Markdown (its latest finished run)"),
            _c("created_at", "timestamp", "when it was asked for (UTC)"),
            _c("scenario", "text", "the recording's scenario: interview or design (site audit)"),
            _c(
                "building_type", "text", "the recording's building type: hotel, restaurant, spa ..."
            ),
            _c("zone", "text", "the recording's zone of the venue"),
            _c("city", "text", "the recording's city"),
        ),
        visibility=Visibility.ANALYSIS,
        college_column=None,
    ),
    ViewDoc(
        "report_runs",
        "Each run of a report's prompt chain (re-running a report adds one).",
        (
            _c("run_id", "integer", "the run"),
            _c("report_id", "integer", "the report (reports.report_id)"),
            _c("run_number", "integer", "1 for the first run, 2 for the first re-run ..."),
            _c("status", "text", "pending, done or failed"),
            _c("model", "text", "the language model that wrote it"),
            _c("markdown", "text", "what this run wrote"),
            _c("pdf_bytes", "integer", "size of its PDF"),
            _c("started_at", "timestamp", "when the run was asked for (UTC)"),
            _c("finished_at", "timestamp", "when it finished (UTC)"),
        ),
        visibility=Visibility.ANALYSIS,
        college_column=None,
    ),
    ViewDoc(
        "job_stages",
        "Stages of the analysis jobs: cutting, transcribing, assembling a recording, and each "
        "report run's speaker pass, prompts and report.",
        (
            _c("stage_id", "integer", "the stage"),
            _c("job_id", "integer", "the job"),
            _c("transcription_id", "integer", "the recording the job works on"),
            _c("run_id", "integer", "the report run (report_runs.run_id), NULL for others"),
            _c("report_id", "integer", "the report of that run"),
            _c("kind", "text", "cut, transcribe, assemble, speakers, prompt or report"),
            _c("status", "text", "pending, running, done or failed"),
            _c("attempts", "integer", "tries so far"),
            _c("prompt_title", "text", "the prompt a prompt stage ran"),
            _c("prompt_version", "integer", "that prompt's version"),
            _c("started_at", "timestamp", "when it started (UTC)"),
            _c("finished_at", "timestamp", "when it finished (UTC)"),
        ),
        visibility=Visibility.ANALYSIS,
        college_column=None,
    ),
    ViewDoc(
        "report_outputs",
        "Every language-model call made for a report or a speaker pass, with its output.",
        (
            _c("call_id", "integer", "the call"),
            _c("stage_id", "integer", "the stage that made it (job_stages.stage_id)"),
            _c("run_id", "integer", "the report run, NULL for a speaker pass"),
            _c("report_id", "integer", "the report of that run"),
            _c("purpose", "text", "what the call was for (prompt, speakers ...)"),
            _c("prompt_title", "text", "the prompt sent"),
            _c("prompt_version", "integer", "that prompt's version"),
            _c("part", "integer", "which part of a long transcript (1-based)"),
            _c("parts", "integer", "parts the transcript was cut into"),
            _c("model", "text", "the model that answered"),
            _c("prompt_tokens", "integer", "tokens sent"),
            _c("completion_tokens", "integer", "tokens written"),
            _c("total_tokens", "integer", "both"),
            _c("latency_seconds", "real", "how long the call took"),
            _c("output", "text", "what the model wrote"),
            _c("failed", "boolean", "whether the call failed"),
            _c("created_at", "timestamp", "when it was made (UTC)"),
        ),
        visibility=Visibility.ANALYSIS,
        college_column=None,
    ),
    ViewDoc(
        "dictionaries",
        "The metadata dictionaries, one row per entry: places, cities, zones, building types, "
        "employees, clients, scenarios and report types.",
        (
            _c(
                "dictionary",
                "text",
                "place, city, zone, building_type, employee, client, scenario or report_type",
            ),
            _c("name", "text", "the entry as first written"),
            _c("created_at", "timestamp", "when it was first used (UTC)"),
        ),
        visibility=Visibility.ANALYSIS,
        college_column=None,
    ),
)

VIEWS: dict[str, ViewDoc] = {view.name: view for view in CATALOGUE}
ALL_COLUMNS: frozenset[str] = frozenset().union(*(view.column_names for view in CATALOGUE))


def physical_name(dialect: str, view: str) -> tuple[str | None, str]:
    """(schema, name) of a view on a backend (``dialect``: SQLAlchemy's dialect name)."""
    if dialect == "postgresql":
        return "ask", view
    return None, f"ask_{view}"


def prompt_text(views: tuple[ViewDoc, ...] = CATALOGUE) -> str:
    """The catalogue as the model reads it: one block per view."""
    blocks = []
    for view in views:
        lines = [f"view {view.name}: {view.description}"]
        lines += [f"  {c.name} ({c.type}): {c.description}" for c in view.columns]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
