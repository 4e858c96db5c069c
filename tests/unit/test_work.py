"""The answer pool: a job waiting for a fetch another job started does not hold a thread (it runs again
when the fetch ends, with its result or its error); a job about an execution another job is on waits while
a burst is acknowledged; the pool drains every job, set aside, parked or not."""

from __future__ import annotations

import threading
import time

import pytest

from bot.cache import SingleFlightCache
from bot.work import PARK_SECONDS, QUIET_SECONDS, WorkPool, resumable

WAIT = 10.0  # the most any step may take before the test fails; nothing waits this long when it passes


def until(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_job_waiting_for_another_s_fetch_gives_its_thread_to_the_next_job():
    pool = WorkPool(2, "test")
    cache: SingleFlightCache[str, str] = SingleFlightCache(10, lambda _: 60.0)
    fetching, release, other_done = threading.Event(), threading.Event(), threading.Event()
    loads, got = [], []

    def slow_load() -> str:
        loads.append(1)
        fetching.set()
        assert release.wait(WAIT)
        return "run A"

    def look(name: str) -> None:
        got.append((name, cache.get("A", slow_load)[0]))

    pool.submit(resumable(look), "first")  # fetches A (holds its thread while Qualys answers)
    assert fetching.wait(WAIT)
    for name in ("second", "third"):
        pool.submit(resumable(look), name)  # wait for A's fetch: set aside, no thread held
    pool.submit(other_done.set)  # another execution's lookup: runs on the second thread at once
    assert other_done.wait(WAIT), "a job waiting for A's fetch held the other thread"
    release.set()
    assert pool.drain(WAIT)
    assert sorted(got) == [("first", "run A"), ("second", "run A"), ("third", "run A")] and len(loads) == 1


def test_the_jobs_set_aside_get_the_fetch_s_error_without_fetching_again():
    pool = WorkPool(2, "test")
    cache: SingleFlightCache[str, str] = SingleFlightCache(10, lambda _: 60.0)
    fetching, release, loads, outcomes = threading.Event(), threading.Event(), [], []

    def failing_load() -> str:
        loads.append(1)
        fetching.set()
        assert release.wait(WAIT)
        raise TimeoutError("Qualys did not answer in time")

    def look() -> None:
        try:
            cache.get("A", failing_load)
        except TimeoutError as error:
            outcomes.append(str(error))

    pool.submit(resumable(look))
    assert fetching.wait(WAIT)
    for _ in range(3):
        pool.submit(resumable(look))
    until(lambda: cache.joined == 3)  # all three are waiting for the fetch under way
    release.set()
    assert pool.drain(WAIT)
    assert outcomes == ["Qualys did not answer in time"] * 4 and len(loads) == 1


def test_a_job_not_marked_resumable_waits_in_place():
    pool = WorkPool(2, "test")
    cache: SingleFlightCache[str, str] = SingleFlightCache(10, lambda _: 60.0)
    fetching, release, ran = threading.Event(), threading.Event(), []

    def slow_load() -> str:
        fetching.set()
        assert release.wait(WAIT)
        return "run A"

    def side_effect_then_look() -> None:  # did something first: must not be run twice
        ran.append("posted")
        cache.get("A", slow_load)

    pool.submit(lambda: cache.get("A", slow_load))
    assert fetching.wait(WAIT)
    pool.submit(side_effect_then_look)
    release.set()
    assert pool.drain(WAIT)
    assert ran == ["posted"]


def test_work_submitted_after_a_drain_is_refused():
    pool = WorkPool(1, "test")
    assert pool.drain(WAIT)
    assert pool.submit(lambda: pytest.fail("ran after the drain")) is False and pool.pending == 0


def test_each_worker_prepares_before_its_first_job_and_one_that_cannot_still_works():
    prepared: list[str] = []
    ready = threading.Barrier(4)  # the three workers and this test

    def prepare() -> None:
        prepared.append(threading.current_thread().name)
        ready.wait(WAIT)

    pool = WorkPool(3, "test", prepare=prepare)
    ready.wait(WAIT)  # every worker prepared, each on its own thread, before any job
    assert sorted(prepared) == ["test_0", "test_1", "test_2"]
    assert pool.drain(WAIT)

    def cannot() -> None:
        raise OSError("the state file is not there yet")

    alone = WorkPool(1, "alone", prepare=cannot)
    ran: list[str] = []
    alone.submit(lambda: ran.append(threading.current_thread().name))
    assert alone.drain(WAIT) and ran == ["alone_0"]


class Clock:
    """The pool's clock, moved by the test: no job is let go by time unless the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def on_k(pool: WorkPool, clock: Clock) -> tuple[threading.Event, list[str]]:
    """A job about "K" running (as a lookup fetching K) until the event returned is set; and the log."""
    running, release, log = threading.Event(), threading.Event(), []

    def first() -> None:
        log.append("first")
        running.set()
        assert release.wait(WAIT)

    pool.submit(first, key="K")
    assert running.wait(WAIT)
    return release, log


def test_a_job_about_an_execution_another_job_is_on_waits_until_that_one_is_done():
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)  # one thread runs the first job; the other is free
    release, log = on_k(pool, clock)
    pool.submit(log.append, "second", key="K")  # parked: the first is on K
    other = threading.Event()
    # Queued after the second: on the one free thread it would run only after the second had, were it queued.
    pool.submit(lambda: (log.append("other"), other.set()))
    pool.submit(log.append, "on L", key="L")  # another execution: not parked
    assert other.wait(WAIT)
    until(lambda: "on L" in log)
    assert "second" not in log  # the clock has not moved: only the first job's end lets it go
    release.set()
    until(lambda: "second" in log)
    assert pool.drain(WAIT) and log.index("second") > log.index("other")


def test_parked_jobs_go_on_once_no_job_has_come_for_a_moment():
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)
    release, log = on_k(pool, clock)
    pool.submit(log.append, "second", key="K")
    pool.submit(log.append, "third", key="K")
    clock.now += 2 * QUIET_SECONDS  # the burst is acknowledged: nothing came since
    until(lambda: "second" in log and "third" in log)
    assert log == ["first", "second", "third"]  # the first still fetching, the others set to go on
    release.set()
    assert pool.drain(WAIT)


def test_a_parked_job_waits_at_most_park_seconds_while_jobs_keep_coming():
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)
    release, log = on_k(pool, clock)
    pool.submit(log.append, "parked", key="K")
    parked_at = clock.now
    step = QUIET_SECONDS / 2
    while clock.now + step < parked_at + PARK_SECONDS:
        clock.now += step  # a job every half quiet period: never quiet
        ran = threading.Event()
        pool.submit(ran.set)
        assert ran.wait(WAIT)
        assert "parked" not in log
    clock.now = parked_at + PARK_SECONDS + step / 2
    pool.submit(lambda: None)  # still not quiet: let go by its longest wait
    until(lambda: "parked" in log)
    release.set()
    assert pool.drain(WAIT)


def test_a_job_handing_its_work_on_about_the_same_execution_is_not_parked():
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)
    handed, log = threading.Event(), []

    def unfurl() -> None:  # its delivery, about the same execution, runs while it is still on it
        pool.submit(lambda: (log.append("delivered"), handed.set()), key="K")
        assert handed.wait(WAIT)
        log.append("unfurl done")

    pool.submit(unfurl, key="K")
    until(lambda: "unfurl done" in log)
    assert log == ["delivered", "unfurl done"]
    assert pool.drain(WAIT)


def test_a_drain_waits_for_parked_jobs_too():
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)
    release, log = on_k(pool, clock)
    for n in range(3):
        pool.submit(log.append, f"parked {n}", key="K")
    assert pool.pending == 4
    release.set()
    assert pool.drain(WAIT) and pool.pending == 0
    assert log[0] == "first" and sorted(log[1:]) == ["parked 0", "parked 1", "parked 2"]
