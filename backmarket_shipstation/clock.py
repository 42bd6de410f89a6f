"""Time as a dependency: the SDK never reads the wall clock or sleeps except through a Clock.

Clients (throttling, retry back-off), the sync engine (cursors) and the sandbox (rate-limit
windows, timestamps) all take a :class:`Clock`. :class:`SystemClock` is real time;
:class:`VirtualClock` is time the caller controls: ``sleep`` advances it instantly, so tests
and benchmarks can run an hour of rate-limited traffic in milliseconds and still measure it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock"]


async def _asyncio_sleep(seconds: float) -> None:
    # asyncio is imported here, not at the top: it costs ~15 ms, and blocking users of the
    # clients never need it (an awaiting caller has it loaded already, so this is a lookup).
    import asyncio

    await asyncio.sleep(seconds)


@runtime_checkable
class Clock(Protocol):
    """What the SDK needs from time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for intervals and rate windows."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a virtual clock advances instead)."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Await ``seconds`` (a virtual clock advances instead)."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        if seconds > 0:
            await _asyncio_sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """Time that moves only when told to: by :meth:`advance` or by a ``sleep``.

    Thread-safe, so a sandbox served on another thread and a client share one timeline.
    ``slept`` accumulates every sleep, which benchmarks read as "time spent waiting".
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._start = start.astimezone(timezone.utc)
        self._elapsed = 0.0
        self.slept = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move time forward (never back)."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        with self._lock:
            self._elapsed += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._elapsed += seconds
                self.slept += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await _asyncio_sleep(0)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now().isoformat()})"
