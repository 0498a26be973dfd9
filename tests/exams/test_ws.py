"""The exam WebSocket end to end: a real server (uvicorn + ``create_app`` with the real speech
engines), a real client, real recordings and Piper-voiced answers, the scripted exam.

These run in real time, for what only the wire shows (framing, events, close codes, the CLI);
where the client's pacing meets the server's frames is up to the machine's load, so they assert
structure and order, not the words of a recognition or a mark. What the loop hears and grades
from the same audio is pinned on the virtual clock (``tests/voice/test_session.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from newspeech.app import create_app
from newspeech.cli import main
from newspeech.config import Settings
from newspeech.exams.ws import OpenedExam, ResumeExam, StartExam
from newspeech.voice.audio import decode_audio, encode_wav
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from tests.exams.ws_client import parse, serve
from tests.fixtures.scripted_conversation import ScriptedOpener, ScriptedQuestion
from tests.fixtures.voices import CandidateVoices
from tests.voice.wer import normalize

TOKEN = "token-of-alice"
QUESTIONS = (
    ScriptedQuestion("What did the president ask of his fellow Americans?", ("country",)),
    ScriptedQuestion("Which chamber of the heart pumps blood to the body?", ("left ventricle",)),
)
PIPER_ANSWER = "The left ventricle pumps blood into the aorta."


@pytest.fixture(scope="module")
def opener() -> ScriptedOpener:
    return ScriptedOpener(
        {TOKEN: "alice", "token-of-bob": "bob"}, QUESTIONS, silence_prompt_seconds=2.0
    )


@pytest.fixture(scope="module")
async def server(
    opener: ScriptedOpener, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Any]]:
    settings = Settings(
        environment="test", data_dir=tmp_path_factory.mktemp("ws"), inference_workers=2
    )
    app = create_app(settings, exam_opener=lambda _state: opener)
    async with serve(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def piper_answer(voices: CandidateVoices) -> PCM16:
    """A spoken answer in Piper's voice (the server's own), the same samples every run."""
    return voices.piper(PIPER_ANSWER)


def said(text: str) -> str:
    return " ".join(normalize(text))


async def start(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    await ws.send(
        json.dumps({"type": "start", "token": TOKEN, "college_type": "medical", **fields})
    )
    return await next_event(ws)


async def next_event(ws: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    while True:
        message = parse(await asyncio.wait_for(ws.recv(), 120))
        if isinstance(message, dict) and kind in (None, message["type"]):
            return message


class Microphone:
    """Streams 20 ms messages at real-time pace: silence, or the queued answers."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[PCM16] = asyncio.Queue()

    async def run(self) -> None:
        step = SAMPLE_RATE // 50
        quiet = np.zeros(step, dtype=np.int16)
        pending = np.zeros(0, dtype=np.int16)
        try:
            while True:
                if pending.size == 0 and not self.queue.empty():
                    pending = self.queue.get_nowait()
                frame, pending = (
                    (pending[:step], pending[step:]) if pending.size else (quiet, pending)
                )
                await self.ws.send(frame.astype("<i2").tobytes())
                await asyncio.sleep(0.02)
        except ConnectionClosed:
            return


