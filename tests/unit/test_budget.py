"""The shared Qualys rate budget: read from every answer's headers, kept in the state store."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.budget import RateBudget, reserve_calls
from bot.config import ConfigError, load_settings
from bot.state import MemoryStore

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "QUALYS_PLATFORM": "US1", "QUALYS_TOKEN": "a.b.c"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def limits(remaining: int, limit: int = 300, window: int = 3600, **more: str) -> dict[str, str]:
    return {"x-ratelimit-limit": str(limit), "x-ratelimit-window-sec": str(window),
            "x-ratelimit-remaining": str(remaining), **more}


def test_background_work_pauses_at_the_reserve_and_resumes_above_it():
    clock = Clock()
    budget = RateBudget(MemoryStore(clock), "20%", clock=clock)
    assert budget.background_allowed()  # nothing known yet
    budget.observe("execution", "ok", 0.1, limits(61))
    assert budget.background_allowed()
    budget.observe("execution", "ok", 0.1, limits(60))  # 20 % of 300
    assert not budget.background_allowed()
    clock.now += 3600  # a window later the figures are stale: they no longer hold work back
    assert budget.background_allowed()


def test_a_429_s_wait_is_honoured_by_every_replica_sharing_the_store():
    clock = Clock()
    store = MemoryStore(clock)  # one clock for the store and both replicas
    one, two = RateBudget(store, clock=clock), RateBudget(store, clock=clock)
    one.observe("execution", "rate_limited", 0.1, limits(0, **{"x-ratelimit-towait-sec": "120"}))
    assert two.wait_left() == 120 and not two.background_allowed()
    clock.now += 121
    assert two.wait_left() == 0


def test_auth_answers_and_answers_without_headers_change_nothing():
    budget = RateBudget(MemoryStore())
    budget.observe("auth", "ok", 0.1, limits(0))
    budget.observe("execution", "ok", 0.1, {})
    budget.observe("execution", "timeout", 0.1, None)
    assert budget.snapshot().remaining is None and budget.background_allowed()


@given(st.dictionaries(st.sampled_from(["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-window-sec",
                                         "x-ratelimit-towait-sec", "retry-after"]),
                       st.one_of(st.text(max_size=30), st.from_regex(r"-?[0-9]{1,40}(\.[0-9]+)?", fullmatch=True),
                                 st.sampled_from(["inf", "nan", "1e308", "-5", "Wed, 21 Oct 2115 07:28:00 GMT"]))),
       st.sampled_from(["ok", "rate_limited", "server_error"]))
def test_hostile_headers_never_break_the_budget(headers, outcome):
    clock = Clock()
    budget = RateBudget(MemoryStore(clock), clock=clock)
    budget.observe("execution", outcome, 0.1, headers)
    assert 0 <= budget.wait_left() <= 3600
    budget.background_allowed()
    seen = budget.snapshot()
    for value in (seen.limit, seen.remaining, seen.window):
        assert value is None or 0 <= value < 10**9


@pytest.mark.parametrize("reserve,limit,calls", [("20%", 300, 60), ("0%", 300, 0), ("50", 300, 50), ("20%", None, 0),
                                                 ("33%", 10, 4)])
def test_the_reserve(reserve, limit, calls):
    assert reserve_calls(reserve, limit) == calls


@pytest.mark.parametrize("bad", ["95%", "-1", "lots", "%", "1e3"])
def test_a_bad_reserve_setting_is_named(bad):
    with pytest.raises(ConfigError, match="QFLOW_RATE_RESERVE"):
        load_settings({**BASE, "QFLOW_RATE_RESERVE": bad})


def test_with_a_pool_the_figures_are_written_after_the_lookup_once_the_latest_and_a_429_at_once():
    clock = Clock()
    store = MemoryStore(clock)
    later: list = []
    budget = RateBudget(store, clock=clock, defer=later.append)
    budget.observe("execution", "ok", 0.1, limits(250))
    budget.observe("execution", "ok", 0.1, limits(249))
    assert store.get("budget", "qualys") is None  # nothing written inside the lookups
    assert len(later) == 1  # one write for both
    later.pop()()
    assert budget.snapshot().remaining == 249
    budget.observe("execution", "ok", 0.1, limits(248))
    budget.observe("execution", "rate_limited", 0.1, limits(0, **{"x-ratelimit-towait-sec": "30"}))
    assert budget.wait_left() == 30 and budget.snapshot().remaining == 0  # the 429 did not wait for the pool
    later.pop()()  # the write scheduled before it finds nothing left to write
    assert budget.wait_left() == 30 and budget.snapshot().remaining == 0
    other = RateBudget(store, clock=clock, defer=lambda job: False)  # a pool that has stopped: written at once
    other.observe("execution", "ok", 0.1, limits(7))
    assert budget.snapshot().remaining == 7 and budget.wait_left() == 30  # another replica's 429 is kept
