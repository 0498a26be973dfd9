"""Recording-analysis benchmark: long recordings through the in-process pipeline.

    scripts/bench analysis                  # 10 and 30 min; table + bench/results/analysis.json
    scripts/bench analysis --minutes 2 5    # other lengths
    scripts/bench analysis --decoders server  # Whisper as `newspeech serve` loads it

Each recording is real speech from ../shared/audio (the 60 s lecture, the JFK sentence, "one two
three") joined with pauses of 0.8 to 3 s until it reaches the length, encoded as Ogg/Opus (what
a browser uploads). Each length runs in a fresh process, as a worker does: the intake
(``RecordingIntake``: probe, audio store, row) and the job (``JobRunner``: cut at silences into
pieces of at most 10 minutes, transcribe each with the product's faster-whisper tiny.en,
assemble, search index, then the speaker pass and a client brief: a Markdown prompt and a
JSON prompt over the transcript, split into parts to fit the context, and the report's Markdown
and PDF) on a scratch SQLite database. The LLM is the tests' local fake speaking the OpenAI
wire format (it answers at once, so the LLM's own time is not in the numbers). Whisper is
loaded as ``newspeech worker`` loads it (a decoder per core, a job's 30 s chunks decoded at
once). Measured: the real-time factor of the transcription (audio seconds / seconds spent in
transcribe stages) and of the whole job, the time from the start of the upload to the report
being ready, and the process's peak RSS (goals on this 2-core box: >= 25x with tiny.en; < 1 GB
and flat in the recording's length). The wall-clock factors depend on what else runs on the box,
so the CPU seconds of the transcribe stages and of the job are measured too (getrusage: every
thread of the process): what of the cores the stages got (``transcribe_cores_used``) and the
factor they would reach with the cores to themselves (``rtf_transcribe_cpu``: audio seconds x
cores / CPU seconds; an upper bound, as decoding a piece before its windows is serial).

WER: the lecture has no published transcript, so the long-audio path (the lecture inside the
recording, cut and transcribed in pieces) is compared with the short-answer path (the exam's
``transcribe`` on the lecture clip alone); the JFK sentences are compared with their reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from tests.fixtures.analysis_chains import model_answer, write_prompt_tree
from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving
from tests.fixtures.recordings import encode
from tests.voice.wer import word_error_rate

from newspeech import __version__, weights
from newspeech.analysis.jobs.runner import JobRunner
from newspeech.analysis.jobs.service import JobBoard
from newspeech.analysis.jobs.stages import StageWork
from newspeech.analysis.jobs.worker import prompt_chain, stage_policy, worker_speech_to_text
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.recordings.service import IntakeLimits, RecordingIntake, RecordingMetadata
from newspeech.analysis.service import PromptSync
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.enums import AnalysisStageKind, ReportStatus
from newspeech.models import AnalysisJobStage, LLMCall, Report, Transcription
from newspeech.storage.factory import audio_store_from_settings
from newspeech.voice.audio import decode_audio
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.stt import WhisperSpeechToText, available_cores
from newspeech.voice.vad import SileroVoiceActivityDetector

AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio"
RESULTS = Path(__file__).resolve().parent / "results"
LECTURE = "silero-vad_test.wav"
JFK = "whisper_jfk.flac"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
COUNTING = "speech_recognition_english.wav"
PAUSES = (0.8, 1.5, 3.0, 1.2, 2.0)
CORES = available_cores()


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_seconds() -> float:
    """CPU seconds this process has spent so far, on all its threads (CTranslate2's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class MeteredWork(StageWork):
    """The stages' work, counting the CPU seconds its transcribe stages spend (a job's stages
    run one after another, so the process's CPU over a stage is that stage's)."""

    transcribe_cpu_s: float = 0.0

    async def transcribe(self, path: Path, start: float, end: float) -> dict[str, Any]:
        before = cpu_seconds()
        try:
            return await super().transcribe(path, start, end)
        finally:
            self.transcribe_cpu_s += cpu_seconds() - before


def clip(name: str) -> PCM16:
    return decode_audio((AUDIO / name).read_bytes(), max_seconds=600)


def build_recording(seconds: float) -> tuple[PCM16, list[tuple[str, float, float]]]:
    """Lecture, JFK, counting, ... with pauses, to ``seconds``; and where each clip lies."""
    clips = [(LECTURE, clip(LECTURE)), (JFK, clip(JFK)), (COUNTING, clip(COUNTING))]
    pieces: list[PCM16] = []
    placed: list[tuple[str, float, float]] = []
    at = 0
    index = 0
    while at < seconds * SAMPLE_RATE:
        name, pcm = clips[index % len(clips)]
        pieces.append(pcm)
        placed.append((name, at / SAMPLE_RATE, (at + len(pcm)) / SAMPLE_RATE))
        at += len(pcm)
        pause = np.zeros(int(PAUSES[index % len(PAUSES)] * SAMPLE_RATE), dtype=np.int16)
        pieces.append(pause)
        at += len(pause)
        index += 1
    return np.concatenate(pieces)[: int(seconds * SAMPLE_RATE)], placed


def words_between(segments: list[dict[str, Any]], start: float, end: float) -> str:
    return " ".join(
        w["word"]
        for s in segments
        for w in s["words"]
        if start - 0.5 <= w["start"] and w["end"] <= end + 0.5
    )


LLM_KEY = "sk-bench-analysis-0123456789"


async def run_one(folder: Path, decoders: str) -> dict[str, Any]:
    """The recording in ``folder`` through intake and job, in this process (a child per
    length: the parent made the recording, so this process's peak RSS is the pipeline's),
    with the local fake LLM served from this process too."""
    script = ChatServerScript(api_key=LLM_KEY, answer=model_answer)
    async with serving(create_chat_app(script)) as llm_url:
        return await _run_one(folder, llm_url, decoders)


async def _run_one(folder: Path, llm_url: str, decoders: str) -> dict[str, Any]:
    placed = [tuple(p) for p in json.loads((folder / "placed.json").read_text())]
    seconds = float(json.loads((folder / "seconds.json").read_text()))
    settings = Settings(
        environment="test",
        data_dir=folder,
        database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        speech_enabled=False,
        llm_api_url=llm_url,
        llm_api_key=LLM_KEY,
        llm_model="bench-fake",
    )
    engine = create_engine(settings)
    chain = prompt_chain(settings)
    pool = InferencePool(settings.inference_workers)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        vad = await pool.run(SileroVoiceActivityDetector, weights.locate(weights.SILERO_VAD))
        if decoders == "worker":
            stt = await pool.run(worker_speech_to_text, settings, pool, 1)
        else:  # as the exam server loads it: a decoder per core, one core each
            stt = await pool.run(WhisperSpeechToText.from_settings, settings, pool=pool)
        # Warm the model once (its first decode allocates), as a long-running worker is.
        await stt.transcribe(clip(COUNTING))
        loaded_rss = rss_mb()[0]
        store = audio_store_from_settings(settings)
        async with sessionmaker() as db:
            # The tests' client brief for hotels: a Markdown part, then a JSON part.
            tree = write_prompt_tree(folder / "prompts")
            await PromptSync(db).sync(read_prompt_tree(tree), origin="bench")
            intake = RecordingIntake(
                db,
                store,
                None,
                IntakeLimits(settings.analysis_max_upload_bytes, settings.analysis_max_seconds),
                folder / "spool",
            )
            started = time.perf_counter()
            with (folder / "upload.ogg").open("rb") as source:
                metadata = RecordingMetadata(
                    "interview", report_types=("client-brief",), building_type="hotel"
                )
                row = await intake.upload(source, "bench.ogg", metadata, actor_id=None)
            job = await JobBoard(db).create(row.id, requested_by=None)
            await db.commit()
            upload_s = time.perf_counter() - started
        upload_peak = rss_mb()[1]
        work = MeteredWork(vad, stt, pool.run, settings.analysis_chunk_seconds)
        runner = JobRunner(
            sessionmaker,
            store,
            work,
            work_dir=folder / "work",
            policy=stage_policy(settings),
            chain=chain,
        )
        started, job_cpu = time.perf_counter(), cpu_seconds()
        await runner.run_to_end(job.id)
        job_s, job_cpu_s = time.perf_counter() - started, cpu_seconds() - job_cpu
        async with sessionmaker() as db:
            stages = list(
                await db.scalars(select(AnalysisJobStage).where(AnalysisJobStage.job_id == job.id))
            )
            transcription = await db.get(Transcription, row.id)
            assert transcription is not None
            segments = transcription.segments or []
            reports = list(
                await db.scalars(select(Report).where(Report.transcription_id == row.id))
            )
            calls = list(await db.scalars(select(LLMCall)))
    finally:
        if chain is not None:
            await chain.client.aclose()
        pool.close()
        await engine.dispose()
    unready = [r.id for r in reports if r.status is not ReportStatus.READY]
    if not reports or unready:
        raise RuntimeError(f"the job ended without its reports ready: {unready or 'none made'}")

    def spent(kind: AnalysisStageKind) -> float:
        return sum(
            (s.finished_at - s.started_at).total_seconds()
            for s in stages
            if s.kind is kind and s.started_at and s.finished_at
        )

    jfk = [(a, b) for name, a, b in placed if name == JFK]
    jfk_wer = [word_error_rate(JFK_TEXT, words_between(segments, a, b)) for a, b in jfk]
    first_lecture = next((a, b) for name, a, b in placed if name == LECTURE)
    transcribe_s = spent(AnalysisStageKind.TRANSCRIBE)
    return {
        "audio_s": seconds,
        "pieces": sum(1 for s in stages if s.kind is AnalysisStageKind.TRANSCRIBE),
        "upload_s": upload_s,
        "cut_s": spent(AnalysisStageKind.CUT),
        "transcribe_s": transcribe_s,
        "assemble_s": spent(AnalysisStageKind.ASSEMBLE),
        "speakers_s": spent(AnalysisStageKind.SPEAKERS),
        "prompts_s": spent(AnalysisStageKind.PROMPT),
        "report_s": spent(AnalysisStageKind.REPORT),
        "job_s": job_s,
        "upload_to_report_s": upload_s + job_s,
        "reports": len(reports),
        "llm_calls": len(calls),
        "rtf_transcribe": seconds / transcribe_s,
        "rtf_job": seconds / job_s,
        "transcribe_cpu_s": work.transcribe_cpu_s,
        "job_cpu_s": job_cpu_s,
        # What the cores this process had came to: 2.0 is the whole of a 2-core box.
        "transcribe_cores_used": work.transcribe_cpu_s / transcribe_s,
        # The factor with every core to itself and nothing serial: audio seconds per CPU
        # second, times the cores (an upper bound on an idle box, independent of the load).
        "rtf_transcribe_cpu": seconds * CORES / work.transcribe_cpu_s,
        "rtf_job_cpu": seconds * CORES / job_cpu_s,
        "rss_models_mb": loaded_rss,
        "rss_peak_after_upload_mb": upload_peak,
        "rss_peak_mb": rss_mb()[1],
        "segments": len(segments),
        "words": sum(len(s["words"]) for s in segments),
        "jfk_wer_mean": float(np.mean(jfk_wer)),
        "lecture_long_path": words_between(segments, *first_lecture),
    }


async def short_path_lecture() -> str:
    pool = InferencePool(None)
    try:
        settings = Settings(environment="test", speech_enabled=False)
        stt = WhisperSpeechToText.from_settings(settings, pool=pool)
        return (await stt.transcribe(clip(LECTURE))).text
    finally:
        pool.close()


def child(minutes: float, decoders: str) -> dict[str, Any]:
    """Make the recording here, then run it in a fresh interpreter (its peak RSS is the
    pipeline's own, not this process's making of the recording)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        pcm, placed = build_recording(minutes * 60)
        (folder / "upload.ogg").write_bytes(encode(pcm, "ogg"))
        del pcm
        (folder / "placed.json").write_text(json.dumps(placed))
        (folder / "seconds.json").write_text(json.dumps(minutes * 60))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.analysis",
                "--child",
                str(folder),
                "--decoders",
                decoders,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument(
        "--decoders",
        choices=["worker", "server"],
        default="worker",
        help="Whisper loaded as newspeech worker loads it (one decoder on every core; the "
        "default) or as newspeech serve does (a decoder per core, one core each)",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(run_one(args.child, args.decoders))))
        return
    load_before = os.getloadavg()
    runs = [child(minutes, args.decoders) for minutes in args.minutes]
    short = asyncio.run(short_path_lecture())
    load_after = os.getloadavg()
    for run in runs:
        run["lecture_wer_long_vs_short"] = word_error_rate(short, run.pop("lecture_long_path"))
    header = (
        f"{'audio':>7} {'pieces':>6} {'upload':>7} {'cut':>6} {'transcr.':>8} {'LLM+rep.':>8} "
        f"{'job':>7} {'to report':>9} "
        f"{'RTF tr.':>7} {'RTF job':>7} {'CPU tr.':>7} {'cores':>5} {'RTF CPU':>7} "
        f"{'RSS models':>10} {'RSS peak':>8} "
        f"{'JFK WER':>7} {'lecture WER':>11}"
    )
    print(header)
    for r in runs:
        print(
            f"{r['audio_s'] / 60:>5.1f} m {r['pieces']:>6} {r['upload_s']:>6.1f}s "
            f"{r['cut_s']:>5.1f}s "
            f"{r['transcribe_s']:>7.1f}s "
            f"{r['speakers_s'] + r['prompts_s'] + r['report_s']:>7.1f}s "
            f"{r['job_s']:>6.1f}s {r['upload_to_report_s']:>8.1f}s {r['rtf_transcribe']:>6.1f}x "
            f"{r['rtf_job']:>6.1f}x {r['transcribe_cpu_s']:>6.1f}s "
            f"{r['transcribe_cores_used']:>5.2f} {r['rtf_transcribe_cpu']:>6.1f}x "
            f"{r['rss_models_mb']:>8.0f}MB {r['rss_peak_mb']:>6.0f}MB "
            f"{r['jfk_wer_mean']:>7.1%} {r['lecture_wer_long_vs_short']:>11.1%}"
        )
    print(
        f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} "
        f"on {os.cpu_count()} cores; goals: RTF >= 25x, peak RSS < 1 GB and flat\n"
        f"CPU tr.: CPU seconds of the transcribe stages; cores: what of the {CORES} cores they "
        f"got; RTF CPU: audio seconds x cores / CPU seconds (the factor with the cores to itself)"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("analysis.json" if args.decoders == "worker" else "analysis-server.json")
    out.write_text(
        json.dumps(
            {
                "version": __version__,
                "machine": platform.machine(),
                "cores": os.cpu_count(),
                "load_average_before": load_before,
                "load_average_after": load_after,
                "whisper_model": Settings(environment="test").whisper_model,
                "whisper_decoders": args.decoders,
                "short_path_lecture": short,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
