"""Analysis jobs (issue 17) with the real engines (Silero VAD, faster-whisper tiny.en) on a real
shared recording, through the app's in-process taskiq broker; each stage's output stored once."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newspeech import weights
from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.jobs.broker import JobKicker
from newspeech.analysis.jobs.runner import JobRunner, StagePolicy
from newspeech.analysis.jobs.stages import StageWork
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.service import PromptSync
from newspeech.errors import UpstreamError
from newspeech.models import (
    AnalysisJobStage,
    AnalysisStageKind,
    Transcription,
    TranscriptionStatus,
    UserRole,
)
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SpeechToText, Transcript
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.voice.vad import SileroVoiceActivityDetector
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user
from tests.fixtures.recordings import JFK_TEXT, encode, shared_pcm, with_pauses
from tests.voice.wer import word_error_rate

CHUNK_SECONDS = 15.0
"""Small pieces, so that three sayings of an 11 s sentence are cut into three."""


class Engines:
    def __init__(self) -> None:
        self.pool = InferencePool(2)
        self.vad = SileroVoiceActivityDetector(weights.locate(weights.SILERO_VAD))
        self.stt = WhisperSpeechToText.load(weights.whisper_tiny_en_dir(), pool=self.pool)

    def work(self, stt: SpeechToText | None = None) -> StageWork:
        return StageWork(self.vad, stt or self.stt, self.pool.run, CHUNK_SECONDS)


class BrokenSpeechToText:
    """A speech-to-text server that is down."""

    async def transcribe(
        self,
        pcm: PCM16,
        *,
        prompt: str | None = None,
        hotwords: Sequence[str] = (),
        language: str | None = None,
    ) -> Transcript:
        raise UpstreamError("the speech server is unreachable")


class StoppedClock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def whisper() -> Iterator[Engines]:
    engines = Engines()
    yield engines
    engines.pool.close()


@pytest.fixture(scope="module")
def three_sayings(shared_dir: Path) -> bytes:
    """The JFK sentence three times with 2 s pauses (37 s), as Ogg/Opus."""
    return encode(with_pauses(shared_pcm(shared_dir), 3, 2.0), "ogg")


@pytest.fixture
async def analyst(api: Api) -> AsyncIterator[dict[str, str]]:
    shutil.rmtree(api.settings.audio_folder / "analysis", ignore_errors=True)
    async with api.sessionmaker() as db:
        await PromptSync(db).sync(read_prompt_tree(DEFAULT_PROMPTS), origin="test")
        user = await make_user(db, role=UserRole.ANALYST)
        await db.commit()
    yield await api.headers_for(user.id)
    api.app.state.analysis_runner = None


def _runner(api: Api, work: StageWork, tmp_path: Path, **kwargs: object) -> JobRunner:
    policy = StagePolicy(attempts=2, retry_seconds=0.0, timeout_seconds=600.0)
    return JobRunner(
        api.sessionmaker,
        api.app.state.audio_store,
        work,
        work_dir=tmp_path / "work",
        policy=policy,
        **kwargs,  # type: ignore[arg-type]
    )


async def _upload(api: Api, headers: dict[str, str], data: bytes) -> dict[str, object]:
    response = await api.client().post(
        "/analysis/recordings",
        headers=headers,
        data={"scenario": "interview", "report_types": ["client-brief"]},
        files={"file": ("interview.ogg", data, "audio/ogg")},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def _settle(api: Api) -> None:
    """Let the in-process broker run every message, and the messages those send."""
    kicker: JobKicker = api.app.state.analysis_jobs
    for _ in range(100):
        await kicker.broker.wait_all()  # type: ignore[attr-defined]
        if not kicker.broker._running_tasks:  # type: ignore[attr-defined]
            return
    raise AssertionError("the in-process broker never went quiet")


async def _stages(api: Api, kind: AnalysisStageKind | None = None) -> list[AnalysisJobStage]:
    async with api.sessionmaker() as db:
        query = select(AnalysisJobStage).order_by(AnalysisJobStage.phase, AnalysisJobStage.chunk)
        if kind is not None:
            query = query.where(AnalysisJobStage.kind == kind)
        return list(await db.scalars(query))


async def test_an_upload_is_transcribed_by_the_in_process_queue_in_timed_pieces(
    api: Api, analyst: dict[str, str], whisper: Engines, three_sayings: bytes, tmp_path: Path
) -> None:
    api.app.state.analysis_runner = _runner(api, whisper.work(), tmp_path)

    uploaded = await _upload(api, analyst, three_sayings)
    await _settle(api)
    job = uploaded["job"]
    assert isinstance(job, dict)
    progress = await api.client().get(f"/analysis/jobs/{job['job_id']}", headers=analyst)
    recording = await api.client().get(f"/analysis/recordings/{uploaded['id']}", headers=analyst)

    assert progress.status_code == 200
    body = progress.json()
    assert body["status"] == "done", body
    assert [(s["kind"], s["chunk"]) for s in body["stages"]] == [
        ("cut", 0),
        ("transcribe", 0),
        ("transcribe", 1),
        ("transcribe", 2),
        ("assemble", 0),
        ("report", 0),  # the transcript report (no LLM here: the client brief needs one)
    ]
    assert (body["stages_done"], body["stages_total"]) == (6, 6)
    assert all(s["attempts"] == 1 for s in body["stages"])
    pieces = [(s["start_seconds"], s["end_seconds"]) for s in body["stages"][1:4]]
    # Each cut falls in a pause between two sayings (11-13 s and 24-26 s).
    assert 11.0 <= pieces[0][1] <= 13.0
    assert 24.0 <= pieces[1][1] <= 26.0
    assert all(end - start <= CHUNK_SECONDS for start, end in pieces)
    assert recording.json()["status"] == "transcribed"
    async with api.sessionmaker() as db:
        row = await db.get(Transcription, uploaded["id"])
        assert row is not None
        assert word_error_rate(" ".join([JFK_TEXT] * 3), row.text or "") <= 0.15, row.text
        words = [w for segment in row.segments or [] for w in segment["words"]]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert words[-1]["end"] > 30.0  # times are of the whole recording, not of its piece
    assert len(row.segments or []) >= 3  # split at the pauses
    found = await api.client().get(
        "/analysis/search", params={"q": "fellow Americans"}, headers=analyst
    )
    hits = found.json()["items"]
    assert len(hits) == 3, hits  # once per saying, each when it was said
    assert [round(h["hit_seconds"]) // 13 for h in hits] == [0, 1, 2]


async def test_a_stage_run_twice_stores_its_output_once(
    api: Api, analyst: dict[str, str], whisper: Engines, three_sayings: bytes, tmp_path: Path
) -> None:
    uploaded = await _upload(api, analyst, three_sayings)  # no runner here: nothing runs
    await _settle(api)
    job = uploaded["job"]
    assert isinstance(job, dict)
    clock = StoppedClock()
    first = _runner(api, whisper.work(), tmp_path, clock=clock)
    second = _runner(api, whisper.work(), tmp_path, clock=clock)

    # A worker takes the cut and does it, then is presumed dead before it commits; once the
    # lease runs out another worker does the cut again and stores it.
    stale = await first.claim(job["job_id"])
    assert stale is not None
    stale_output = await first.perform(stale)
    assert await second.claim(job["job_id"]) is None  # held by the first worker
    clock.now += dt.timedelta(seconds=3600)
    assert await second.advance(job["job_id"]) == 0.0
    # The first worker comes back and tries to store its cut: refused.
    assert await first.complete(stale, stale_output) is False
    # The message delivered twice more: each delivery runs the next stage, none runs one again.
    both = [await second.advance(job["job_id"]), await second.advance(job["job_id"])]

    cut = (await _stages(api, AnalysisStageKind.CUT))[0]
    pieces = await _stages(api, AnalysisStageKind.TRANSCRIBE)
    assert (cut.status, cut.attempts) == ("done", 2)
    assert len(pieces) == 3  # added once, by the cut that was stored
    assert [p.status for p in pieces] == ["done", "done", "pending"]
    assert both == [0.0, 0.0]


async def test_a_failing_stage_is_retried_then_fails_the_job_and_an_admin_retry_finishes_it(
    api: Api, analyst: dict[str, str], whisper: Engines, three_sayings: bytes, tmp_path: Path
) -> None:
    api.app.state.analysis_runner = _runner(
        api, whisper.work(BrokenSpeechToText()), tmp_path / "broken"
    )
    uploaded = await _upload(api, analyst, three_sayings)
    await _settle(api)
    job = uploaded["job"]
    assert isinstance(job, dict)
    client = api.client()

    failed = (await client.get(f"/analysis/jobs/{job['job_id']}", headers=analyst)).json()
    api.app.state.analysis_runner = _runner(api, whisper.work(), tmp_path / "working")
    retried = await client.post(f"/analysis/jobs/{job['job_id']}/retry", headers=analyst)
    await _settle(api)
    done = (await client.get(f"/analysis/jobs/{job['job_id']}", headers=analyst)).json()

    assert failed["status"] == "failed"
    assert "unreachable" in failed["error"]
    assert [(s["kind"], s["status"], s["attempts"]) for s in failed["stages"][:2]] == [
        ("cut", "done", 1),
        ("transcribe", "failed", 2),
    ]
    assert retried.status_code == 200
    assert done["status"] == "done"
    assert done["stages"][0]["attempts"] == 1  # the cut was not run again
    async with api.sessionmaker() as db:
        row = await db.get(Transcription, uploaded["id"])
        assert row is not None
        assert row.status is TranscriptionStatus.TRANSCRIBED
        stages = await db.scalar(select(func.count()).select_from(AnalysisJobStage))
    assert stages == 6  # cut, three pieces, assembly, transcript report


async def test_a_cancelled_job_runs_no_further_stage_and_drops_a_running_one(
    api: Api, analyst: dict[str, str], whisper: Engines, three_sayings: bytes, tmp_path: Path
) -> None:
    uploaded = await _upload(api, analyst, three_sayings)
    await _settle(api)
    job = uploaded["job"]
    assert isinstance(job, dict)
    runner = _runner(api, whisper.work(), tmp_path)
    claimed = await runner.claim(job["job_id"])
    assert claimed is not None
    output = await runner.perform(claimed)

    cancelled = await api.client().post(f"/analysis/jobs/{job['job_id']}/cancel", headers=analyst)
    stored = await runner.complete(claimed, output)
    again = await runner.advance(job["job_id"])
    twice = await api.client().post(f"/analysis/jobs/{job['job_id']}/cancel", headers=analyst)

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (stored, again) == (False, None)
    assert await _stages(api, AnalysisStageKind.TRANSCRIBE) == []
    assert twice.status_code == 409
