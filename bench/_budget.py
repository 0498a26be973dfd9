"""The CPU budget of the exams a load level ran, from the server's own counters.

The server counts, in ``GET /metrics``: the CPU and busy time of its inference pools' threads
by component and urgency (``newspeech_inference_{cpu,busy}_seconds_total``) and the part of the
speculative work whose turn was then declared (``..._speculative_kept_..._total``); the CPU of
the native threads the engines compute on (``newspeech_engine_thread_cpu_seconds_total``:
CTranslate2's decoders, ONNX Runtime's intra-op threads); the event loop's thread
(``newspeech_event_loop_cpu_seconds_total``); the whole process (``process_cpu_seconds_total``).

A component's CPU is its pool-thread CPU plus its engine threads'. The decoder's engine threads
serve final and speculative decodes alike, so the decode CPU is split between final, kept and
discarded speculative decodes in proportion to the busy time of each kind (an estimate: every
decode pads to the same 30 s window, so its cost is near constant). Two scrapes around a level
give what that level cost; divided by the exam-minutes it ran, the CPU-seconds one exam-minute
needs, and from that the box's physical limit: how many exams the cores carry at full use.
"""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

CPU = "newspeech_inference_cpu_seconds_total"
BUSY = "newspeech_inference_busy_seconds_total"
KEPT_BUSY = "newspeech_inference_speculative_kept_busy_seconds_total"
ENGINE = "newspeech_engine_thread_cpu_seconds_total"
LOOP = "newspeech_event_loop_cpu_seconds_total"
WAIT = "newspeech_inference_urgency_wait_seconds"
PROCESS = "process_cpu_seconds_total"
URGENCIES = ("turn", "reply", "speculative", "background")


async def scrape(port: int) -> Samples:
    """Every sample of the server's ``/metrics`` now."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        response = await client.get("/metrics")
        response.raise_for_status()
    return {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def budget(
    before: Samples, after: Samples, *, exam_seconds: float, wall_seconds: float, cores: int
) -> dict[str, Any]:
    """What one level cost: CPU seconds by component and per exam-minute, the limit they
    imply, and the inference pools' waits by urgency."""

    def spent(name: str, **labels: str) -> float:
        return _total(after, name, **labels) - _total(before, name, **labels)

    def cpu(part: str) -> float:
        return spent(CPU, component=part) + spent(ENGINE, component=part)

    decode = cpu("decode")
    busy = spent(BUSY, component="decode")
    speculative = spent(BUSY, component="decode", urgency="speculative")
    kept = spent(KEPT_BUSY, component="decode")

    def share(seconds: float) -> float:
        return decode * seconds / busy if busy else 0.0

    components = {
        "vad": cpu("vad"),
        "turn model": cpu("turn"),
        "final decodes": share(busy - speculative),
        "speculative decodes, kept": share(kept),
        "speculative decodes, discarded": share(speculative - kept),
        "grading": cpu("grading"),
        "tts": cpu("tts"),
        "answer-audio encoding": cpu("audio_encoding"),
        "other pool work": cpu("other"),
        "event loop (websocket, sessions, db)": spent(LOOP),
    }
    process = spent(PROCESS)
    components["other threads (db driver, blas ...)"] = process - sum(components.values())
    exam_minutes = exam_seconds / 60.0
    per_minute = process / exam_minutes if exam_minutes else None
    per_core = 60.0 / per_minute if per_minute else None
    waits = {}
    for level in URGENCIES:
        count = spent(f"{WAIT}_count", pool="inference", urgency=level)
        total = spent(f"{WAIT}_sum", pool="inference", urgency=level)
        waits[level] = {
            "calls": int(count),
            "mean_ms": round(1000.0 * total / count, 1) if count else None,
        }
    return {
        "exam_minutes": round(exam_minutes, 2),
        "cpu_seconds": {k: round(v, 2) for k, v in components.items()},
        "cpu_seconds_total": round(process, 2),
        "cpu_seconds_per_exam_minute": {
            k: round(v / exam_minutes, 2) if exam_minutes else None for k, v in components.items()
        }
        | {"total": round(per_minute, 2) if per_minute else None},
        "cpu_use_of_box": round(process / (cores * wall_seconds), 3) if wall_seconds else None,
        "exams_per_core_at_full_use": round(per_core, 1) if per_core else None,
        "physical_limit_exams": round(per_core * cores, 1) if per_core else None,
        "pool_waits": waits,
    }


def print_budgets(rows: list[dict[str, Any]], cores: int) -> None:
    """One column per load level: CPU-seconds per exam-minute by component, the limit."""
    if not rows:
        return
    print(f"\nCPU budget, CPU-seconds per exam-minute ({cores} cores)")
    header = f"  {'component':<40}" + "".join(f"{str(r['exams']) + ' exams':>11}" for r in rows)
    print(header)
    names = list(rows[0]["budget"]["cpu_seconds_per_exam_minute"])
    for name in names:
        values = "".join(f"{r['budget']['cpu_seconds_per_exam_minute'][name]!s:>11}" for r in rows)
        print(f"  {name:<40}{values}")
    for label, key in (
        ("exam-minutes run", "exam_minutes"),
        ("box CPU in use (fraction)", "cpu_use_of_box"),
        ("physical limit (exams at full use)", "physical_limit_exams"),
    ):
        print(f"  {label:<40}" + "".join(f"{r['budget'][key]!s:>11}" for r in rows))
    print(f"  {'load / physical limit':<40}" + "".join(f"{r['load_of_limit']!s:>11}" for r in rows))
    print("  inference pool waits by urgency, mean ms (calls):")
    for level in URGENCIES:
        cells = "".join(
            f"{str(w['mean_ms']) + ' (' + str(w['calls']) + ')':>11}"
            for w in (r["budget"]["pool_waits"][level] for r in rows)
        )
        print(f"    {level:<38}{cells}")
