"""Spoken-exam latency over the real WebSocket: voice-to-voice, response, barge-in, concurrency.

    scripts/bench latency                 # table + bench/results/latency.json
    scripts/bench latency --levels 1,10   # a shorter sweep
    scripts/bench latency --conversation scripted   # the scripted exam (no grading, no DB)
    scripts/bench latency --levels 20 --stagger 3   # a class whose students start over a minute

A server process runs the real app (Silero VAD, Smart Turn v3.2, whisper tiny.en, Piper, the
session loop, the WebSocket edge). By default THE EXAM IS REAL: the exam service and engine,
the hybrid grader (MiniLM), every answer, evaluation, latency and audit row written to a
seeded SQLite database, students signed in through the login endpoint. Each simulated student
confirms identity ("Yes, that is me."), hears the first case, answers ``--questions``
questions with Piper-voiced sentences from the bank's model answers, then ends the sitting
(the result is computed and stored). ``--conversation scripted`` runs the scripted
conversation of tests/fixtures/scripted_conversation.py instead (keyword score, fixed
feedback, no database): real recordings (JFK, ../shared/audio) and Piper-voiced answers.

Simulated candidates (newspeech.client.candidate) stream at real-time pace, 20 ms a message.
Latencies are the server's own
per-turn measurements (``latency`` and ``flush`` events):
  voice-to-voice = end of speech → first examiner audio byte sent,
  response       = turn declared → first examiner audio byte sent,
  barge-in stop  = interruption decision → last examiner audio byte sent.
Server RSS is sampled from /proc while the exams run; MB/exam is (peak - idle) / exams, and the
RSS per extra exam compares the largest level's peak with the smallest's. Each load level also
prints its CPU budget (bench/_budget.py): the server's own counters of CPU time by component (VAD,
turn model, final / kept / discarded speculative decodes, grading, TTS, answer-audio encoding, and
the event loop with everything else), per exam-minute, the physical limit that implies (exams the
cores carry at full use) and the level's load as a fraction of it, and the inference pool's waits
by urgency. Goals on a 2-core box (issue 15): one exam response p50 <= 150 ms, p95 <= 300 ms,
voice-to-voice p50 <= 500 ms; 20 concurrent exams with response p95 <= 1 s and p50 <= 400 ms;
<= 10 MB RSS per connected exam beyond the shared models.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench._budget import budget, print_budgets, scrape
from bench._latency_server import PASSWORD, TOKEN, student_name
from newspeech import __version__, weights
from newspeech.client.candidate import IDENTITY, Candidate, ExamReport
from newspeech.questions.banks import load_banks
from newspeech.voice.audio import decode_audio, resample_pcm16
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.tts import PiperTextToSpeech

AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio"
RESULTS = Path(__file__).resolve().parent / "results"
CORES = len(os.sched_getaffinity(0))
"""The cores the server may use (the budget's "full use")."""
CONVERSATIONS = {
    "real": "REAL exam: exam service + engine, hybrid grader (MiniLM), SQLite database; each "
    "student confirms identity, hears case 1, answers questions 1-{questions} (Piper-voiced "
    "model-answer sentences), then ends the sitting (result stored)",
    "scripted": "SCRIPTED (tests/fixtures/scripted_conversation.py): grading and database "
    "writes are not measured",
}
PIPER_ANSWERS = (
    "The left ventricle pumps oxygenated blood into the aorta and out to the body.",
    "Intramuscular adrenaline half a milligram repeated after five minutes if needed.",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(np.asarray(values), q)), 1)


IDENTITY_ANSWER = "Yes, that is me."


def model_answer_openings(count: int, words: int = 8) -> list[str]:
    """The opening sentence of the medical bank's first ``count`` model answers, in the order
    the exam asks them (case by case). One sentence: Piper pauses between sentences and Smart
    Turn rightly ends the turn there, so a longer answer would spill into the next question."""
    (bank,) = [b for b in load_banks() if b.college_type == "medical"]
    rows = sorted(bank.question_rows(), key=lambda r: (r["scenario_id"], r["question_number"]))
    openings = []
    for row in rows[:count]:
        out: list[str] = []
        for word in str(row["model_answer"]).split():
            out.append(word)
            if len(out) >= words and word.endswith("."):
                break
        openings.append(" ".join(out))
    return openings


