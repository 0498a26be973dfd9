"""Long recordings (recording analysis, issue 17) read from a file a piece at a time: probing an
upload, decoding any stretch of it to 16 kHz mono PCM16, and cutting it at silences.

Nothing here holds more than the stretch asked for: a four-hour recording is probed by reading
its header, its first seconds and its last seconds, and cut by decoding and scoring with Silero
VAD only the minute before each cut (a 30-minute recording in 10-minute pieces: two minutes of
it; one of up to 10 minutes: none), so the whole recording is decoded once, by transcription.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.container import InputContainer

from newspeech.voice.audio import AudioRejected
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, VoiceActivityDetector

RECORDING_FORMATS = "WAV, FLAC, OGG (Opus or Vorbis), MP3, M4A (AAC) or WebM (Opus)"
_DEMUXERS = "wav,flac,ogg,mp3,matroska,mp4"

# (demuxer name as FFmpeg reports it, codec) -> the format we call it, with its content type.
_FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("wav", "audio/wav"),
    "flac": ("flac", "audio/flac"),
    "ogg": ("ogg", "audio/ogg"),
    "mp3": ("mp3", "audio/mpeg"),
    "matroska,webm": ("webm", "audio/webm"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", "audio/mp4"),
}
_CODECS: dict[str, frozenset[str]] = {
    "wav": frozenset({"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8", "pcm_mulaw"}),
    "flac": frozenset({"flac"}),
    "ogg": frozenset({"opus", "vorbis", "flac"}),
    "mp3": frozenset({"mp3", "mp3float"}),
    "webm": frozenset({"opus", "vorbis"}),
    "m4a": frozenset({"aac", "alac"}),
}
_HEAD_SECONDS = 2.0
_TAIL_SECONDS = 3.0
# How far short of the declared length the last decodable audio may end (encoder padding).
_SHORTFALL_SECONDS = 0.5
_READ_ERRORS = (av.FFmpegError, EOFError, OSError)


@dataclass(frozen=True)
class RecordingProbe:
    format: str
    """wav, flac, ogg, mp3, m4a or webm: what the file is, whatever its name says."""
    content_type: str
    codec: str
    duration_seconds: float
    sample_rate: int
    channels: int


def probe_recording(path: Path, *, max_seconds: float) -> RecordingProbe:
    """What ``path`` holds, or :class:`AudioRejected` saying why it is not a usable recording:
    empty, another format, no audio, undecodable, cut short, or longer than ``max_seconds``."""
    if path.stat().st_size == 0:
        raise AudioRejected(f"the file is empty; send {RECORDING_FORMATS}")
    container = _open(path)
    with container:
        if not container.streams.audio:
            raise AudioRejected(f"the file has no audio; send {RECORDING_FORMATS}")
        stream = container.streams.audio[0]
        name, content_type = _FORMATS.get(container.format.name, ("", ""))
        codec = stream.codec_context.name
        if not name or codec not in _CODECS[name]:
            raise AudioRejected(
                f"{container.format.long_name} with {codec} audio is not accepted; "
                f"send {RECORDING_FORMATS}"
            )
        sample_rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        declared = _declared_seconds(container)
    if _container_cut_short(path, name):
        raise AudioRejected(
            "the recording is cut short: the file ends before its audio does; "
            "upload the complete file"
        )
    duration = declared if declared is not None else _demuxed_seconds(path, max_seconds)
    if duration > max_seconds:
        raise AudioRejected(
            f"the recording is {duration:.0f} s long; the limit is {max_seconds:g} s"
        )
    if _decoded_seconds(path, 0.0, _HEAD_SECONDS) <= 0.0:
        raise AudioRejected(f"the recording's audio cannot be decoded; send {RECORDING_FORMATS}")
    tail_from = max(duration - _TAIL_SECONDS, 0.0)
    reached = tail_from + _decoded_seconds(path, tail_from, None)
    if duration - reached > _SHORTFALL_SECONDS:
        raise AudioRejected(
            f"the recording is cut short: the file says {duration:.1f} s but its audio ends at "
            f"{reached:.1f} s; upload the complete file"
        )
    return RecordingProbe(name, content_type, codec, duration, sample_rate, channels)


def _open(path: Path) -> InputContainer:
    try:
        return av.open(str(path), mode="r", container_options={"format_whitelist": _DEMUXERS})
    except _READ_ERRORS as exc:
        raise AudioRejected(
            f"the file is not a recording we can read (another format, or damaged); "
            f"send {RECORDING_FORMATS}"
        ) from exc


def _container_cut_short(path: Path, name: str) -> bool:
    """Whether a WAV's data chunk or an Ogg stream's last page says more follows. FFmpeg
    reports a cut WAV's length from the bytes present and an Ogg's from its last page, so a cut
    file would otherwise look like a complete shorter one."""
    with path.open("rb") as file:
        if name == "wav":
            return _wav_data_missing(file.read(4096), path.stat().st_size)
        if name == "ogg":
            size = path.stat().st_size
            file.seek(max(size - 65_536, 0))
            tail = file.read()
            page = tail.rfind(b"OggS")
            # Byte 5 of a page header holds its flags; 0x04 marks the stream's last page.
            return page < 0 or page + 5 >= len(tail) or not tail[page + 5] & 0x04
    return False


def _wav_data_missing(head: bytes, size: int) -> bool:
    at = 12  # after "RIFF", its size and "WAVE"
    while at + 8 <= len(head):
        chunk, length = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
        if chunk == b"data":
            # 0 and 0xFFFFFFFF are written by recorders that stream (the length is unknown).
            return length not in (0, 0xFFFFFFFF) and at + 8 + length > size
        at += 8 + length + (length & 1)
    return False


def _declared_seconds(container: InputContainer) -> float | None:
    if container.duration:
        return float(container.duration / av.time_base)
    stream = container.streams.audio[0]
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _demuxed_seconds(path: Path, max_seconds: float) -> float:
    """The length of a file that does not declare one (a browser's WebM), from its packets'
    times, without decoding; stops once past ``max_seconds``."""
    end = 0.0
    with _open(path) as container:
        stream = container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.time_base is None:
                    continue
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if end > max_seconds:
                    break
        except _READ_ERRORS as exc:
            raise AudioRejected(f"the recording is damaged after {end:.1f} s") from exc
    return end


def _decoded_seconds(path: Path, start: float, length: float | None) -> float:
    """Seconds of audio decodable from ``start`` (at most ``length``); 0 when none."""
    total = 0
    for block in pcm16_blocks(path, start=start, end=None if length is None else start + length):
        total += block.size
    return total / SAMPLE_RATE


def pcm16_blocks(
    path: Path, *, start: float = 0.0, end: float | None = None, block_seconds: float = 30.0
) -> Iterator[PCM16]:
    """The recording from ``start`` to ``end`` seconds as 16 kHz mono PCM16 blocks of about
    ``block_seconds``; seeks rather than decoding what comes before ``start``.

    Damaged audio raises :class:`AudioRejected` naming where it broke.
    """
    first = round(start * SAMPLE_RATE)
    last = None if end is None else round(end * SAMPLE_RATE)
    block = max(int(block_seconds * SAMPLE_RATE), 1)
    pending: list[PCM16] = []
    held = 0
    for position, pcm in _positioned(path, start):
        lo, hi = max(first - position, 0), pcm.size
        if last is not None:
            hi = min(hi, last - position)
        if hi > lo:
            pending.append(pcm[lo:hi])
            held += hi - lo
        if held >= block:
            yield np.concatenate(pending)
            pending, held = [], 0
        if last is not None and position + pcm.size >= last:
            break
    if pending:
        yield np.concatenate(pending)


def _positioned(path: Path, start: float) -> Iterator[tuple[int, PCM16]]:
    """(sample position at 16 kHz, samples) of each resampled stretch from about ``start``."""
    with _open(path) as container:
        stream = container.streams.audio[0]
        resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        position: int | None = None
        try:
            if start > 0 and stream.time_base is not None:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            for frame in _joined(container.decode(stream)):
                if position is None:
                    position = round((frame.time or 0.0) * SAMPLE_RATE)
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                    yield position, pcm
                    position += pcm.size
            for out in resampler.resample(None):
                pcm = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                yield position or 0, pcm
                position = (position or 0) + pcm.size
        except _READ_ERRORS as exc:
            at = (position or 0) / SAMPLE_RATE
            raise AudioRejected(f"the recording is damaged at {at:.1f} s") from exc


_JOIN_SECONDS = 1.0
"""Decoded audio resampled in one call: a second of it rather than each 20 ms Opus frame apart
(the per-frame calls were about half the decoding's CPU: 10 minutes of the benchmark's
Ogg/Opus took 1.21 CPU-seconds to decode and resample, 0.66 to decode alone)."""


def _joined(frames: Iterator[AudioFrame]) -> Iterator[AudioFrame]:
    """``frames`` joined into frames of about :data:`_JOIN_SECONDS` each, the same audio in the
    same order (the resampler's output is sample for sample the same); a change of sample
    format, layout or rate mid-stream starts a new one."""
    pending: list[npt.NDArray[Any]] = []
    first: AudioFrame | None = None
    held = 0
    for frame in frames:
        if first is not None and _shape(frame) != _shape(first):
            yield _join(first, pending)
            pending, first, held = [], None, 0
        if first is None:
            first = frame
        pending.append(frame.to_ndarray())
        held += frame.samples
        if held >= first.sample_rate * _JOIN_SECONDS:
            yield _join(first, pending)
            pending, first, held = [], None, 0
    if first is not None:
        yield _join(first, pending)


def _shape(frame: AudioFrame) -> tuple[str, str, int]:
    return frame.format.name, frame.layout.name, frame.sample_rate


def _join(first: AudioFrame, arrays: list[npt.NDArray[Any]]) -> AudioFrame:
    if len(arrays) == 1:
        return first
    # Planar formats hold a row per channel, packed ones one interleaved row: either way the
    # frames follow one another along the last axis.
    joined = AudioFrame.from_ndarray(
        np.concatenate(arrays, axis=-1), format=first.format.name, layout=first.layout
    )
    joined.sample_rate = first.sample_rate
    joined.pts = first.pts
    if first.time_base is not None:
        joined.time_base = first.time_base
    return joined


@dataclass(frozen=True)
class Cut:
    """A recording's length and the pieces it was cut into, as (start, end) seconds."""

    duration_seconds: float
    chunks: list[tuple[float, float]]
    searched_seconds: float
    """Audio decoded and scored by the VAD to find the cuts (none for a single piece)."""


_SMOOTH_SECONDS = 0.5
"""A pause is the lowest mean probability over this long, not a stop consonant."""
_LEAD_IN_SECONDS = 1.0
"""Audio scored before a search window, so that the VAD's recurrent state has settled."""


def recording_seconds(path: Path) -> float:
    """The length a recording declares (or, without one, its last packet's end), read from its
    header or packets without decoding the audio."""
    with _open(path) as container:
        declared = _declared_seconds(container)
    return declared if declared is not None else _demuxed_seconds(path, math.inf)


def cut_at_silences(
    path: Path,
    detector: VoiceActivityDetector,
    *,
    max_chunk_seconds: float,
    search_seconds: float = 60.0,
) -> Cut:
    """Cut the recording into pieces of at most ``max_chunk_seconds``, each cut in the quietest
    half second of the last ``search_seconds`` before the limit (so a word is never split when
    there is a pause to cut in).

    Only those search windows are decoded and scored by the VAD (with a second before each, for
    the model's state to settle): the rest of the recording is decoded once, by the pieces'
    transcription. A recording no longer than ``max_chunk_seconds`` is one piece, found from
    its declared length alone. Cuts fall on the 32 ms frames of the whole recording.
    """
    rate, frame = detector.sample_rate, detector.frame_samples
    frame_seconds = frame / rate
    duration = recording_seconds(path)
    limit = int(max_chunk_seconds / frame_seconds)
    search = max(min(int(search_seconds / frame_seconds), limit // 2), 1)
    width = max(int(_SMOOTH_SECONDS / frame_seconds), 1)
    lead = int(_LEAD_IN_SECONDS / frame_seconds) + width
    # A container's length may run a few milliseconds past the last whole frame (an Opus
    # encoder's padding): those alone never make another piece.
    total = int(duration / frame_seconds + 0.5)
    chunks: list[tuple[float, float]] = []
    searched = 0
    begin = 0
    while total - begin > limit:
        low, high = begin + limit - search, begin + limit
        # Scored from ``lead`` frames before the window to half the smoothing width after it,
        # so that the smoothing sees real audio on both sides of every frame it may cut at.
        first = max(low - lead, 0)
        probabilities = _speech_probabilities(
            path, detector, start=first * frame_seconds, end=(high + width) * frame_seconds
        )
        searched += probabilities.size
        smooth = np.convolve(probabilities, np.ones(width) / width, mode="same")
        window = smooth[low - first : high - first]
        if window.size == 0:  # the audio ended before its declared length
            break
        cut = low + int(np.argmin(window))
        chunks.append((begin * frame_seconds, cut * frame_seconds))
        begin = cut
    if duration > begin * frame_seconds:
        chunks.append(
            (begin * frame_seconds, min(duration, begin * frame_seconds + max_chunk_seconds))
        )
    return Cut(duration, [(round(a, 3), round(b, 3)) for a, b in chunks], searched * frame_seconds)


def _speech_probabilities(
    path: Path, detector: VoiceActivityDetector, *, start: float, end: float
) -> npt.NDArray[np.float32]:
    """The VAD's probability of each frame from ``start`` to ``end`` seconds, from a fresh
    stream; the last frame is zero-padded."""
    frame = detector.frame_samples
    stream = detector.new_stream()
    scores: list[float] = []
    carry = np.zeros(0, dtype=np.int16)
    for block in pcm16_blocks(path, start=start, end=end, block_seconds=10.0):
        pcm = np.concatenate([carry, block]) if carry.size else block
        whole = pcm.size - pcm.size % frame
        scores.extend(stream.probability(pcm[i : i + frame]) for i in range(0, whole, frame))
        carry = pcm[whole:]
    if carry.size:
        padded = np.zeros(frame, dtype=np.int16)
        padded[: carry.size] = carry
        scores.append(stream.probability(padded))
    return np.asarray(scores, dtype=np.float32)
