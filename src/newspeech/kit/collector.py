"""Pausing Python's cyclic garbage collector around a burst of allocation.

Parsing and planning a large question file allocates hundreds of thousands of small objects
that live until the plan is made; every few thousand of them the collector walks all the live
objects again, a third of the parse's CPU on a 25,000-row file (``scripts/bench imports``).
Those objects form no reference cycles worth collecting mid-burst, so the collector waits until
the burst is over. Reference counting still frees everything as usual meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector's previous state after it (a
    caller that had it off keeps it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
