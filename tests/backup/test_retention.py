"""Keeping the newest backups, and never overwriting one."""

from __future__ import annotations

from pathlib import Path

import pytest

from newspeech.backup.service import ArchiveExists, create_backup, prune_archives
from newspeech.config import Settings


def test_pruning_keeps_the_newest_archives_and_other_files(tmp_path: Path) -> None:
    names = [f"newspeech-2026120{day}T020000Z.tar" for day in (3, 1, 4, 2)]
    for name in [*names, "before-upgrade.tar", "newspeech-notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    deleted = prune_archives(tmp_path, keep=2)
    assert sorted(p.name for p in deleted) == [
        "newspeech-20261201T020000Z.tar",
        "newspeech-20261202T020000Z.tar",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "before-upgrade.tar",
        "newspeech-20261203T020000Z.tar",
        "newspeech-20261204T020000Z.tar",
        "newspeech-notes.txt",
    ]


async def test_an_existing_archive_is_never_overwritten(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, speech_enabled=False)
    output = tmp_path / "backup.tar"
    output.write_bytes(b"an older backup")
    with pytest.raises(ArchiveExists, match="exists already"):
        await create_backup(settings, output)
    assert output.read_bytes() == b"an older backup"
