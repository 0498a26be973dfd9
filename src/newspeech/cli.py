"""The ``newspeech`` command: serve the app, manage the database, take an exam by audio."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newspeech.analysis import cli as prompts_cli
from newspeech.ask import cli as ask_cli
from newspeech.backup import cli as backup_cli
from newspeech.config import Settings, load_settings
from newspeech.errors import ConfigurationError, NewSpeechError, UpstreamError, ValidationFailed

# Each command imports what it needs when it runs, not here: building the parser is all every
# command shares, and importing the app, the speech engines, the database layer and the
# question formats up front cost every command (and every test that runs one) ~4 s of CPU.
if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

PASSWORD_VARIABLE = "NEWSPEECH_PASSWORD"
"""Where ``newspeech exam --user NAME`` reads the password from before asking for it."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newspeech", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web app and API")
    serve.add_argument("--host", help="address to bind (default: NEWSPEECH_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: NEWSPEECH_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        help="worker processes sharing the port (default: NEWSPEECH_WORKERS or 1); "
        "each loads its own speech models",
    )

    db = commands.add_parser("db", help="database schema and data").add_subparsers(
        dest="db_command", required=True
    )
    upgrade = db.add_parser("upgrade", help="apply migrations (default: up to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db.add_parser("downgrade", help="revert migrations down to a revision")
    downgrade.add_argument("revision")
    db.add_parser("current", help="print the database's migration revision")
    seed = db.add_parser("seed", help="load college types, configuration defaults, question banks")
    seed.add_argument(
        "--demo", action="store_true", help="also create one demo account per role and print them"
    )
    exam = commands.add_parser(
        "exam", help="take an exam over the WebSocket as a simulated candidate, from audio files"
    )
    exam.add_argument("--url", default="ws://127.0.0.1:8000/ws/exam", help="the exam socket URL")
    who = exam.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--user",
        metavar="NAME",
        help=f"sign in as this student first; the password comes from {PASSWORD_VARIABLE} "
        "or is asked for",
    )
    who.add_argument(
        "--token", help="an access token instead (from POST /api/v1/auth/login, docs/api.md)"
    )
    exam.add_argument("--college", default="medical", help="college type (default: medical)")
    exam.add_argument(
        "--answers",
        type=Path,
        required=True,
        help="folder of answers, one audio file per question (3.wav answers question 3, "
        "identity.wav confirms who you are); "
        "a missing answer is silence",
    )
    exam.add_argument(
        "--speed", type=float, default=1.0, help="stream audio this many times real time"
    )
    exam.add_argument("--resume", metavar="SESSION_CODE", help="resume this sitting instead")
    exam.add_argument("--verbose", action="store_true", help="print every event as it arrives")
    _questions_parser(commands)
    audio = commands.add_parser("audio", help="stored answer audio").add_subparsers(
        dest="audio_command", required=True
    )
    purge = audio.add_parser(
        "purge", help="delete answer audio older than NEWSPEECH_AUDIO_RETENTION_DAYS"
    )
    purge.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    backup_cli.add_parser(commands)
    prompts_cli.add_parser(commands)
    ask_cli.add_parser(commands)
    _voice_parser(commands)
    worker = commands.add_parser(
        "worker", help="run recording-analysis jobs from NEWSPEECH_BROKER_URL (Redis or RabbitMQ)"
    )
    worker.add_argument(
        "--concurrency", type=int, default=1, help="jobs this process runs at once (default 1)"
    )
    return parser


async def _audio_command(args: argparse.Namespace, settings: Settings) -> int:
    from newspeech.answers.audio.service import purge_expired_audio
    from newspeech.db.engine import create_engine, create_sessionmaker
    from newspeech.kit.clock import system_clock
    from newspeech.storage.factory import audio_store_from_settings

    if settings.audio_retention_days == 0:
        print("NEWSPEECH_AUDIO_RETENTION_DAYS is 0: answer audio is kept forever")
        return 0
    engine = create_engine(settings)
    store = audio_store_from_settings(settings)
    try:
        report = await purge_expired_audio(
            create_sessionmaker(engine),
            store,
            retention_days=settings.audio_retention_days,
            now=system_clock(),
            dry_run=args.dry_run,
            audit_enabled=settings.enable_audit_logs,
        )
    finally:
        await store.aclose()
        await engine.dispose()
    for row in report.purged:
        print(f"answer {row.answer_id}  {row.created_at:%Y-%m-%d}  {row.key}")
    for row, error in report.failed:
        print(f"answer {row.answer_id}: not deleted: {error}", file=sys.stderr)
    print(report.summary())
    return 1 if report.failed else 0


def _voice_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    voice = commands.add_parser("voice", help="the examiner's voice")
    actions = voice.add_subparsers(dest="voice_command", required=True)
    prerender = actions.add_parser(
        "prerender",
        help="synthesise every question, case and fixed phrase into the disk store "
        "(NEWSPEECH_TTS_DISK_CACHE_MB) shared by every server process; stored ones are skipped",
    )
    prerender.add_argument(
        "--college",
        action="append",
        help="only this college type's bank (repeatable; default: every college)",
    )


