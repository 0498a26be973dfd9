"""Speech-engine benchmark: load times, VAD frame latency, ASR speed and WER, TTS first chunk.

    scripts/bench speech            # table + bench/results/speech.json

Runs the offline engines exactly as the product builds them (one model per process, the bounded
inference pool) on the real recordings in ../shared/audio. Targets on a 2-core box: VAD
<= 0.2 ms/frame; whisper tiny.en <= 0.35 s for a 5 s answer; TTS first chunk <= 100 ms; all
default models loaded <= 500 MB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tests.voice.wer import word_error_rate

from newspeech import __version__, weights
from newspeech.voice.audio import decode_audio
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, TextToSpeech
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.voice.tts import EspeakTextToSpeech, PiperTextToSpeech
from newspeech.voice.vad import SileroVoiceActivityDetector

T = TypeVar("T")
AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio"
RESULTS = Path(__file__).resolve().parent / "results"
CLIPS = {  # file: reference transcript (from ../shared/audio/SOURCE.txt)
    "whisper_jfk.flac": "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country.",
    "speech_recognition_english.wav": "one two three",
    "speech_recognition_audio-mono-16-bit-44100Hz.wav": "one two three",
}
LECTURE = "silero-vad_test.wav"  # 60 s, no published transcript: timing only
SENTENCES = (
    "Good morning. Let us begin with the first case.",
    "A fifty-eight year old man presents with crushing central chest pain that started "
    "forty minutes ago while he was shovelling snow.",
    "That is partly right, but you missed the role of the ECG in confirming the diagnosis.",
    "What is the most likely diagnosis, and which features support it?",
)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def load_clip(name: str) -> PCM16:
    return decode_audio((AUDIO / name).read_bytes(), max_seconds=600)


def bench_vad(detector: SileroVoiceActivityDetector) -> dict[str, float]:
    pcm = load_clip(LECTURE)
    stream = detector.new_stream()
    frames = len(pcm) // detector.frame_samples
    for i in range(50):  # warm the session
        stream.probability(pcm[i * 512 : (i + 1) * 512])
    stream.reset()
    times = []
    for i in range(frames):
        frame = pcm[i * detector.frame_samples : (i + 1) * detector.frame_samples]
        start = time.perf_counter()
        stream.probability(frame)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "frames": frames,
        "p50_ms": statistics.median(times),
        "p99_ms": times[int(len(times) * 0.99)],
        "mean_ms": statistics.fmean(times),
    }


async def bench_asr(stt: WhisperSpeechToText) -> dict[str, Any]:
    clips = {}
    for name, reference in CLIPS.items():
        pcm = load_clip(name)
        transcript = await stt.transcribe(pcm)
        clips[name] = {
            "audio_s": transcript.audio_seconds,
            "decode_s": transcript.decode_seconds,
            "rtf": transcript.decode_seconds / transcript.audio_seconds,
            "wer": word_error_rate(reference, transcript.text),
            "confidence": transcript.confidence,
            "text": transcript.text,
        }
    lecture = load_clip(LECTURE)
    window = 5 * SAMPLE_RATE
    decodes = [
        (await stt.transcribe(lecture[start : start + window])).decode_seconds
        for start in range(0, len(lecture) - window + 1, window)
    ]
    return {
        "clips": clips,
        "answer_5s": {
            "windows": len(decodes),
            "mean_s": statistics.fmean(decodes),
            "max_s": max(decodes),
        },
    }


async def bench_tts(tts: TextToSpeech) -> dict[str, float]:
    first, rtfs = [], []
    for sentence in SENTENCES:
        start = time.perf_counter()
        first_chunk: float | None = None
        audio_s = 0.0
        async for chunk in tts.stream(sentence):
            if first_chunk is None:
                first_chunk = time.perf_counter() - start
            audio_s += chunk.seconds
        total = time.perf_counter() - start
        first.append((first_chunk or total) * 1000)
        rtfs.append(total / audio_s)
    return {
        "first_chunk_ms_mean": statistics.fmean(first),
        "first_chunk_ms_max": max(first),
        "rtf_mean": statistics.fmean(rtfs),
        "sentences": len(SENTENCES),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pool = InferencePool()
    out: dict[str, Any] = {"load_s": {}, "asr": {}, "tts": {}}
    base_rss = rss_mb()[0]

    vad, out["load_s"]["silero_vad"] = timed(
        lambda: SileroVoiceActivityDetector(weights.locate(weights.SILERO_VAD))
    )
    tiny, out["load_s"]["whisper_tiny.en"] = timed(
        lambda: WhisperSpeechToText.load(weights.whisper_tiny_en_dir(), pool=pool)
    )
    piper, out["load_s"]["piper_joe"] = timed(
        lambda: PiperTextToSpeech.load(
            weights.locate(weights.PIPER_JOE), weights.locate(weights.PIPER_JOE_CONFIG), pool
        )
    )
    warm_start = time.perf_counter()
    await asyncio.gather(tiny.warm_up(), piper.warm_up())
    out["warm_up_s"] = time.perf_counter() - warm_start
    out["rss_mb_default_models"] = rss_mb()[0]
    out["rss_mb_before_models"] = base_rss

    out["vad"] = bench_vad(vad)
    out["tts"]["piper"] = await bench_tts(piper)
    espeak = EspeakTextToSpeech()
    await espeak.warm_up()
    out["tts"]["espeak"] = await bench_tts(espeak)
    for beam in (1, 5):
        tiny.beam_size = beam
        out["asr"][f"tiny.en beam {beam}"] = await bench_asr(tiny)
    out["rss_mb_peak_default"] = rss_mb()[1]

    if not args.skip_base:
        base_dir = weights.whisper_base_dir(Path(args.models_dir))
        base, out["load_s"]["whisper_base"] = timed(
            lambda: WhisperSpeechToText.load(base_dir, pool=pool)
        )
        await base.warm_up()
        for beam in (1, 5):
            base.beam_size = beam
            out["asr"][f"base beam {beam}"] = await bench_asr(base)
        out["rss_mb_peak_with_base"] = rss_mb()[1]
    pool.close()
    return out


def _print(result: dict[str, Any]) -> None:
    print("load (s): " + ", ".join(f"{k} {v:.2f}" for k, v in result["load_s"].items()))
    print(f"warm-up (s): {result['warm_up_s']:.2f}")
    vad = result["vad"]
    print(
        f"\nVAD per 512-sample frame: p50 {vad['p50_ms']:.3f} ms, p99 {vad['p99_ms']:.3f} ms, "
        f"mean {vad['mean_ms']:.3f} ms over {vad['frames']} frames   (target <= 0.2 ms)"
    )
    print(f"\n{'ASR':<16}{'clip':<50}{'audio s':>8}{'decode s':>9}{'RTF':>7}{'WER':>7}")
    for engine, data in result["asr"].items():
        for clip, c in data["clips"].items():
            print(
                f"{engine:<16}{clip:<50}{c['audio_s']:>8.2f}{c['decode_s']:>9.3f}"
                f"{c['rtf']:>7.3f}{c['wer']:>7.1%}"
            )
        a = data["answer_5s"]
        print(
            f"{engine:<16}{'5 s answers (lecture windows), mean / max':<50}{5.0:>8.2f}"
            f"{a['mean_s']:>9.3f}{a['max_s']:>7.3f}"
        )
    print("(target: tiny.en <= 0.35 s for a 5 s answer)")
    print(f"\n{'TTS':<10}{'first chunk mean ms':>21}{'max ms':>9}{'RTF':>8}")
    for engine, t in result["tts"].items():
        print(
            f"{engine:<10}{t['first_chunk_ms_mean']:>21.0f}{t['first_chunk_ms_max']:>9.0f}"
            f"{t['rtf_mean']:>8.3f}"
        )
    print("(target: first chunk <= 100 ms)")
    print(
        f"\nRSS: {result['rss_mb_before_models']:.0f} MB before models, "
        f"{result['rss_mb_default_models']:.0f} MB with the default models (VAD, tiny.en, Piper) "
        f"loaded and warm, peak {result['rss_mb_peak_default']:.0f} MB"
        + (
            f"; peak {result['rss_mb_peak_with_base']:.0f} MB with whisper base too"
            if "rss_mb_peak_with_base" in result
            else ""
        )
        + "   (target <= 500 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-base", action="store_true", help="skip whisper base")
    parser.add_argument("--models-dir", default="data/models")
    parser.add_argument("--output", type=Path, default=RESULTS / "speech.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    _print(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "speech",
        "version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cores": InferencePool().workers,
        "numpy": np.__version__,
        **result,
    }
    args.output.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
