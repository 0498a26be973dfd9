"""``bench.grading`` scores an LLM grader against SAF's human marks through any
OpenAI-compatible endpoint: here the repository's fake chat server, on a small sample."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bench.grading import main

from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving

API_KEY = "sk-bench-test-7"


async def test_bench_scores_an_llm_endpoint_on_saf(tmp_path: Path) -> None:
    script = ChatServerScript(api_key=API_KEY)
    out = tmp_path / "grading.json"
    async with serving(create_chat_app(script)) as url:
        await asyncio.to_thread(
            main,
            ["--sections", "saf", "--only", "llm", "--limit", "1", "--answers", "3",
             "--llm-url", url, "--llm-key", API_KEY, "--llm-model", script.model,
             "--out", str(out)],
        )  # fmt: skip
    rows = json.loads(out.read_text(encoding="utf-8"))["saf"]
    assert [(r["split"], r["grader"], r["answers"]) for r in rows] == [
        ("unseen_answers", "llm", 3),
        ("unseen_questions", "llm", 3),
    ]
    assert all(-1.0 <= r["qwk"] <= 1.0 and 0.0 <= r["within_one"] <= 1.0 for r in rows)
    # Every answer went to the server, with the 0-10 partial-credit rubric.
    assert len(script.requests) == 6
    system = script.requests[0]["messages"][0]["content"]
    assert "0-10 scale with partial credit" in system
