"""The answer pool: a job waiting for a fetch another job started does not hold a thread (it runs again
when the fetch ends, with its result or its error); the pool drains every job, set aside or not."""

from __future__ import annotations

import threading
import time

import pytest

from bot.cache import SingleFlightCache
from bot.work import WorkPool, resumable

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
