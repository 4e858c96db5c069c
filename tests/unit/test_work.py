"""The answer pool: a job waiting for a fetch another job started does not hold a thread (it runs again
when the fetch ends, with its result or its error); new work waits while requests keep coming (acks
first), work a job hands on does not; the pool drains every job, set aside, held or not."""

from __future__ import annotations

import threading
import time

import pytest

from bot.cache import SingleFlightCache
from bot.work import HOLD_SECONDS, QUIET_SECONDS, WorkPool, resumable

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


def test_new_work_waits_while_requests_keep_coming_and_goes_once_they_stop():
    clock = Clock()
    pool = WorkPool(1, "test", clock=clock)  # one thread: the jobs run in the order they came
    log: list[str] = []
    for n in range(3):
        pool.submit(log.append, f"request {n}")
        clock.now += QUIET_SECONDS / 2  # the next request comes before a quiet moment
    assert pool.held == 3 and log == []  # only the pool's clock lets them go, and it says: not yet
    clock.now += QUIET_SECONDS  # nothing new for more than QUIET_SECONDS since the last
    until(lambda: len(log) == 3)
    assert log == ["request 0", "request 1", "request 2"] and pool.held == 0
    assert pool.drain(WAIT)


def test_held_work_waits_at_most_hold_seconds_while_requests_keep_coming():
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)
    log: list[str] = []
    pool.submit(log.append, "first")
    first_at, step, later = clock.now, QUIET_SECONDS / 2, 0
    while clock.now + step < first_at + HOLD_SECONDS:
        clock.now += step  # a request every half quiet period: never quiet
        pool.submit(log.append, "later")
        later += 1
        assert pool.held == later + 1  # the first among them
    clock.now = first_at + HOLD_SECONDS + step / 2
    pool.submit(log.append, "latest")  # still not quiet: the first goes by its longest wait
    until(lambda: "first" in log)
    assert log == ["first"] and pool.held == later + 1  # the work that came since still waits
    assert pool.drain(WAIT) and len(log) == later + 2


def test_work_a_job_hands_on_is_not_held():
    """An unfurl's deliveries go on while new requests keep coming (their work is held)."""
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)
    started, hand_on, delivered, log = threading.Event(), threading.Event(), threading.Event(), []

    def unfurl() -> None:
        started.set()
        assert hand_on.wait(WAIT)
        pool.submit(lambda: (log.append("delivered"), delivered.set()))
        assert delivered.wait(WAIT)
        log.append("unfurl done")

    pool.submit(unfurl)
    clock.now += 2 * QUIET_SECONDS
    assert started.wait(WAIT)
    pool.submit(log.append, "new request")  # now requests are coming again: new work is held
    hand_on.set()
    until(lambda: "unfurl done" in log)
    assert log == ["delivered", "unfurl done"] and pool.held == 1
    clock.now += 2 * QUIET_SECONDS
    assert pool.drain(WAIT) and log[-1] == "new request"


def test_a_drain_lets_held_work_go_at_once_and_waits_for_it():
    clock = Clock()
    pool = WorkPool(2, "test", clock=clock)
    log: list[str] = []
    for n in range(3):
        pool.submit(log.append, f"held {n}")
    assert pool.pending == 3 and pool.held == 3
    assert pool.drain(WAIT) and pool.pending == 0  # the clock never moved: the drain let them go
    assert sorted(log) == ["held 0", "held 1", "held 2"]
