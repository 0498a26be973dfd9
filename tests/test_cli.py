"""The ``newspeech`` command. Tests about what a command does run it in-process (the
``newspeech`` fixture, tests/fixtures/cli.py); ``run_cli`` runs the real entry point in a
subprocess, once per command family (db, serve, audio, worker, ask, voice here; backup,
questions and exam beside their domains), to prove that the command works from a shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from newspeech.kit.passwords import verify_password
from tests.fixtures.cli import Newspeech


def run_cli(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m newspeech.cli ARGS`` in a subprocess (see the module's docstring)."""
    environment = {k: v for k, v in os.environ.items() if "DATABASE_URL" not in k}
    environment |= {"NEWSPEECH_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "newspeech.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_upgrade_seed_and_demo_accounts_on_a_fresh_sqlite_file(
    tmp_path: Path, newspeech: Newspeech
) -> None:
    upgrade = run_cli("db", "upgrade", data_dir=tmp_path)  # the db commands from a shell
    assert upgrade.returncode == 0, upgrade.stderr
    assert upgrade.stdout.startswith("database at revision ")
    assert (tmp_path / "newspeech.db").exists()

    seed = newspeech("db", "seed", "--demo")
    assert seed.returncode == 0, seed.stderr
    assert "seeded 6 college types, 16 configuration keys, 72 new and 0 updated" in seed.stdout
    accounts = dict(re.findall(r"^\s+\w+\s+(demo_\w+)\s+(\S+)$", seed.stdout, re.MULTILINE))
    assert set(accounts) == {"demo_student", "demo_examiner", "demo_admin", "demo_analyst"}

    import sqlite3

    with sqlite3.connect(tmp_path / "newspeech.db") as connection:
        stored = dict(connection.execute("SELECT username, password_hash FROM users"))
        assigned = connection.execute(
            "SELECT u.username, c.college_type FROM examiner_colleges c"
            " JOIN users u ON u.id = c.user_id"
        ).fetchall()
    assert assigned == [("demo_examiner", "medical")]
    for username, password in accounts.items():
        assert verify_password(stored[username], password)
        assert not verify_password(stored[username], password + "x")


def test_bad_settings_exit_with_a_clear_message(newspeech: Newspeech) -> None:
    result = newspeech("db", "upgrade", env={"DB_POOL_SIZE": "-3"})
    assert result.returncode == 2
    assert "invalid settings" in result.stderr
    assert "DB_POOL_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_fewer_than_one_worker_from_a_shell(tmp_path: Path) -> None:
    result = run_cli("serve", "--workers", "0", data_dir=tmp_path)
    assert result.returncode == 2
    assert "--workers must be 1 or more, not 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_fewer_than_one_worker_from_the_environment(newspeech: Newspeech) -> None:
    result = newspeech("serve", env={"NEWSPEECH_WORKERS": "0"})
    assert result.returncode == 2
    assert "NEWSPEECH_WORKERS" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["--help"], ["db", "--help"]])
def test_help_lists_commands(command: list[str], newspeech: Newspeech) -> None:
    result = newspeech(*command)
    assert result.returncode == 0
    assert "upgrade" in result.stdout or "serve" in result.stdout


def test_audio_purge_dry_run_reports_and_retention_zero_keeps_everything(
    tmp_path: Path, newspeech: Newspeech
) -> None:
    assert newspeech("db", "upgrade").returncode == 0
    dry = newspeech("audio", "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete the audio of 0 answers" in dry.stdout
    assert "retention 365 days" in dry.stdout
    # The audio commands from a shell.
    kept = run_cli("audio", "purge", data_dir=tmp_path, env={"NEWSPEECH_AUDIO_RETENTION_DAYS": "0"})
    assert kept.returncode == 0, kept.stderr
    assert "kept forever" in kept.stdout
    bad = newspeech("audio", "purge", env={"NEWSPEECH_AUDIO_STORE": "s3"})
    assert bad.returncode == 2
    assert "NEWSPEECH_AUDIO_S3_BUCKET" in bad.stderr


def test_worker_without_a_broker_says_so_before_checking_its_models(
    newspeech: Newspeech, tmp_path: Path
) -> None:
    # An empty value is no broker (and hides one set in the environment running the tests).
    # Whisper base would be assembled in the data folder by the model check: it never starts.
    result = newspeech(
        "worker", env={"NEWSPEECH_BROKER_URL": "", "NEWSPEECH_WHISPER_MODEL": "base"}
    )
    assert result.returncode == 2
    assert "set NEWSPEECH_BROKER_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "models").exists()


def test_worker_needs_a_broker_it_knows_and_says_so_from_a_shell(tmp_path: Path) -> None:
    result = run_cli("worker", data_dir=tmp_path, env={"NEWSPEECH_BROKER_URL": "kafka://127.0.0.1"})
    assert result.returncode == 2
    assert "BROKER_URL must start with redis://" in result.stderr
    assert "Traceback" not in result.stderr


def test_voice_prerender_fills_the_disk_store_once(tmp_path: Path, newspeech: Newspeech) -> None:
    espeak = {"NEWSPEECH_TTS_ENGINE": "espeak"}  # quick to synthesise; the store is the same
    for command in (("db", "upgrade"), ("db", "seed")):
        assert newspeech(*command).returncode == 0

    first = newspeech("voice", "prerender", "--college", "medical", env=espeak)
    assert first.returncode == 0, first.stderr
    assert "fixed phrases: 10 utterances, 10 synthesised" in first.stdout
    assert "medical: 16 utterances, 16 synthesised" in first.stdout
    assert "26 synthesised, 0 already stored" in first.stdout
    stored = list((tmp_path / "phrases").rglob("*.pcm"))
    assert len(stored) == 26
    assert all(path.stat().st_size > 10_000 for path in stored)

    again = newspeech("voice", "prerender", "--college", "medical", env=espeak)
    assert "0 synthesised, 26 already stored" in again.stdout

    off = run_cli(  # the voice commands from a shell
        "voice", "prerender", data_dir=tmp_path, env={**espeak, "NEWSPEECH_TTS_DISK_CACHE_MB": "0"}
    )
    assert off.returncode == 2
    assert "the disk store is off" in off.stderr
    unknown = newspeech("voice", "prerender", "--college", "dentistry")
    assert unknown.returncode == 2
    assert "no college type dentistry" in unknown.stderr


def test_ask_grant_login_on_sqlite_says_there_are_no_logins(tmp_path: Path) -> None:
    result = run_cli(
        "ask",
        "grant-login",
        "ask_login",
        data_dir=tmp_path,
        env={"NEWSPEECH_ASK_LOGIN_PASSWORD": "a long enough password"},
    )
    assert result.returncode == 2
    assert "SQLite has no logins" in result.stderr
    assert "Traceback" not in result.stderr


def test_building_the_parser_loads_no_command_s_modules() -> None:
    """Every command (and every test that runs one) pays for what ``newspeech.cli`` imports."""
    probe = (
        "import sys, newspeech.cli; "
        "print(' '.join(m for m in ('sqlalchemy', 'fastapi', 'faster_whisper', 'onnxruntime', "
        "'numpy', 'sqlglot', 'httpx', 'websockets', 'av', 'alembic') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert loaded.stdout.split() == []


def test_the_parser_offers_every_question_format() -> None:
    from newspeech.cli import QUESTION_FORMATS
    from newspeech.questions.interchange import ImportFormat

    assert set(QUESTION_FORMATS) == {f.value for f in ImportFormat}
