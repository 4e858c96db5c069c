import threading

import pytest

from bot.cache import SingleFlightCache


class Timer:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_ttl_depends_on_the_value():
    timer = Timer()
    cache = SingleFlightCache(10, lambda v: 100.0 if v == "finished" else 5.0, timer=timer)
    assert cache.get("a", lambda: "finished") == ("finished", False)
    assert cache.get("b", lambda: "running") == ("running", False)
    timer.now = 6
    assert cache.get("a", lambda: "other") == ("finished", True)
    assert cache.get("b", lambda: "running2") == ("running2", False)


def test_fresh_skips_the_cached_value():
    cache = SingleFlightCache(10, lambda v: 100.0)
    cache.get("a", lambda: 1)
    assert cache.get("a", lambda: 2, fresh=True) == (2, False)
    assert cache.get("a", lambda: 3) == (2, True)


def test_concurrent_misses_share_one_load():
    cache = SingleFlightCache(10, lambda v: 0.0)  # nothing is cached: only in-flight sharing can help
    release = threading.Event()
    started = threading.Event()
    calls = []

    def load():
        calls.append(1)
        started.set()
        assert release.wait(10)
        return "value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", load)[0])) for _ in range(20)]
    threads[0].start()
    assert started.wait(10)
    for t in threads[1:]:
        t.start()
    # Every follower is parked on the leader's future before the load finishes.
    for _ in range(10_000):
        if cache.joined == 19:
            break
        threading.Event().wait(0.001)
    release.set()
    for t in threads:
        t.join(10)
    assert results == ["value"] * 20 and calls == [1] and cache.loads == 1 and cache.joined == 19


def test_a_failed_load_reaches_every_waiter_and_is_not_cached():
    cache = SingleFlightCache(10, lambda v: 100.0)
    with pytest.raises(KeyError):
        cache.get("k", lambda: (_ for _ in ()).throw(KeyError("boom")))
    assert cache.get("k", lambda: "ok") == ("ok", False)
