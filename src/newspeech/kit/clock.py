"""The current time as a dependency, so tests move it instead of sleeping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

WallClock = Callable[[], dt.datetime]
"""Wall time (UTC, for what is stored); the voice loop's monotonic time is
:class:`newspeech.voice.clock.Clock`."""


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
