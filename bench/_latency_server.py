"""The server side of bench/latency.py, run as its own process so its memory can be measured
alone: the real app (real speech engines, the real WebSocket edge and session loop) with

* ``--conversation real`` (default): ``create_app`` as production builds it — the exam service,
  the configured (hybrid, MiniLM) grader, a migrated and seeded SQLite database (or
  ``--database-url``) holding ``--students`` bench students who sign in with
  :data:`PASSWORD` through the login endpoint;
* ``--conversation scripted``: the scripted conversation of tests/fixtures (no grading, no
  database writes), as before the exam engine was merged.

    python -m bench._latency_server --port 8765 [--conversation scripted]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import uvicorn
from tests.fixtures.scripted_conversation import ScriptedOpener, ScriptedQuestion

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.kit.passwords import hash_password
from newspeech.models import UserRole
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository

TOKEN = "bench-token"
PASSWORD = "bench students' shared passphrase"
QUESTIONS = (
    ScriptedQuestion("What did the president ask of his fellow Americans?", ("country",)),
    ScriptedQuestion("Which chamber of the heart pumps blood to the body?", ("left ventricle",)),
    ScriptedQuestion("What is the first line treatment of anaphylaxis?", ("adrenaline",)),
    ScriptedQuestion("What does the president ask in the full sentence?", ("ask not",)),
)


def student_name(n: int) -> str:
    return f"bench{n:03d}"


async def prepare_database(settings: Settings, students: int) -> None:
    """Schema, reference data (question banks, configuration) and the bench students."""
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as db:
            await seed_reference_data(db)
            # Each bench student sits once per load level: many sittings of one college.
            await ConfigurationRepository(db).set("max_attempts", 100)
            password_hash = hash_password(PASSWORD)
            users = UserRepository(db)
            for n in range(students):
                await users.create(
                    username=student_name(n),
                    email=f"{student_name(n)}@bench.example.org",
                    password_hash=password_hash,
                    full_name=f"Student {n}",
                    role=UserRole.STUDENT,
                    college_type="medical",
                )
            await db.commit()
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--conversation", choices=("real", "scripted"), default="real")
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="newspeech-latency-"))
    if args.conversation == "scripted":
        settings = Settings(environment="test", data_dir=data_dir)
        opener = ScriptedOpener({TOKEN: "candidate"}, QUESTIONS, silence_prompt_seconds=15.0)
        app = create_app(settings, exam_opener=lambda _state: opener)
    else:
        # Benchmark students sign in far more often than the per-address limits allow a person.
        settings = Settings(
            environment="test",
            data_dir=data_dir,
            database_url=args.database_url,
            rate_limit_enabled=False,
            access_token_minutes=240,  # a full sweep outlasts the default 15 minutes
        )
        asyncio.run(prepare_database(settings, args.students))
        app = create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", ws_max_size=1 << 20)


if __name__ == "__main__":
    main()