async def test_a_whole_exam_over_the_socket_with_the_real_engines(
    server: tuple[str, Any], shared_dir: Path, piper_answer: PCM16
) -> None:
    url, app = server
    jfk = decode_audio((shared_dir / "audio/whisper_jfk.flac").read_bytes(), max_seconds=60)
    answers = [np.concatenate([jfk[round(7.9 * SAMPLE_RATE) :]]), piper_answer]
    events: list[dict[str, Any]] = []
    audio_bytes = 0
    async with connect(url) as ws:
        started = await start(ws)
        assert started["type"] == "session_started"
        assert started["input_audio"] == {
            "sample_rate": 16000,
            "encoding": "pcm_s16le",
            "channels": 1,
        }
        assert started["output_audio"]["sample_rate"] == 22050
        assert started["total_questions"] == 2
        microphone = Microphone(ws)
        streaming = asyncio.create_task(microphone.run())
        try:
            async for message in ws:
                item = parse(message)
                if isinstance(item, bytes):
                    audio_bytes += len(item)
                    continue
                events.append(item)
                if item["type"] == "listening" and answers:
                    microphone.queue.put_nowait(answers.pop(0))
        finally:
            streaming.cancel()
        assert ws.close_code == 1000

    types = [e["type"] for e in events]
    assert types[-1] == "ended"
    assert events[-1]["reason"] == "completed"
    transcripts = [said(e["text"]) for e in events if e["type"] == "transcript" and e["final"]]
    assert len(transcripts) == 2
    assert all(transcripts), transcripts
    evaluations = [e for e in events if e["type"] == "evaluation"]
    assert [e["question_number"] for e in evaluations] == [1, 2]
    assert all(0 <= e["score"] <= 10 for e in evaluations)
    assert [e["number"] for e in events if e["type"] == "question"] == [1, 2]
    # Each answer comes after its question, and its evaluation after its transcript.
    order = [
        e["type"]
        for e in events
        if e["type"] in ("question", "evaluation") or (e["type"] == "transcript" and e["final"])
    ]
    assert order == ["question", "transcript", "evaluation"] * 2
    assert len([e for e in events if e["type"] == "latency"]) == 2
    result = next(e for e in events if e["type"] == "result")
    assert result["total_score"] == sum(e["score"] for e in evaluations)
    assert audio_bytes > 0
    assert audio_bytes % 2 == 0
    # The real engines were timed for /metrics as they served the exam.
    metrics = {
        s.name: s.value
        for family in text_string_to_metric_families(app.state.metrics.exposition().decode())
        for s in family.samples
        if s.labels in ({}, {"pool": "inference"})
    }
    assert metrics["newspeech_asr_seconds_count"] >= 2
    assert metrics["newspeech_tts_first_audio_seconds_count"] >= 1
    assert metrics["newspeech_inference_wait_seconds_count"] >= 2
    # ... and their CPU counted by component: the budget bench/latency.py prints.
    budget = {
        (s.name, s.labels.get("component"), s.labels.get("urgency")): s.value
        for family in text_string_to_metric_families(app.state.metrics.exposition().decode())
        for s in family.samples
        if s.name.startswith(("newspeech_inference_cpu", "newspeech_engine_thread_cpu"))
    }
    assert budget["newspeech_inference_cpu_seconds_total", "vad", "turn"] > 0
    assert budget["newspeech_engine_thread_cpu_seconds_total", "decode", None] > 0


async def test_malformed_messages_get_errors_and_the_socket_stays_open(
    server: tuple[str, Any],
) -> None:
    url, _app = server
    async with connect(url) as ws:
        await start(ws)
        for message in (
            b"\x00\x01\x02",  # half a sample
            bytes(32_002),  # more than a second
            "not json at all",
            "[" * 2000 + "]" * 2000,  # too deep for the parser's recursion
            "[" * 5000 + "]" * 5000,  # longer than any control
            "[1, 2, 3]",
            json.dumps({"type": "dance"}),
            json.dumps({"type": "start", "token": TOKEN, "college_type": "medical"}),
        ):
            await ws.send(message)
        errors = [(await next_event(ws, "error"))["error"] for _ in range(8)]
        assert errors == [
            "bad_audio",
            "audio_too_large",
            "bad_json",
            "bad_json",
            "message_too_large",
            "bad_message",
            "unknown_type",
            "already_started",
        ]
        await ws.send(json.dumps({"type": "ping", "id": 7}))
        assert await next_event(ws, "pong") == {"type": "pong", "id": 7}


@pytest.mark.parametrize(
    ("first", "code", "error"),
    [
        (b"\x00\x00", 4400, "bad_first_message"),
        ('{"type": "repeat"}', 4400, "bad_first_message"),
        ("{", 4400, "bad_first_message"),
        ({"type": "start", "token": "forged", "college_type": "medical"}, 4401, "unauthenticated"),
        ({"type": "start", "token": TOKEN, "college_type": "astrology"}, 4404, "not_found"),
        ({"type": "resume", "token": TOKEN, "session_code": "VIVA-NOPE"}, 4404, "not_found"),
    ],
)
async def test_a_bad_opening_closes_with_its_code(
    server: tuple[str, Any], first: Any, code: int, error: str
) -> None:
    url, _app = server
    async with connect(url) as ws:
        await ws.send(json.dumps(first) if isinstance(first, dict) else first)
        assert (await next_event(ws))["error"] == error
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == code


async def test_resume_is_for_the_owner_of_an_unfinished_sitting(
    server: tuple[str, Any], opener: ScriptedOpener
) -> None:
    url, _app = server
    async with connect(url) as ws:
        code = (await start(ws))["session_code"]
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "resume", "token": "token-of-bob", "session_code": code}))
        assert (await next_event(ws))["error"] == "permission_denied"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4403
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "resume", "token": TOKEN, "session_code": code}))
        resumed = await next_event(ws)
        assert resumed["type"] == "session_started"
        assert resumed["session_code"] == code
        await ws.send(json.dumps({"type": "end"}))
        assert (await next_event(ws, "ended"))["reason"] == "ended_by_student"
    assert opener.sittings[code][1].finished
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "resume", "token": TOKEN, "session_code": code}))
        assert (await next_event(ws))["error"] == "invalid_state"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4409


async def test_a_node_without_exams_says_so(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, speech_enabled=False)
    async with serve(create_app(settings)) as url, connect(url) as ws:
        await start(ws)
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1011