async def piper_voiced(texts: list[str]) -> list[PCM16]:
    pool = InferencePool(1)
    try:
        voice = await pool.run(
            PiperTextToSpeech.load,
            weights.locate(weights.PIPER_JOE),
            weights.locate(weights.PIPER_JOE_CONFIG),
            pool,
        )
        voiced = []
        for text in texts:
            pcm = b"".join([chunk.pcm async for chunk in voice.stream(text)])
            voiced.append(resample_pcm16(np.frombuffer(pcm, dtype=np.int16), voice.sample_rate))
    finally:
        pool.close()
    return voiced


async def real_answers(questions: int) -> dict[int, PCM16]:
    """The identity reply ("Yes, that is me."), then answer k for question k."""
    identity, *voiced = await piper_voiced([IDENTITY_ANSWER, *model_answer_openings(questions)])
    return {IDENTITY: identity} | dict(enumerate(voiced, start=1))


async def answers() -> dict[int, PCM16]:
    """Answer k for question k of the scripted exam: two recordings, two Piper-voiced answers."""
    jfk = decode_audio((AUDIO / "whisper_jfk.flac").read_bytes(), max_seconds=60)
    voiced = await piper_voiced(list(PIPER_ANSWERS))
    return {
        1: jfk[round(7.9 * SAMPLE_RATE) :],  # "ask what you can do for your country"
        2: voiced[0],
        3: voiced[1],
        4: jfk[round(3.0 * SAMPLE_RATE) :],  # with a 1 s thinking pause mid-sentence
    }


@dataclass(frozen=True)
class Exams:
    """What each simulated student brings: the socket, answers, sign-in tokens (student i of
    a batch uses token i), and the question after which they end the sitting (None: never)."""

    url: str
    audio: dict[int, PCM16]
    tokens: list[str]
    end_after: int | None = None
    stagger: float = 0.05
    """Seconds between one student's start and the next's."""
    open_timeout: float = 10.0
    """Seconds each student waits for the WebSocket's opening handshake."""


async def run_exams(
    exams: Exams,
    count: int,
    *,
    barge_in_after: float | None = None,
    durations: list[float] | None = None,
) -> list[ExamReport]:
    """``count`` exams at once (``durations``: each one's seconds from connecting to the end)."""
    candidates = [
        Candidate(
            exams.url,
            exams.tokens[i % len(exams.tokens)],
            "medical",
            exams.audio,
            barge_in_after=barge_in_after,
            end_after=exams.end_after,
            open_timeout=exams.open_timeout,
        )
        for i in range(count)
    ]

    async def one(candidate: Candidate, delay: float) -> ExamReport:
        await asyncio.sleep(delay)  # students do not all press start in the same millisecond
        started = time.perf_counter()
        report = await candidate.run()
        if durations is not None:
            durations.append(time.perf_counter() - started)
        return report

    return await asyncio.gather(*(one(c, i * exams.stagger) for i, c in enumerate(candidates)))


async def sign_in(port: int, students: int) -> list[str]:
    """Access tokens of the bench students, through ``POST /api/v1/auth/login``."""
    tokens = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for n in range(students):
            response = await client.post(
                "/api/v1/auth/login", json={"username": student_name(n), "password": PASSWORD}
            )
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
    return tokens


def turn_values(reports: list[ExamReport], key: str, *, graded: bool = False) -> list[float]:
    """``key`` of every measured turn (``graded``: only answers to questions, not the identity
    check or other replies that are not graded)."""
    return [
        float(t.latency[key])
        for r in reports
        for t in r.turns
        if t.latency.get(key) is not None and (t.score is not None or not graded)
    ]


