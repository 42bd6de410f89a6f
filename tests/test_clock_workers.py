"""The virtual clock with concurrent workers: sleeps overlap as real sleeps do.

Accounts synced in parallel each wait on their own rate limits; on a virtual clock those
waits must overlap (time moves to the earliest wake-up once every worker waits), or a
benchmark of parallel accounts would measure the sum of their waits instead of the schedule.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime

import pytest

from backmarket_shipstation.clock import (
    SystemClock,
    VirtualClock,
    Waiting,
    as_worker,
    waiting_on_others,
)

GIVE_UP = 30.0
"""Real seconds after which a test that waits for a thread fails instead of hanging."""


def _in_workers(clock: VirtualClock, *jobs: Callable[[], object]) -> list[object]:
    """Run each job in its own registered worker thread, all registered before any starts."""
    ready = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int, job: Callable[[], object]) -> None:
        with clock.worker():
            ready.wait()
            try:
                results[index] = job()
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GIVE_UP)
        assert not thread.is_alive(), "a worker never finished: the clock deadlocked"
    if errors:
        raise errors[0]
    return results


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GIVE_UP
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.001)


def test_two_workers_sleeping_10_and_20_seconds_end_at_10_and_20_not_30() -> None:
    clock = VirtualClock(stall_grace=60)

    def sleeper(seconds: float) -> Callable[[], float]:
        def job() -> float:
            clock.sleep(seconds)
            return clock.monotonic()

        return job

    woke = _in_workers(clock, sleeper(10), sleeper(20))
    assert woke == [10, 20]
    assert clock.monotonic() == 20
    assert clock.slept == 30, "slept sums every worker's waits"
    assert clock.stalls == 0


def test_many_workers_with_repeated_sleeps_follow_the_schedule() -> None:
    clock = VirtualClock(stall_grace=60)

    def pacer(step: float, times: int) -> Callable[[], list[float]]:
        def job() -> list[float]:
            seen = []
            for _ in range(times):
                clock.sleep(step)
                seen.append(clock.monotonic())
            return seen

        return job

    woke = _in_workers(clock, pacer(3, 4), pacer(5, 2), pacer(7, 1))
    assert woke == [[3, 6, 9, 12], [5, 10], [7]]
    assert clock.monotonic() == 12


def test_a_running_worker_holds_time_still_until_it_waits_or_leaves() -> None:
    clock = VirtualClock(stall_grace=60)
    seen: dict[str, float] = {}

    def sleeper() -> None:
        clock.sleep(5)
        seen["sleeper woke"] = clock.monotonic()

    def busy() -> None:
        # The sleeper is asleep: while this worker runs, its 5 s must not pass.
        _until(lambda: clock.waiting == 1)
        for _ in range(200):
            time.sleep(0.001)  # real work, not the clock's
        seen["while busy"] = clock.monotonic()
        clock.sleep(2)  # now both wait: time moves to the earliest wake-up, this one
        seen["busy woke"] = clock.monotonic()

    _in_workers(clock, sleeper, busy)
    assert seen == {"while busy": 0, "busy woke": 2, "sleeper woke": 5}


def test_a_worker_waiting_on_others_counts_as_waiting() -> None:
    clock = VirtualClock(stall_grace=60)
    handed: list[Waiting] = []
    done = threading.Event()
    seen: dict[str, float] = {}

    def combiner() -> None:
        with clock.waiting_on_others() as waiting:
            handed.append(waiting)
            assert done.wait(GIVE_UP)
        seen["combiner resumed"] = clock.monotonic()

    def producer() -> None:
        _until(lambda: bool(handed))
        clock.sleep(30)  # only ends if the waiting combiner counts as waiting
        handed[0].wake()
        done.set()
        seen["producer woke"] = clock.monotonic()

    _in_workers(clock, combiner, producer)
    assert seen == {"producer woke": 30, "combiner resumed": 30}
    assert clock.stalls == 0, "time moved on the schedule, not on the stall safety"


def test_a_woken_waiter_holds_time_before_its_thread_runs() -> None:
    clock = VirtualClock(stall_grace=60)
    handed: list[Waiting] = []
    release = threading.Event()
    seen: dict[str, float] = {}

    def waiter() -> None:
        with clock.waiting_on_others() as waiting:
            handed.append(waiting)
            assert release.wait(GIVE_UP)
        seen["waiter runs at"] = clock.monotonic()
        clock.sleep(1)

    def waker() -> None:
        _until(lambda: bool(handed))
        handed[0].wake()
        # The waiter has not run yet (release is not set): it counts as running, so this
        # sleep must wait for it instead of jumping 100 s past the waiter's next step.
        sleeping = threading.Thread(target=lambda: (time.sleep(0.05), release.set()))
        sleeping.start()
        clock.sleep(100)
        sleeping.join()

    _in_workers(clock, waiter, waker)
    assert seen == {"waiter runs at": 0}
    assert clock.monotonic() == 100


def test_a_worker_blocked_on_a_lock_held_by_a_sleeper_is_freed_by_the_stall_grace() -> None:
    clock = VirtualClock(stall_grace=0.05)
    lock = threading.Lock()
    seen: dict[str, float] = {}
    locked = threading.Event()

    def holder() -> None:
        with lock:
            locked.set()
            clock.sleep(10)  # waits for the blocked worker, which waits for this lock

    def blocked() -> None:
        assert locked.wait(GIVE_UP)
        with lock:
            seen["got the lock at"] = clock.monotonic()

    _in_workers(clock, holder, blocked)
    assert seen == {"got the lock at": 10}
    assert clock.stalls == 1


def test_unregistered_threads_advance_at_once_as_before() -> None:
    clock = VirtualClock()
    threads = [threading.Thread(target=clock.sleep, args=(s,)) for s in (10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GIVE_UP)
    assert clock.monotonic() == 30
    clock.sleep(5)
    assert clock.monotonic() == 35
    assert clock.workers == 0


def test_an_unregistered_advance_wakes_a_sleeping_worker() -> None:
    clock = VirtualClock(stall_grace=60)
    seen: dict[str, float] = {}

    def sleeper() -> None:
        clock.sleep(50)
        seen["woke"] = clock.monotonic()

    def runner() -> None:
        _until(lambda: clock.waiting == 1)
        clock.advance(60)  # from a running worker: the sleeper's wake-up is past
        _until(lambda: "woke" in seen)

    _in_workers(clock, sleeper, runner)
    assert seen == {"woke": 60}


def test_registration_nests_and_a_lone_worker_sleeps_as_before() -> None:
    clock = VirtualClock()
    with clock.worker():
        with clock.worker():
            assert clock.workers == 1
            clock.sleep(7)
        assert clock.workers == 1
        clock.sleep(3)
    assert clock.workers == 0
    assert clock.monotonic() == 10


def test_asleep_in_worker_threads_overlaps() -> None:
    clock = VirtualClock(stall_grace=60)

    def job(seconds: float) -> Callable[[], float]:
        async def wait() -> float:
            await clock.asleep(seconds)
            return clock.monotonic()

        return lambda: asyncio.run(wait())

    assert _in_workers(clock, job(4), job(9)) == [4, 9]


class _OwnClock:
    """A user's clock: the Clock protocol only, nothing about workers."""

    def now(self) -> datetime:
        return SystemClock().now()

    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass

    async def asleep(self, seconds: float) -> None:
        pass


@pytest.mark.parametrize("clock", [SystemClock(), _OwnClock()])
def test_the_worker_hooks_do_nothing_for_other_clocks(clock: SystemClock | _OwnClock) -> None:
    with as_worker(clock), waiting_on_others(clock) as waiting:
        waiting.wake()
        clock.sleep(0)


def test_the_worker_hooks_register_on_a_virtual_clock() -> None:
    clock = VirtualClock()
    with as_worker(clock):
        assert clock.workers == 1
        with waiting_on_others(clock):
            assert clock.waiting == 1
        assert clock.waiting == 0
    assert clock.workers == 0


def test_a_stall_grace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="stall_grace"):
        VirtualClock(stall_grace=0)
