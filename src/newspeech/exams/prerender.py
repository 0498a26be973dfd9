"""``newspeech voice prerender``: synthesise the banks into the disk store of utterances.

Every question, every case presentation and every fixed phrase the examiner says as a
cacheable utterance is synthesised once with the configured voice and kept in the
:class:`~newspeech.voice.phrase_store.PhraseStore` under the data directory, which every
``newspeech serve`` process on the machine reads. Run it after importing or editing a bank (or
after changing the voice) so that no student waits for a question to be synthesised; what is
already stored is skipped, so a second run is quick.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.errors import ConfigurationError, NotFound
from newspeech.exams import phrases
from newspeech.exams.outage import PAUSE_TEXT
from newspeech.exams.setting import choose_form
from newspeech.voice.conversation import Utterance, UtteranceKind
from newspeech.voice.engines import load_voice, phrase_store
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.pool import InferencePool
from newspeech.voice.speaker import Speaker


async def texts_to_render(db: AsyncSession, colleges: list[str] | None) -> dict[str, list[str]]:
    """The cacheable texts, by group: the fixed phrases, then each college's cases and
    questions in bank order."""
    known = [college.code for college in await CollegeTypeRepository(db).list()]
    unknown = sorted(set(colleges or ()) - set(known))
    if unknown:
        raise NotFound(f"no college type {', '.join(unknown)}; known: {', '.join(known)}")
    groups = {"fixed phrases": [*phrases.CACHEABLE, PAUSE_TEXT]}
    for code in colleges or known:
        try:
            plan = (await choose_form(db, code, None, random.Random(0))).plan()
        except NotFound:
            continue  # a college with no questions yet
        texts = []
        for scenario in plan.scenarios:
            texts += [scenario.case, *(q.text for q in scenario.questions)]
        groups[code] = list(dict.fromkeys(texts))
    return groups


async def prerender(
    groups: dict[str, list[str]],
    speaker: Speaker,
    progress: Callable[[str], None],
) -> tuple[int, int]:
    """Synthesise what the speaker's disk store lacks; (synthesised, already stored)."""
    made = kept = 0
    for group, texts in groups.items():
        started, before = time.monotonic(), made
        for text in texts:
            if await speaker.prepare(Utterance(text, UtteranceKind.PROMPT, cacheable=True)):
                made += 1
            else:
                kept += 1
        progress(
            f"{group}: {len(texts)} utterances, {made - before} synthesised "
            f"in {time.monotonic() - started:.1f} s"
        )
    return made, kept


async def run(
    args: argparse.Namespace, settings: Settings, progress: Callable[[str], None]
) -> list[str]:
    """Prerender what ``args`` ask for, saying each group's line to ``progress``; the summary."""
    engine = create_engine(settings)
    sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
    try:
        async with sessionmaker() as db:
            groups = await texts_to_render(db, args.college)
    finally:
        await engine.dispose()
    pool = InferencePool(settings.inference_workers)
    http = httpx.AsyncClient() if settings.tts_engine == "openai" else None
    try:
        tts = await load_voice(settings, pool, http)
        store = phrase_store(settings, tts.sample_rate)
        if store is None:
            raise ConfigurationError(
                "the disk store is off (NEWSPEECH_TTS_DISK_CACHE_MB=0): nothing to prerender into"
            )
        speaker = Speaker(tts, PhraseCache(0), None, store)
        made, kept = await prerender(groups, speaker, progress)
    finally:
        if http is not None:
            await http.aclose()
        pool.close()
    return [f"{made} synthesised, {kept} already stored, in {store.folder} ({store.voice})"]