async def sample_rss(pid: int, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(rss_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def level(exams: Exams, pid: int, port: int, count: int) -> dict[str, Any]:
    samples: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, samples, stop))
    before = await scrape(port)
    start = time.perf_counter()
    durations: list[float] = []
    reports = await run_exams(exams, count, durations=durations)
    wall = time.perf_counter() - start
    stop.set()
    await sampler
    # Encoding the last answers' audio runs in the background just after the exams end.
    await asyncio.sleep(2.0)
    costs = budget(
        before,
        await scrape(port),
        exam_seconds=sum(durations),
        wall_seconds=wall + 2.0,
        cores=CORES,
    )
    limit = costs["physical_limit_exams"]
    response = turn_values(reports, "response_ms")
    v2v = turn_values(reports, "voice_to_voice_ms")
    return {
        "exams": count,
        "completed": sum(r.result is not None for r in reports),
        "endings": dict(
            Counter(f"{r.ended or 'no ended event'} / {r.close_code}" for r in reports)
        ),
        "turns": len(response),
        "errors": sum(len(r.errors) for r in reports),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "response_ms": {"p50": percentile(response, 50), "p95": percentile(response, 95)},
        "voice_to_voice_ms": {"p50": percentile(v2v, 50), "p95": percentile(v2v, 95)},
        "turn_to_transcript_ms_p95": percentile(turn_values(reports, "turn_to_transcript_ms"), 95),
        "server_rss_peak_mb": round(max(samples), 1),
        "budget": costs,
        "load_of_limit": round(count / limit, 2) if limit else None,
        "transcripts": sorted({t.transcript.strip() for r in reports for t in r.turns}),
    }


async def bench(
    args: argparse.Namespace, server: subprocess.Popen[bytes], port: int
) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/ws/exam"
    real = args.conversation == "real"
    audio = await (real_answers(args.questions) if real else answers())
    await wait_for_server(port, server)
    idle = rss_mb(server.pid)
    print(f"server up (pid {server.pid}), models loaded and warm: RSS {idle:.0f} MB")
    if real:
        tokens = await sign_in(port, max([args.exams, *args.levels]))
        exams = Exams(url, audio, tokens, end_after=args.questions, stagger=args.stagger)
    else:
        exams = Exams(url, audio, [TOKEN], stagger=args.stagger)
    sequential = [r for _ in range(args.exams) for r in await run_exams(exams, 1)]
    print(f"  {args.exams} exams one at a time: done")
    barge = await run_exams(exams, args.exams, barge_in_after=1.0)
    stops = [float(f["stop_ms"]) for r in barge for f in r.flushes]
    sweep = []
    for count in args.levels:
        result = await level(exams, server.pid, port, count)
        result["rss_per_exam_mb"] = round((result["server_rss_peak_mb"] - idle) / count, 2)
        sweep.append(result)
        print(f"  {count} concurrent: done in {result['wall_seconds']} s")
    response = turn_values(sequential, "response_ms")
    v2v = turn_values(sequential, "voice_to_voice_ms")
    graded = turn_values(sequential, "response_ms", graded=True)
    return {
        "benchmark": "latency",
        "version": __version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cores_used_for_budget": CORES,
        "conversation": CONVERSATIONS[args.conversation].format(questions=args.questions),
        "stagger_seconds": args.stagger,
        "engines": "silero vad, smart-turn v3.2, whisper tiny.en int8, piper en_US-joe-medium"
        + (", hybrid grader (MiniLM)" if real else ""),
        "server_rss_idle_mb": round(idle, 1),
        "single": {
            "exams": len(sequential),
            "turns": len(response),
            "response_ms": {"p50": percentile(response, 50), "p95": percentile(response, 95)},
            "voice_to_voice_ms": {"p50": percentile(v2v, 50), "p95": percentile(v2v, 95)},
            "graded_turns": len(graded),
            "graded_response_ms": {"p50": percentile(graded, 50), "p95": percentile(graded, 95)},
            "scores": [t.score for r in sequential for t in r.turns if t.score is not None],
            "transcripts": [t.transcript.strip() for r in sequential for t in r.turns],
        },
        "barge_in": {
            "exams": len(barge),
            "flushes": len(stops),
            "stop_ms": {"p50": percentile(stops, 50), "p95": percentile(stops, 95)},
        },
        "concurrency": sweep,
        "rss_marginal_mb_per_exam": marginal_rss(sweep),
    }


