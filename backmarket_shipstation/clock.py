"""Time as a dependency: the SDK never reads the wall clock or sleeps except through a Clock.

Clients (throttling, retry back-off), the sync engine (cursors) and the sandbox (rate-limit
windows, timestamps) all take a :class:`Clock`. :class:`SystemClock` is real time;
:class:`VirtualClock` is time the caller controls: ``sleep`` advances it instantly, so tests
and benchmarks can run an hour of rate-limited traffic in milliseconds and still measure it.

Threads that run at the same time (accounts synced in parallel) register as *workers* of a
virtual clock (:func:`as_worker`): their sleeps then overlap as real sleeps would, time moving
to the earliest wake-up only once every worker waits. :func:`as_worker` and
:func:`waiting_on_others` do nothing for any other clock, so code that uses them runs on real
time (or on a clock of the caller's own) unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock", "Waiting", "as_worker", "waiting_on_others"]


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


class Waiting:
    """A worker's wait on other workers (see :meth:`VirtualClock.waiting_on_others`).

    The thread that lets the waiter go calls :meth:`wake` *before* it signals it: from then on
    the waiter counts as running again, so time cannot move on between the signal and the
    moment the waiter's thread is scheduled.
    """

    def __init__(self, clock: VirtualClock | None = None, ident: int | None = None) -> None:
        self._clock = clock
        self._ident = ident
        self._waiting = clock is not None

    def wake(self) -> None:
        """The waiter runs again (idempotent; a no-op on clocks other than a virtual one)."""
        clock = self._clock
        if clock is None:
            return
        with clock._cond:
            if self._waiting:
                self._waiting = False
                clock._stop_waiting(self._ident)

    def __repr__(self) -> str:
        return f"Waiting(waiting={self._waiting})"


class _Worker:
    """A registered thread: how deep its registrations nest, what it waits for."""

    __slots__ = ("depth", "others", "until")

    def __init__(self) -> None:
        self.depth = 0
        self.others = 0
        """Open :meth:`VirtualClock.waiting_on_others` blocks not woken yet."""
        self.until: float | None = None
        """The instant its sleep ends, while it sleeps."""


class VirtualClock:
    """Time that moves only when told to: by :meth:`advance` or by a ``sleep``.

    Thread-safe, so a sandbox served on another thread and a client share one timeline.
    ``slept`` accumulates every sleep, which benchmarks read as "time spent waiting" (with
    workers, the sum over all of them).

    **Concurrent sleepers.** A thread that is not registered (the usual single-threaded
    test, a sandbox's server threads) advances time by its sleep at once, as ever. Threads
    registered with :meth:`worker` share time as real threads would: a worker's sleep ends
    when time reaches its wake-up, and time moves only when *every* registered worker is
    waiting (asleep, or inside :meth:`waiting_on_others`), and then only to the earliest
    wake-up. A worker that runs (CPU, an in-process HTTP call to the sandbox) holds time
    still. Two workers that sleep 10 s and 20 s from the same instant end at +10 s and
    +20 s, and the whole takes 20 s, not 30.

    **Stalls.** A worker blocked on something other than the clock (a lock another worker
    holds while it sleeps, a queue fed by a sleeper) counts as running, so the sleepers would
    wait for it forever. When no worker has changed state for ``stall_grace`` seconds of real
    time while some sleep, time moves on to the earliest wake-up anyway and :attr:`stalls`
    counts it: the schedule is then approximate (a worker that really computed that long saw
    time jump), and a benchmark should report a non-zero count. Wrap a known wait on other
    workers in :meth:`waiting_on_others` instead, which keeps the schedule exact.
    """

    def __init__(self, start: datetime | None = None, *, stall_grace: float = 5.0) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        if not stall_grace > 0:
            raise ValueError("stall_grace must be more than 0 seconds")
        self._start = start.astimezone(timezone.utc)
        self._elapsed = 0.0
        self.slept = 0.0
        self.stall_grace = stall_grace
        """Real seconds without any worker changing state after which time moves anyway."""
        self.stalls = 0
        """How many times time moved because the workers stalled (see the class docstring)."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._workers: dict[int, _Worker] = {}
        self._changed_at = time.monotonic()
        """Real time of the last change of any worker's state, for the stall grace."""

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
        with self._cond:
            self._elapsed += seconds
            self._changed()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        ident = threading.get_ident()
        with self._cond:
            self.slept += seconds
            worker = self._workers.get(ident)
            if worker is None:
                self._elapsed += seconds
                self._changed()
                return
            deadline = self._elapsed + seconds
            worker.until = deadline
            try:
                self._changed()
                while self._elapsed < deadline:
                    quiet = time.monotonic() - self._changed_at
                    if quiet >= self.stall_grace:
                        self._stalled()
                    else:
                        self._cond.wait(self.stall_grace - quiet)
            finally:
                worker.until = None
                self._touch()

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await _asyncio_sleep(0)

    @property
    def workers(self) -> int:
        """How many threads are registered as workers now."""
        with self._lock:
            return len(self._workers)

    @property
    def waiting(self) -> int:
        """How many workers wait now (asleep, or on other workers)."""
        with self._lock:
            return sum(
                1
                for w in self._workers.values()
                if (w.until is not None and w.until > self._elapsed)
                or (w.until is None and w.others > 0)
            )

    @contextmanager
    def worker(self) -> Iterator[None]:
        """Register the calling thread as a worker for the ``with`` block (nests)."""
        ident = threading.get_ident()
        with self._cond:
            worker = self._workers.get(ident)
            if worker is None:
                worker = self._workers[ident] = _Worker()
            worker.depth += 1
            self._touch()
        try:
            yield
        finally:
            with self._cond:
                worker.depth -= 1
                if worker.depth == 0:
                    del self._workers[ident]
                self._changed()  # the others may all be waiting now

    @contextmanager
    def waiting_on_others(self) -> Iterator[Waiting]:
        """The calling worker waits for other workers (not for time) in the ``with`` block.

        It counts as waiting, so the others' sleeps can end. Whoever releases it should call
        the :class:`Waiting` handle's :meth:`~Waiting.wake` before signalling it. For a thread
        that is not a worker this changes nothing.
        """
        ident = threading.get_ident()
        with self._cond:
            worker = self._workers.get(ident)
            if worker is None:
                handle = Waiting()
            else:
                worker.others += 1
                handle = Waiting(self, ident)
                self._changed()
        try:
            yield handle
        finally:
            handle.wake()

    def _stop_waiting(self, ident: int | None) -> None:
        worker = self._workers.get(ident) if ident is not None else None
        if worker is not None and worker.others > 0:
            worker.others -= 1
            self._touch()

    def _touch(self) -> None:
        self._changed_at = time.monotonic()

    def _changed(self) -> None:
        """Under the lock: time or a worker's state changed. Wake the sleepers whose time has
        come, and move time to the earliest wake-up if every worker now waits."""
        self._touch()
        self._cond.notify_all()
        wake_ups = []
        for worker in self._workers.values():
            if worker.until is not None and worker.until > self._elapsed:
                wake_ups.append(worker.until)
            elif worker.until is not None or worker.others == 0:
                return  # running, or its sleep is over and it is about to run
        if wake_ups:
            self._elapsed = min(wake_ups)

    def _stalled(self) -> None:
        wake_ups = [
            w.until
            for w in self._workers.values()
            if w.until is not None and w.until > self._elapsed
        ]
        if wake_ups:
            self.stalls += 1
            self._elapsed = min(wake_ups)
            self._changed()

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now().isoformat()})"


def as_worker(clock: Clock) -> AbstractContextManager[object]:
    """Register the calling thread as a worker of ``clock`` for a ``with`` block, if the clock
    schedules workers (a :class:`VirtualClock`); a no-op context for any other clock."""
    register = getattr(clock, "worker", None)
    if callable(register):
        context: AbstractContextManager[object] = register()
        return context
    return nullcontext()


def waiting_on_others(clock: Clock) -> AbstractContextManager[Waiting]:
    """:meth:`VirtualClock.waiting_on_others` for any clock: a no-op (its handle's ``wake``
    does nothing) unless the clock schedules workers."""
    wait = getattr(clock, "waiting_on_others", None)
    if callable(wait):
        context: AbstractContextManager[Waiting] = wait()
        return context
    return nullcontext(Waiting())
