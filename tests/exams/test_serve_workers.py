"""``newspeech serve --workers 2`` as a real process on PostgreSQL: a sitting over the socket,
SIGTERM to the server, the drain, and the sitting resumed after the restart.

A candidate confirms who they are and answers questions 1 and 2 on whichever worker took the
connection; then the server (uvicorn's supervisor) gets SIGTERM. Each worker drains: the
candidate hears out the examiner's reply and gets ``server_restarting`` (close 1012) between
two answers. After the restart the sitting resumes at question 3 with both answers stored once.

``/metrics`` speaks for both workers (prometheus-client's multiprocess mode): whichever worker
answers a scrape, it shows the one running sitting, its socket and its transcription, and
counts every earlier scrape; the parent empties the metric files on each start.

Real time and real speech engines by nature: it asserts the close codes, what is stored and
where the sitting resumes, never the words heard or a mark.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.exams.real_exam import (
    Sitting,
    make_student,
    next_event,
    send_json,
    started,
    stored,
)
from tests.exams.serve_process import World, free_port, newspeech_serve
from tests.fixtures.voices import CandidateVoices

pytestmark = pytest.mark.backends  # PostgreSQL, whatever NEWSPEECH_TEST_BACKENDS selects


async def scrape(port: int) -> dict[str, float]:
    """One scrape on a new connection (any worker may take it): each sample's value by its
    name and labels, e.g. ``http_requests_total{method="GET",route="/metrics",status="200"}``."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        response = await client.get("/metrics")
    response.raise_for_status()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def metric_file_pids(folder: Path) -> set[int]:
    """The processes that wrote metric files in ``folder`` (``counter_<pid>.db`` ...)."""
    return {int(m.group(1)) for f in folder.iterdir() if (m := re.search(r"_(\d+)\.db$", f.name))}


async def test_two_workers_drain_on_sigterm_and_the_sitting_resumes_after_the_restart(
    world: World,
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    env, db = world
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/exam"
    log = tmp_path / "serve.log"
    metric_files = Path(env["NEWSPEECH_DATA_DIR"]) / "metrics"
    async with newspeech_serve(env, port, "--workers", "2", log=log) as server:
        student = await make_student(db, f"http://127.0.0.1:{port}", "kim", "Kim Walker")
        async with connect(url, max_size=None) as ws:
            await send_json(ws, type="start", token=student.token, college_type="medical")
            code = started(await next_event(ws))["session_code"]
            sitting = Sitting(ws, db, voices, questions=(1, 2))
            microphone = asyncio.create_task(sitting.microphone.run())
            try:
                await sitting.until("evaluation", question_number=1)
                scrapes = [await scrape(port) for _ in range(6)]
                await sitting.until("evaluation", question_number=2)
                first_run = metric_file_pids(metric_files)
                server.send_signal(signal.SIGTERM)  # the supervisor: it stops both workers
                with pytest.raises(ConnectionClosed) as closed:
                    await sitting.until("never sent")
            finally:
                microphone.cancel()
        assert await asyncio.wait_for(server.wait(), 120) == 0
    restarting = [e for e in sitting.events if e["type"] == "error"]
    assert [e["error"] for e in restarting] == ["server_restarting"], restarting
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012
    assert log.read_text().count("SIGTERM: draining") == 2  # each worker drained

    async with (
        newspeech_serve(env, port, "--workers", "2", log=log),
        connect(url, max_size=None) as ws,
    ):
        await send_json(ws, type="resume", token=student.token, session_code=code)
        resumed = started(await next_event(ws))
        asked = await next_event(ws, "question")
        await send_json(ws, type="end")
        assert (await next_event(ws, "ended"))["reason"] == "ended_by_student"
        second_run = metric_file_pids(metric_files)
    assert resumed["resumed"] is True
    assert asked["number"] == 3  # both answers were kept: it goes on at question 3
    rows = await stored(db, code)
    assert [a.question_number for a in rows["answers"]] == [1, 2]  # each stored once
    assert len(rows["evaluations"]) == 2
    for samples in scrapes:  # whichever worker answered
        assert samples["newspeech_active_sittings"] == 1
        assert samples["newspeech_websocket_connections"] == 1
        assert samples["newspeech_asr_seconds_count"] >= 1
    scraped = 'http_requests_total{method="GET",route="/metrics",status="200"}'
    assert scrapes[-1][scraped] >= 5  # the five before it, on either worker
    assert len(first_run) >= 2  # both workers write their own files
    assert second_run
    assert not first_run & second_run  # emptied when the server started again