class BrokenOpener:
    """An opener that fails in a way nobody planned for (a bug, a dropped driver)."""

    async def open(self, request: StartExam | ResumeExam) -> OpenedExam:
        raise RuntimeError(f"unexpected failure opening {request.type}")


async def test_an_unexpected_failure_while_opening_says_server_error_and_closes_1011(
    tmp_path: Path,
) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, inference_workers=1)
    app = create_app(settings, exam_opener=lambda _state: BrokenOpener())
    async with serve(app) as url, connect(url) as ws:
        told = await start(ws)
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert told["error"] == "server_error"
    assert ws.close_code == 1011


async def test_the_cli_candidate_takes_an_exam_from_audio_files(
    server: tuple[str, Any],
    shared_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Question 1 is answered from a FLAC file; question 2 has no file: silence, the exam's
    silence rules move on, and the result is printed."""
    url, _app = server
    answers = tmp_path / "answers"
    answers.mkdir()
    jfk = decode_audio((shared_dir / "audio/whisper_jfk.flac").read_bytes(), max_seconds=60)
    (answers / "q1.wav").write_bytes(encode_wav(jfk[round(7.9 * SAMPLE_RATE) :]))
    argv = ["exam", "--url", url, "--token", TOKEN, "--answers", str(answers), "--speed", "2"]
    assert await asyncio.to_thread(main, argv) == 0

    out = capsys.readouterr().out
    assert "Q1/2: What did the president ask" in out
    assert re.search(r"heard: \S", out), out
    assert re.search(r"score \d+(\.\d+)?/10\.0", out), out
    assert re.search(r"result: \d+(\.\d+)?/20\.0 \(\d+(\.\d+)? %\), grade \w+", out), out
    assert "ended: completed (close code 1000)" in out
    assert out.count("voice-to-voice") >= 1


def test_the_cli_rejects_a_missing_answers_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["exam", "--token", TOKEN, "--answers", str(tmp_path / "none")]
    assert main(argv) == 2
    assert "does not exist" in capsys.readouterr().err


# -- fuzz (issue 13's fault suite) ---------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
MESSAGE_TYPES = st.sampled_from(
    ["ping", "repeat", "continue", "skip", "end", "start", "resume", "dance", "", "PING"]
)
FRAMES = st.one_of(
    st.integers(0, 40_000).map(bytes),  # silence of any length: odd, empty, over a second
    st.binary(max_size=640),  # noise, at most 20 ms of it a frame
    st.text(max_size=200),  # anything at all as text
    st.integers(1, 6_000).map(lambda depth: "[" * depth + "]" * depth),  # deep or too long
    st.builds(
        lambda kind, rest: json.dumps({**rest, "type": kind}),
        MESSAGE_TYPES | st.text(max_size=8),
        st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3),
    ),
    JSON_VALUES.map(json.dumps),
)


class Listener:
    """Reads everything the server sends on one connection; says when a pong arrives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.pongs: dict[Any, asyncio.Event] = {}

    async def run(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in self.ws:
                event = parse(message)
                if isinstance(event, dict):
                    self.events.append(event)
                    if event["type"] == "pong" and event.get("id") in self.pongs:
                        self.pongs[event["id"]].set()

    def errors(self) -> list[str]:
        return [e["error"] for e in self.events if e["type"] == "error"]


@hypothesis_settings(
    max_examples=30,
    derandomize=True,  # seeded: the same frames every run
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(frames=st.lists(FRAMES, min_size=80, max_size=120))
async def test_fuzzed_frames_never_bring_down_the_socket_or_the_server(
    server: tuple[str, Any], frames: list[str | bytes]
) -> None:
    """Thousands of random frames over 30 seeded connections (silence and noise of every
    length, junk text, deep JSON, control messages with random fields): every one gets an
    answer the protocol documents, the socket either stays open (a ping is answered) or ends
    the sitting normally, never 1011 or ``server_error``, and the server goes on serving."""
    url, _app = server
    async with connect(url, max_size=None) as ws:
        await start(ws)
        listener = Listener(ws)
        reading = asyncio.create_task(listener.run())
        try:
            for frame in frames:
                await ws.send(frame)
            listener.pongs["fuzz"] = answered = asyncio.Event()
            await ws.send(json.dumps({"type": "ping", "id": "fuzz"}))
            await asyncio.wait_for(answered.wait(), 120)
        except ConnectionClosed:
            pass  # the fuzz ended the sitting ("end", or "skip" past the last question)
        finally:
            await ws.close()
            await reading
    assert "server_error" not in listener.errors()
    assert ws.close_code != 1011
    if not any(e["type"] == "pong" and e.get("id") == "fuzz" for e in listener.events):
        assert "ended" in [e["type"] for e in listener.events]  # closed only by ending
    async with httpx.AsyncClient(
        base_url=url.replace("ws://", "http://").removesuffix("/ws/exam")
    ) as client:
        assert (await client.get("/livez")).status_code == 200
