"""The task queue under analysis jobs: taskiq, with one task, "advance job N".

- No ``NEWSPEECH_BROKER_URL``: taskiq's in-memory broker inside ``newspeech serve``; a kick runs
  the job in the server's own event loop (its heavy work on the inference pool, as background
  work), so ``scripts/run`` needs nothing more.
- ``redis://`` (Redis Streams, acknowledged after the task ran; a message a dead worker never
  acknowledged is claimed by another worker once idle past the stage time limit) or ``amqp://``
  (RabbitMQ): ``newspeech serve`` only sends; ``newspeech worker`` processes, on any machine.

The message carries only the job id; the job's state is in the database (see ``runner.py``),
so a lost or repeated message costs nothing: every worker also re-kicks unfinished jobs when it
starts and every ``SWEEP_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, InMemoryBroker
from taskiq_aio_pika import AioPikaBroker
from taskiq_aio_pika.exchange import Exchange
from taskiq_aio_pika.queue import Queue
from taskiq_redis import RedisStreamBroker

from newspeech.analysis.jobs.runner import JobRunner

logger = logging.getLogger(__name__)

TASK_NAME = "newspeech.analysis.advance_job"
SWEEP_SECONDS = 60.0


def make_broker(url: str | None, *, queue: str, stage_timeout_seconds: float) -> AsyncBroker:
    """The broker ``url`` names; ``queue`` names the Redis stream (and consumer group) or the
    RabbitMQ exchange and queue, so that two installations can share one server."""
    if url is None:
        return InMemoryBroker()
    if url.startswith(("redis://", "rediss://")):
        return RedisStreamBroker(
            url,
            queue_name=queue,
            consumer_group_name=f"{queue}-workers",
            consumer_id="0",  # a group made after messages were sent still reads them
            # A message held this long without acknowledgement belongs to a dead worker.
            idle_timeout=int((stage_timeout_seconds + 60.0) * 1000),
        )
    return AioPikaBroker(
        url,
        qos=1,
        exchange=Exchange(name=queue),
        task_queues=[Queue(name=queue)],
        dead_letter_queue=Queue(name=f"{queue}.dead_letter"),
    )


class JobKicker:
    """Sends "advance job N". A failed send is logged, not raised: the job's rows are
    committed, and the next sweep of any worker picks it up."""

    def __init__(self, broker: AsyncBroker, runner: Callable[[], JobRunner | None]) -> None:
        self.broker = broker
        self._runner = runner
        self._later: dict[int, asyncio.TimerHandle] = {}
        self._sending: set[asyncio.Task[None]] = set()

        async def advance_analysis_job(job_id: int) -> None:
            await self._advance(job_id)

        # A plain function: taskiq renames what it registers (bound methods have no name).
        self.task: AsyncTaskiqDecoratedTask[[int], Awaitable[None]] = broker.register_task(
            advance_analysis_job, task_name=TASK_NAME
        )

    async def kick(self, job_id: int) -> None:
        try:
            await self.task.kiq(job_id)
        except Exception as exc:  # the broker is down: the sweep kicks the job later
            logger.warning("could not queue analysis job %s: %s", job_id, exc)

    async def sweep(self) -> int:
        """Kick every unfinished job (after a restart, or a message lost); how many."""
        runner = self._runner()
        if runner is None:
            return 0
        job_ids = await runner.unfinished()
        for job_id in job_ids:
            await self.kick(job_id)
        return len(job_ids)

    async def sweep_forever(self, every: float = SWEEP_SECONDS) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweeping unfinished analysis jobs failed")
            await asyncio.sleep(every)

    async def _advance(self, job_id: int) -> None:
        """The task: one stage of the job, then a message for the next one (or, after a failed
        try or when another worker holds the stage, one for when it may be taken)."""
        runner = self._runner()
        if runner is None:
            logger.warning("analysis job %s waits: speech engines are off on this node", job_id)
            return
        delay = await runner.advance(job_id)
        if delay is None:
            return
        if delay <= 0:
            await self.kick(job_id)
        else:
            self.kick_later(job_id, delay)

    def kick_later(self, job_id: int, delay: float) -> None:
        """Kick the job in ``delay`` seconds without holding a worker slot meanwhile; one
        pending kick per job in this process (a lost one is made up by the sweep)."""
        if job_id in self._later:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._later.pop(job_id, None)
            task = loop.create_task(self.kick(job_id))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

        self._later[job_id] = loop.call_later(delay, fire)

    def cancel_pending(self) -> None:
        for handle in self._later.values():
            handle.cancel()
        self._later.clear()
