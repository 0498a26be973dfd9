"""Exam page benchmark in real headless Chromium: how fast the page silences the examiner on
``flush``, and what streaming the microphone costs.

    scripts/bench web                 # 10 barge-ins; table + bench/results/web.json
    scripts/bench web --runs 20

Each run opens the page in Debian's Chromium, starts an exam against the scripted protocol
server of tests/web (examiner audio sent 1 s ahead of real time), and speaks "one two three"
over a 15 s question through the fake microphone, so the server barges in and sends ``flush``.
Measured in the page: flush requested -> the playback worklet's confirmation that its queue is
empty (a round trip main thread -> audio thread -> main thread, so an upper bound on the time
until no more queued audio is rendered), the audio it dropped, and the output device latency
that audio already handed to the device still has to play. Also: 20 ms frames sent per second
since session_started (expected 50) and Chromium's CPU time per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright
from tests.web import browser as web
from tests.web.scripted_exam import ExamScript, create_scripted_exam_app

from newspeech import __version__
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.seed import seed_reference_data
from newspeech.voice.pool import InferencePool
from newspeech.voice.stt import WhisperSpeechToText

SHARED_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio"
RESULTS = Path(__file__).resolve().parent / "results" / "web.json"
TOKEN = "bench-token"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def children_cpu_seconds() -> float:
    """CPU time of finished child processes (the Playwright driver and the Chromium it ran)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def one_barge_in(browser: Browser, url: str, scripts: list[ExamScript]) -> dict[str, Any]:
    script = ExamScript(token=TOKEN, question_seconds=15.0)
    scripts.append(script)
    page = await browser.new_page()
    try:
        await page.goto(f"{url}/?token={TOKEN}")
        await page.wait_for_function("!document.getElementById('college').disabled")
        await page.select_option("#college", "medical")
        await page.click("#start")
        await page.wait_for_function(
            "window.newspeechExam.diagnostics().playback?.flushMs != null", timeout=30_000
        )
        state: dict[str, Any] = await page.evaluate("window.newspeechExam.diagnostics()")
        await page.click("#end")
        await page.click("#end-confirm")  # End exam asks first
        await page.wait_for_function("window.newspeechExam.diagnostics().lastClose !== null")
    finally:
        await page.close()
    playback = state["playback"]
    return {
        "flush_ms": playback["flushMs"],
        "dropped_ms": 1000 * playback["droppedFrames"] / state["contextSampleRate"],
        "output_latency_ms": playback["outputLatencyMs"],
        "frames_per_second": state["framesSent"] / state["activeSeconds"],
        "context_sample_rate": state["contextSampleRate"],
    }


async def run(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch)
        settings = Settings(
            environment="test",
            data_dir=data_dir,
            database_url=f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
            speech_enabled=False,
        )
        engine = create_engine(settings)
        await upgrade(engine)
        async with create_sessionmaker(engine)() as db:
            await seed_reference_data(db)
            await db.commit()
        await engine.dispose()
        wav = web.answer_wav(SHARED_AUDIO, data_dir / "answer.wav")
        pool = InferencePool(workers=1)
        stt = WhisperSpeechToText.from_settings(settings, pool=pool)
        scripts: list[ExamScript] = []
        samples: list[dict[str, Any]] = []
        try:
            async with web.serving(create_scripted_exam_app(settings, scripts, stt)) as url:
                cpu_before = children_cpu_seconds()
                wall_before = time.monotonic()
                async with async_playwright() as driver:
                    browser = await web.launch_chromium(driver, wav)
                    for _ in range(runs):
                        samples.append(await one_barge_in(browser, url, scripts))
                    await browser.close()
                cpu = children_cpu_seconds() - cpu_before
                wall = time.monotonic() - wall_before
        finally:
            pool.close()
    flush = [s["flush_ms"] for s in samples]
    return {
        "version": __version__,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "runs": runs,
        "flush_ms": {
            "p50": statistics.median(flush),
            "p95": percentile(flush, 0.95),
            "max": max(flush),
        },
        "dropped_ms_median": statistics.median(s["dropped_ms"] for s in samples),
        "output_latency_ms": samples[0]["output_latency_ms"],
        "context_sample_rate": samples[0]["context_sample_rate"],
        "frames_per_second_median": statistics.median(s["frames_per_second"] for s in samples),
        "browser_cpu_share_of_one_core": cpu / wall,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    report = asyncio.run(run(args.runs))
    flush = report["flush_ms"]
    rows = [
        ("flush -> queue empty (ms) p50", f"{flush['p50']:.2f}"),
        ("flush -> queue empty (ms) p95", f"{flush['p95']:.2f}"),
        ("flush -> queue empty (ms) max", f"{flush['max']:.2f}"),
        ("queued examiner audio dropped (ms, median)", f"{report['dropped_ms_median']:.0f}"),
        ("output device latency (ms)", f"{report['output_latency_ms']:.1f}"),
        ("AudioContext sample rate (Hz)", f"{report['context_sample_rate']}"),
        (
            "mic frames sent per second (median; 50 expected)",
            f"{report['frames_per_second_median']:.1f}",
        ),
        (
            "Chromium + driver CPU (share of one core)",
            f"{report['browser_cpu_share_of_one_core']:.2f}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"exam page in headless Chromium, {report['runs']} barge-ins")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
