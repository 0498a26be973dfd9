from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from newspeech.kit.collector import collection_paused


@pytest.fixture(autouse=True)
def _collector_back_on() -> Iterator[None]:
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    gc.enable()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_turns_it_back_on() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("parse failed")
    assert gc.isenabled()


def test_a_caller_that_had_it_off_keeps_it_off() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_what_the_block_allocated_waits_for_a_full_collection_and_still_gets_one() -> None:
    gc.enable()
    with collection_paused():
        kept = [[n] for n in range(10_000)]
        cycle: list[object] = []
        cycle.append(cycle)
        ref = weakref.ref(_Node(cycle))
    # Moved to the oldest generation: no young collection walks them.
    oldest = {id(item) for item in gc.get_objects(generation=2)}
    assert all(id(item) in oldest for item in kept)
    assert gc.get_freeze_count() == 0
    del cycle
    gc.collect()
    assert ref() is None
    assert len(kept) == 10_000


class _Node:
    def __init__(self, cycle: list[object]) -> None:
        self.cycle = cycle
        cycle.append(self)


def test_a_process_that_froze_its_heap_keeps_it_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collection_paused():
            _ = [[n] for n in range(1_000)]
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
