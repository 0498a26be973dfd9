"""Answer audio benchmark: what keeping each answer's recording costs.

    scripts/bench audio_store                 # table + bench/results/audio_store.json
    scripts/bench audio_store --answers 100 --s3

Real speech from ``../shared/audio`` cut into 5 s answers (16 kHz mono PCM16, as the session
loop hands them over). Times, per answer: Ogg/Opus encoding (what is stored), FLAC and WAV for
comparison (bytes only matter there), a put and a full get on the local store, a 4 kB range
get (an ``<audio>`` element seeking). With ``--s3`` the same against moto's S3 server on the
loopback: it shows the client's overhead, not a real store's network.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from tests.fixtures.s3_server import ACCESS_KEY, SECRET_KEY, s3_server

from newspeech import __version__
from newspeech.storage import AudioStore
from newspeech.storage.local import LocalAudioStore
from newspeech.storage.s3 import S3AudioStore, S3Location
from newspeech.voice.audio import decode_audio, encode_ogg_opus, encode_wav
from newspeech.voice.protocols import PCM16, SAMPLE_RATE

RESULTS = Path(__file__).resolve().parent / "results"
SHARED_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio"
ANSWER_SECONDS = 5


def answers(count: int) -> list[PCM16]:
    """``count`` 5 s windows of real speech, cycling over the shared recordings."""
    step = ANSWER_SECONDS * SAMPLE_RATE
    windows: list[PCM16] = []
    for path in sorted(SHARED_AUDIO.glob("*.wav")) + sorted(SHARED_AUDIO.glob("*.flac")):
        pcm = decode_audio(path.read_bytes(), max_seconds=3600)
        windows += [pcm[i : i + step] for i in range(0, pcm.size - step + 1, step)]
    return [windows[i % len(windows)] for i in range(count)]


def encode_flac(pcm: PCM16) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)
    return buffer.getvalue()


def stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in seconds)
    return {
        "mean_ms": statistics.fmean(ms),
        "p50_ms": ms[len(ms) // 2],
        "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
    }


def bench_encoding(pcms: list[PCM16]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, encode in (("ogg_opus", encode_ogg_opus), ("flac", encode_flac), ("wav", encode_wav)):
        encode(pcms[0])  # warm
        times, sizes = [], []
        for pcm in pcms:
            start = time.perf_counter()
            sizes.append(len(encode(pcm)))
            times.append(time.perf_counter() - start)
        out[name] = {**stats_ms(times), "bytes_mean": statistics.fmean(sizes)}
    return out


async def timed_each(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    times = []
    for call in calls:
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return times


async def bench_store(store: AudioStore, files: list[bytes]) -> dict[str, Any]:
    keys = [f"session-1/answer-{n}.ogg" for n in range(len(files))]

    def put(key: str, data: bytes) -> Callable[[], Awaitable[None]]:
        return lambda: store.put(key, data, "audio/ogg")

    def get(key: str, start: int = 0, end: int | None = None) -> Callable[[], Awaitable[bytes]]:
        return lambda: store.get(key, start, end)

    puts = await timed_each([put(k, d) for k, d in zip(keys, files, strict=True)])
    gets = await timed_each([get(k) for k in keys])
    ranges = await timed_each([get(k, 1024, 5119) for k in keys])
    for key in keys:
        await store.delete(key)
    return {"put": stats_ms(puts), "get": stats_ms(gets), "range_get_4kB": stats_ms(ranges)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pcms = answers(args.answers)
    encoding = bench_encoding(pcms)
    files = [encode_ogg_opus(pcm) for pcm in pcms]
    stores: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        stores["local"] = await bench_store(LocalAudioStore(Path(folder)), files)
    if args.s3:
        import boto3

        with s3_server() as url:
            boto3.client(
                "s3",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
            ).create_bucket(Bucket="bench")
            location = S3Location("bench", url, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
            s3 = S3AudioStore(location)
            stores["s3 (moto, loopback)"] = await bench_store(s3, files)
            await s3.aclose()
    return {
        "answers": len(pcms),
        "answer_seconds": ANSWER_SECONDS,
        "pcm_bytes": ANSWER_SECONDS * SAMPLE_RATE * 2,
        "encoding": encoding,
        "stores": stores,
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        "newspeech": __version__,
        "numpy": np.__version__,
    }


def _print(result: dict[str, Any]) -> None:
    print(f"{result['answers']} answers of {result['answer_seconds']} s each (real speech)\n")
    print(f"{'encoding':<12}{'mean ms':>9}{'p95 ms':>9}{'bytes/answer':>14}{'vs PCM':>8}")
    for name, e in result["encoding"].items():
        ratio = e["bytes_mean"] / result["pcm_bytes"]
        print(
            f"{name:<12}{e['mean_ms']:>9.2f}{e['p95_ms']:>9.2f}{e['bytes_mean']:>14,.0f}"
            f"{ratio:>8.1%}"
        )
    print(f"\n{'store':<22}{'operation':<16}{'mean ms':>9}{'p50 ms':>9}{'p95 ms':>9}")
    for store, ops in result["stores"].items():
        for op, s in ops.items():
            print(f"{store:<22}{op:<16}{s['mean_ms']:>9.2f}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--s3", action="store_true", help="also time moto's S3 server")
    parser.add_argument("--output", type=Path, default=RESULTS / "audio_store.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    _print(result)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
