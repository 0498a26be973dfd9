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
from taskiq_redis import RedisStreamBroker

from newspeech.analysis.jobs.runner import JobRunner

logger = logging.getLogger(__name__)

TASK_NAME = "newspeech.analysis.advance_job"
QUEUE_NAME = "newspeech-analysis"
SWEEP_SECONDS = 60.0


def make_broker(url: str | None, *, stage_timeout_seconds: float) -> AsyncBroker:
    if url is None:
        return InMemoryBroker()
    if url.startswith(("redis://", "rediss://")):
        return RedisStreamBroker(
            url,
            queue_name=QUEUE_NAME,
            consumer_group_name="newspeech-workers",
            consumer_id="0",  # a group made after messages were sent still reads them
            # A message held this long without acknowledgement belongs to a dead worker.
            idle_timeout=int((stage_timeout_seconds + 60.0) * 1000),
        )
    return AioPikaBroker(url, qos=1)


class JobKicker:
    """Sends "advance job N". A failed send is logged, not raised: the job's rows are
    committed, and the next sweep of any worker picks it up."""

    def __init__(self, broker: AsyncBroker, runner: Callable[[], JobRunner | None]) -> None:
        self.broker = broker
        self._runner = runner

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
        """The task: one stage of the job, then a message for the next one (or, after a
        failed try, the same one once its back-off has passed)."""
        runner = self._runner()
        if runner is None:
            logger.warning("analysis job %s waits: speech engines are off on this node", job_id)
            return
        delay = await runner.advance(job_id)
        if delay is None:
            return
        if delay:
            await asyncio.sleep(delay)
        await self.kick(job_id)
