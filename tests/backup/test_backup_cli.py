"""``newspeech backup create | verify | restore`` as the README shows them: run in-process (the
``newspeech`` fixture), and once from a shell."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from newspeech.configuration.values import SEED_DEFAULTS
from tests.fixtures.cli import Newspeech
from tests.test_cli import run_cli


def test_backup_verify_and_restore_from_the_command_line(newspeech: Newspeech) -> None:
    data = newspeech.data_dir
    assert newspeech("db", "upgrade").returncode == 0
    assert newspeech("db", "seed").returncode == 0
    (data / "answer-audio" / "1").mkdir(parents=True)
    (data / "answer-audio" / "1" / "1.ogg").write_bytes(b"OggS" + bytes(1000))

    create = newspeech("backup", "create")
    assert create.returncode == 0, create.stderr
    archive = Path(create.stdout.split()[1])
    assert archive.parent == data / "backups"
    assert "1 recordings" in create.stdout

    verify = newspeech("backup", "verify", str(archive))
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith(f"{archive}: OK")

    refused = newspeech("backup", "restore", str(archive))
    assert refused.returncode == 2
    assert "not empty" in refused.stderr
    assert "--force" in refused.stderr

    with sqlite3.connect(data / "newspeech.db") as db:
        db.execute("DELETE FROM configuration")
    (data / "answer-audio" / "1" / "1.ogg").unlink()
    restored = newspeech("backup", "restore", "--force", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "configuration" in restored.stdout
    with sqlite3.connect(data / "newspeech.db") as db:
        count = db.execute("SELECT count(*) FROM configuration").fetchone()[0]
        assert count == len(SEED_DEFAULTS)
    assert (data / "answer-audio" / "1" / "1.ogg").read_bytes() == b"OggS" + bytes(1000)


def test_verify_names_a_missing_archive(tmp_path: Path) -> None:
    # The backup commands from a shell.
    missing = run_cli("backup", "verify", str(tmp_path / "none.tar"), data_dir=tmp_path)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
