"""Pausing Python's cyclic garbage collector around a burst of allocation.

Parsing and planning a large question file allocates hundreds of thousands of small objects
that live until the plan is made; every few thousand of them the collector walks all the live
objects again, a third of the parse's CPU on a 25,000-row file (``scripts/bench imports``).
Those objects form no reference cycles worth collecting mid-burst, so the collector waits until
the burst is over. Reference counting still frees everything as usual meanwhile.

After the burst the objects it left would all sit in the youngest generation, and the first
allocation after the pause would walk every one of them (a tenth of a 25,000-row parse, and again
when they move up a generation). ``gc.freeze()`` then ``gc.unfreeze()`` moves every tracked
object to the oldest generation instead, in constant time: they are looked at in the next full
collection, which the collector runs as rarely as ever; refcounting frees them meanwhile.
Not in a process that froze objects itself (the server's start-up heap, ``app.py``):
``gc.unfreeze()`` would hand those back to the collector too.
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
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