def marginal_rss(sweep: list[dict[str, Any]]) -> float | None:
    """RSS one more connected exam costs: (peak at the largest level - peak at the smallest)
    / (the difference in exams). Unlike ``rss_per_exam_mb`` it leaves out the one-off growth
    the first exam causes (caches filled, arenas grown), which no later exam pays again."""
    if len(sweep) < 2:
        return None
    low = min(sweep, key=lambda row: row["exams"])
    high = max(sweep, key=lambda row: row["exams"])
    if high["exams"] == low["exams"]:
        return None
    extra = float(high["server_rss_peak_mb"]) - float(low["server_rss_peak_mb"])
    return round(extra / (int(high["exams"]) - int(low["exams"])), 2)


async def wait_for_server(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the bench server exited with {server.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("the bench server did not start in 300 s")


def print_table(result: dict[str, Any]) -> None:
    print(f"\nconversation: {result['conversation']}")
    print(f"students start {result['stagger_seconds']} s apart")
    single, barge = result["single"], result["barge_in"]
    print(f"\none exam at a time ({single['exams']} exams, {single['turns']} turns)")
    print(f"  {'metric':<34}{'p50':>9}{'p95':>9}")
    for label, key in (
        ("voice-to-voice (ms)", "voice_to_voice_ms"),
        ("response (ms)", "response_ms"),
    ):
        print(f"  {label:<34}{single[key]['p50']!s:>9}{single[key]['p95']!s:>9}")
    graded = single["graded_response_ms"]
    label = f"response, graded answers ({single['graded_turns']})"
    print(f"  {label:<34}{graded['p50']!s:>9}{graded['p95']!s:>9}")
    stop = barge["stop_ms"]
    print(f"  {'barge-in decision → last byte (ms)':<34}{stop['p50']!s:>9}{stop['p95']!s:>9}")
    print(f"  ({barge['flushes']} barge-ins in {barge['exams']} exams)")
    print(f"\nserver RSS with models loaded, idle: {result['server_rss_idle_mb']} MB")
    header = (
        f"{'exams':>6}{'done':>6}{'turns':>7}{'resp p50':>10}{'resp p95':>10}"
        f"{'v2v p50':>9}{'v2v p95':>9}{'RSS MB':>8}{'MB/exam':>9}{'wall s':>8}"
    )
    print(header)
    for row in result["concurrency"]:
        print(
            f"{row['exams']:>6}{row['completed']:>6}{row['turns']:>7}"
            f"{row['response_ms']['p50']!s:>10}{row['response_ms']['p95']!s:>10}"
            f"{row['voice_to_voice_ms']['p50']!s:>9}{row['voice_to_voice_ms']['p95']!s:>9}"
            f"{row['server_rss_peak_mb']:>8}{row['rss_per_exam_mb']:>9}{row['wall_seconds']:>8}"
        )
    marginal = result.get("rss_marginal_mb_per_exam")
    if marginal is not None:
        print(f"RSS per extra connected exam (largest level vs smallest): {marginal} MB")
    print_budgets(result["concurrency"], result["cores_used_for_budget"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exams", type=int, default=2, help="sequential exams (and barge-in runs)")
    parser.add_argument(
        "--conversation",
        choices=("real", "scripted"),
        default="real",
        help="the real exam (default) or the scripted one",
    )
    parser.add_argument(
        "--questions", type=int, default=3, help="real exam: questions answered before ending"
    )
    parser.add_argument(
        "--levels",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 10, 25, 50],
        help="simultaneous exams to sweep (default 1,10,25,50)",
    )
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.05,
        help="seconds between one student's start and the next's (default 0.05: every "
        "student answers the same audio in step, the worst burst; a class that started "
        "over a minute is --stagger 3 at 20 students)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latency.json")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench._latency_server",
            "--port",
            str(port),
            "--conversation",
            args.conversation,
            "--students",
            str(max([args.exams, *args.levels])),
        ],
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        result = asyncio.run(bench(args, server, port))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
