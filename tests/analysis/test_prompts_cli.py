from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from newspeech.cli import main

Runner = Callable[..., tuple[int, str, str]]


@pytest.fixture
def newspeech(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Runner:
    """Runs the ``newspeech`` command in-process on a fresh SQLite file; returns
    (exit code, stdout, stderr)."""
    monkeypatch.delenv("NEWSPEECH_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEWSPEECH_DATA_DIR", str(tmp_path))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    assert run("db", "upgrade")[0] == 0
    return run


def test_prompts_sync_seeds_the_shipped_set_once_and_lists_it(newspeech: Runner) -> None:
    run = newspeech

    dry = run("prompts", "sync", "--dry-run")
    first = run("prompts", "sync")
    again = run("prompts", "sync")
    code, listed, _ = run("prompts", "list")

    assert dry[0] == 0, dry[2]
    assert dry[1].splitlines()[-1] == (
        "dry run, nothing stored: 18 new, 0 changed (new version), 0 unchanged, 0 retired"
    )
    assert first[0] == 0, first[2]
    assert "new          interview/client-brief/hotel/part 2 requirements.md" in first[1]
    assert first[1].splitlines()[-1] == "18 new, 0 changed (new version), 0 unchanged, 0 retired"
    assert again[1].strip() == "0 new, 0 changed (new version), 18 unchanged, 0 retired"
    assert code == 0
    lines = listed.splitlines()
    assert len(lines) == 18
    assert any("interview/client-brief/spa  part 2 Requirements  v1" in line for line in lines)


def test_prompts_sync_of_a_bad_tree_exits_with_the_problems(
    newspeech: Runner, tmp_path: Path
) -> None:
    run = newspeech
    folder = tmp_path / "prompts" / "interview" / "client-brief" / "hotel"
    folder.mkdir(parents=True)
    (folder / "summary.md").write_text("Summarise the interview.")

    code, _, err = run("prompts", "sync", str(tmp_path / "prompts"))

    assert code == 2
    assert "interview/client-brief/hotel/summary.md: not a prompt" in err