QUESTION_FORMATS = ("gift", "moodle-xml", "csv")
"""``ImportFormat``'s values, spelt out so that building the parser loads no question format
(a test keeps the two the same)."""


def _questions_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    questions = commands.add_parser("questions", help="import or export question banks")
    actions = questions.add_subparsers(dest="questions_command", required=True)
    formats = list(QUESTION_FORMATS)
    load = actions.add_parser("import", help="import a GIFT, Moodle XML or CSV file")
    load.add_argument("file", type=Path)
    load.add_argument("--format", choices=formats, help="default: from the file name")
    load.add_argument("--college", help="college for questions whose category names none")
    load.add_argument("--dry-run", action="store_true", help="report the changes, write nothing")
    dump = actions.add_parser("export", help="write a college's bank to a file")
    dump.add_argument("--college", required=True)
    dump.add_argument("--format", choices=formats, required=True)
    dump.add_argument("-o", "--output", type=Path, required=True)
    regrade = actions.add_parser(
        "regrade", help="grade a question's stored answers again (a dry run unless --apply)"
    )
    regrade.add_argument("question_id", type=int)
    regrade.add_argument(
        "--apply", action="store_true", help="store the new scores and results (default: dry run)"
    )


async def _questions_command(args: argparse.Namespace, settings: Settings) -> int:
    from newspeech.audits.repository import AuditLogRepository
    from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
    from newspeech.questions.importer import export_college, import_questions
    from newspeech.questions.interchange import ImportFormat, detect_format, parse_questions

    if args.questions_command == "regrade":
        from newspeech.review.cli import regrade_command, report_lines

        regraded = await regrade_command(settings, args.question_id, apply=args.apply)
        print("\n".join(report_lines(regraded)))
        return 0
    engine = create_engine(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as db:
            if args.questions_command == "export":
                data = await export_college(db, args.college, ImportFormat(args.format))
                args.output.write_bytes(data)
                print(f"wrote {args.output}")
                return 0
            fmt = ImportFormat(args.format) if args.format else detect_format(args.file)
            try:
                data = args.file.read_bytes()
            except OSError as exc:
                raise ValidationFailed(f"cannot read {args.file}: {exc.strerror}") from exc
            parsed = parse_questions(data, fmt, college=args.college)
            audits = AuditLogRepository(db, enabled=settings.enable_audit_logs)
            report = await import_questions(db, parsed, dry_run=args.dry_run, audits=audits)
    finally:
        await engine.dispose()
    for issue in report.issues:
        print(f"{args.file}:{issue}", file=sys.stderr if issue.kind == "error" else sys.stdout)
    print(report.summary())
    return 2 if report.errors else 0


def _password(username: str) -> str:
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        password = getpass.getpass(f"password for {username}: ")
    return password


async def _exam(args: argparse.Namespace, settings: Settings) -> int:
    from websockets.exceptions import InvalidHandshake, InvalidURI

    from newspeech.client.candidate import Candidate, load_answers, sign_in, summary_lines

    if args.speed <= 0:
        raise ValidationFailed("--speed must be positive")
    answers = load_answers(args.answers, max_seconds=settings.max_audio_seconds)
    token = args.token
    if args.user is not None:
        token = await sign_in(args.url, args.user, _password(args.user))
    candidate = Candidate(
        url=args.url,
        token=token,
        college_type=args.college,
        answers=answers,
        speed=args.speed,
        on_event=_print_event if args.verbose else _print_progress,
    )
    try:
        report = await candidate.run(resume=args.resume)
    except (OSError, InvalidURI, InvalidHandshake) as exc:
        raise UpstreamError(f"cannot connect to {args.url}: {exc}") from exc
    print("\n".join(summary_lines(report)))
    return 0 if report.ended in ("completed", "ended_by_student") else 1


def _say(line: str) -> None:
    print(line, flush=True)


def _print_event(event: dict[str, Any]) -> None:
    print(json.dumps(event, ensure_ascii=False))


def _print_progress(event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "question":
        print(f"Q{event['number']}/{event['total']}: {event['text']}")
    elif kind == "transcript" and event.get("final"):
        print(f"   heard: {event['text'].strip()}")
    elif kind == "evaluation":
        print(f"   score {event['score']}/{event['max_score']}: {event.get('feedback', '')}")
    elif kind == "latency":
        print(
            f"   response {event.get('response_ms')} ms, "
            f"voice-to-voice {event.get('voice_to_voice_ms')} ms"
        )
    elif kind == "error":
        print(f"   error {event['error']}: {event['detail']}")


async def _db_command(args: argparse.Namespace, settings: Settings) -> None:
    from newspeech.db import migrations
    from newspeech.db.engine import create_engine

    engine = create_engine(settings)
    try:
        if args.db_command == "upgrade":
            await migrations.upgrade(engine, args.revision)
            print(f"database at revision {await migrations.current_revision(engine)}")
        elif args.db_command == "downgrade":
            await migrations.downgrade(engine, args.revision)
            print(f"database at revision {await migrations.current_revision(engine)}")
        elif args.db_command == "current":
            print(await migrations.current_revision(engine) or "(empty database)")
        elif args.db_command == "seed":
            await _seed(engine, demo=args.demo)
    finally:
        await engine.dispose()


async def _seed(engine: AsyncEngine, *, demo: bool) -> None:
    from newspeech.db.engine import create_sessionmaker, unit_of_work
    from newspeech.seed import seed_demo_accounts, seed_reference_data

    sessionmaker = create_sessionmaker(engine)
    async with unit_of_work(sessionmaker) as db:
        report = await seed_reference_data(db)
        accounts = await seed_demo_accounts(db) if demo else []
    print(
        f"seeded {report.college_types} college types, {report.config_keys} configuration keys, "
        f"{report.questions_added} new and {report.questions_updated} updated questions"
    )
    if accounts:
        print("demo accounts (passwords are shown once; run again to reset them):")
        for username, role, password in accounts:
            print(f"  {role:<9} {username:<14} {password}")


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    workers = args.workers if args.workers is not None else settings.workers
    if workers < 1:
        raise ConfigurationError(f"--workers must be 1 or more, not {workers}")
    import uvicorn

    from newspeech.app import create_app, reconcile_spool_alone, warm_import_worker
    from newspeech.observability import workers as metric_workers
    from newspeech.voice.engines import check_model_files

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.speech_enabled:
        # Fail here with one line naming the package, not inside the server's start-up.
        check_model_files(settings)
    _log_to_console(settings.log_format)
    where: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        "log_level": "info",
        # JSON: uvicorn leaves logging alone; its records reach the root logger's JSON handler.
        "log_config": None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    }
    if workers == 1:
        app = create_app(settings)
        warm_import_worker(app)
        uvicorn.run(app, **where)
        return
    # Several processes on one port (uvicorn's supervisor): each worker builds the app from
    # the same environment. The sitting lease keeps one exam loop per sitting whichever
    # worker a reconnect reaches; the token secret and the answer-audio spool are settled
    # here, once, before any worker starts.
    settings.token_secret()
    asyncio.run(reconcile_spool_alone(settings))
    # Every worker writes its metrics to files here, so a scrape sees them all.
    metric_workers.prepare(metric_workers.from_environment() or settings.data_dir / "metrics")
    os.environ["NEWSPEECH_SERVE_WORKER"] = "true"
    uvicorn.run(
        "newspeech.cli:serve_worker_app",
        factory=True,
        workers=workers,
        # A worker loading its speech models may answer the supervisor's ping late.
        timeout_worker_healthcheck=60,
        **where,
    )


def serve_worker_app() -> FastAPI:
    """The app of one ``serve --workers N`` worker process (uvicorn calls it in the worker)."""
    from newspeech.app import create_app, warm_import_worker

    settings = load_settings()
    _log_to_console(settings.log_format)
    app = create_app(settings)
    warm_import_worker(app)
    return app


def _worker(args: argparse.Namespace, settings: Settings) -> None:
    from newspeech.analysis.jobs.worker import require_broker, run_worker
    from newspeech.voice.engines import check_model_files

    require_broker(settings)  # a missing setting is said before the models are checked
    check_model_files(settings)
    _log_to_console(settings.log_format)
    asyncio.run(run_worker(settings, concurrency=max(args.concurrency, 1)))


def _log_to_console(fmt: str) -> None:
    """NewSpeech's own lines (where the token secret lives, engines warm ...) on the console
    next to uvicorn's; as text, other libraries keep their defaults; as JSON, every logger
    writes JSON lines."""
    from newspeech.observability.logs import log_handler, redact_access_log

    redact_access_log()
    handler = log_handler(fmt)
    newspeech_logger = logging.getLogger("newspeech")
    newspeech_logger.setLevel(logging.INFO)
    if fmt == "json":
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        # Alembic says which dialect it found on every revision read (each /readyz probe).
        logging.getLogger("alembic").setLevel(logging.WARNING)
    else:
        newspeech_logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if args.command == "serve":
            _serve(args, settings)
        elif args.command == "questions":
            return asyncio.run(_questions_command(args, settings))
        elif args.command == "audio":
            return asyncio.run(_audio_command(args, settings))
        elif args.command == "exam":
            return asyncio.run(_exam(args, settings))
        elif args.command == "backup":
            print("\n".join(asyncio.run(backup_cli.run(args, settings))))
        elif args.command == "prompts":
            print("\n".join(asyncio.run(prompts_cli.run(args, settings))))
        elif args.command == "ask":
            print("\n".join(asyncio.run(ask_cli.run(args, settings))))
        elif args.command == "voice":
            from newspeech.exams import prerender

            print("\n".join(asyncio.run(prerender.run(args, settings, _say))))
        elif args.command == "worker":
            _worker(args, settings)
        else:
            asyncio.run(_db_command(args, settings))
    except NewSpeechError as exc:
        print(f"newspeech: {exc.detail}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
