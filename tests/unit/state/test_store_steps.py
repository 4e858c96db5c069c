"""A load's two steps in the store (`get_or_lease`, `hand_over`), the same in every backend: Redis does each
in one script (one round trip), the others with their single calls."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import redis as redis_client
from hypothesis import given
from hypothesis import strategies as st

from bot.state import MemoryStore, Store
from bot.state.base import Stored
from bot.state.redis_store import RedisStore
from bot.state.resilient import ResilientStore
from bot.state.sqlite import SqliteStore
from tests.unit.state.conftest import wait_until


def test_the_lease_is_taken_only_where_no_value_is_or_when_asked(store):
    assert store.get_or_lease("execution", "e1", "load:e1", "a", 60) == (None, True)
    assert store.get_or_lease("execution", "e1", "load:e1", "b", 60) == (None, False)  # a holds it
    assert store.get_or_lease("execution", "e1", "load:e1", "a", 60) == (None, True)  # renewed by its holder
    store.put("execution", "e1", "v1", 60)
    store.release("load:e1", "a")
    assert store.get_or_lease("execution", "e1", "load:e1", "b", 60) == ("v1", False)  # a value: no lease
    assert store.get_or_lease("execution", "e1", "load:e1", "b", 60, take=True) == ("v1", True)
    assert store.get_or_lease("execution", "e1", "load:e1", "a", 60, take=True) == ("v1", False)  # b holds it


def test_a_hand_over_stores_gives_the_lease_back_and_wakes_the_waiters(store):
    assert store.get_or_lease("execution", "e1", "load:e1", "a", 60) == (None, True)
    with store.listen("execution:e1") as changed, store.listen("execution:e2") as other:
        assert store.backend != "redis" or wait_until(lambda: store.pushes)
        store.hand_over("load:e1", "b", "execution:e1", Stored("execution", "e1", "v1", 60))  # b holds nothing
        assert changed.wait(5) and store.get("execution", "e1") == "v1"
        assert not store.lease("load:e1", "b", 60)  # still a's
        changed.clear()
        store.hand_over("load:e1", "a", "execution:e1")  # a failed load: nothing stored, the lease given back
        assert changed.wait(5) and store.get("execution", "e1") == "v1"
        assert store.lease("load:e1", "b", 60)
        assert not other.is_set()


def test_redis_keeps_the_expiry_of_a_handed_over_value(redis_server):
    redis_server.flush()
    store = RedisStore(redis_server.url)
    try:
        store.hand_over("load:e1", "a", "execution:e1", Stored("execution", "e1", "v1", 60))
        store.hand_over("load:e2", "a", "execution:e2", Stored("execution", "e2", "v2"))
        assert 0 < store._redis.pttl("qflow:kv:execution:e1") <= 60_000
        assert store._redis.pttl("qflow:kv:execution:e2") == -1  # no expiry: until deleted
    finally:
        store.close()


def test_of_many_threads_in_two_replicas_one_takes_the_lease(store, redis_server):
    other = RedisStore(redis_server.url) if store.backend == "redis" else store
    try:
        with ThreadPoolExecutor(16) as pool:
            taken = list(pool.map(lambda n: (store if n % 2 else other).get_or_lease(
                "execution", "race", "load:race", f"owner-{n}", 60)[1], range(64)))
        assert taken.count(True) == 1
    finally:
        if other is not store:
            other.close()


_OWNERS = st.sampled_from(["a", "b"])
_STEPS = st.lists(st.one_of(
    st.tuples(st.just("get_or_lease"), _OWNERS, st.booleans()),
    st.tuples(st.just("hand_over"), _OWNERS, st.one_of(st.none(), st.text(min_size=1, max_size=8))),
    st.tuples(st.just("put"), st.text(min_size=1, max_size=8)),
    st.tuples(st.just("delete")),
    st.tuples(st.just("release"), _OWNERS),
), max_size=12)


@given(steps=_STEPS)
def test_every_backend_answers_each_sequence_of_steps_as_memory_does(steps, tmp_path_factory, redis_server):
    """Generated sequences of the steps and the single calls around them: SQLite and Redis (its scripts) give
    what the in-memory store gives, step by step."""
    redis_server.flush()
    stores = [MemoryStore(), SqliteStore(str(tmp_path_factory.mktemp("steps") / "state.sqlite3")),
              RedisStore(redis_server.url)]
    try:
        for step in steps:
            results = [_apply(s, step) for s in stores]
            assert results[1:] == results[:1] * 2, step
            views = [(s.get("execution", "e1"), _lease_free(s), s.items("execution")) for s in stores]
            assert views[1:] == views[:1] * 2, step
    finally:
        for s in stores:
            s.close()


def _lease_free(store: Store) -> bool:
    free = store.lease("load:e1", "probe", 60)
    if free:
        store.release("load:e1", "probe")
    return free


def _apply(store: Store, step: tuple) -> object:
    match step:
        case ("get_or_lease", owner, take):
            return store.get_or_lease("execution", "e1", "load:e1", owner, 60, take=take)
        case ("hand_over", owner, value):
            return store.hand_over("load:e1", owner, "execution:e1",
                                   None if value is None else Stored("execution", "e1", value, 60))
        case ("put", value):
            return store.put("execution", "e1", value, 60)
        case ("delete",):
            return store.delete("execution", "e1")
        case ("release", owner):
            return store.release("load:e1", owner)
    raise AssertionError(step)


def test_a_hand_over_refused_its_announcement_still_stores_and_gives_back(redis_server, caplog):
    """An ACL without pub/sub: the script's PUBLISH is refused, what came before it is done, the refusal
    said once (with what to allow) and nothing degrades."""
    redis_server.flush()
    admin = redis_client.Redis.from_url(redis_server.url)
    admin.execute_command("ACL", "SETUSER", "nopubsub2", "on", ">pw", "~*", "&*", "+@all", "-@pubsub")
    store = ResilientStore(RedisStore(redis_server.url.replace("redis://", "redis://nopubsub2:pw@")))
    try:
        assert store.get_or_lease("execution", "e1", "load:e1", "a", 60) == (None, True)
        with caplog.at_level(logging.WARNING):
            store.hand_over("load:e1", "a", "execution:e1", Stored("execution", "e1", "v1", 60))
            store.hand_over("load:e1", "a", "execution:e1")
        assert store.get("execution", "e1") == "v1" and store.lease("load:e1", "b", 60)
        assert not store.degraded
        refusals = [r for r in caplog.records if "refuses the app's pub/sub channel" in r.getMessage()]
        assert len(refusals) == 1 and "qflow:changed" in refusals[0].getMessage()
    finally:
        store.close()
        admin.execute_command("ACL", "DELUSER", "nopubsub2")
        admin.close()


def test_warming_up_opens_connections_loads_the_scripts_and_hears_announcements(redis_server):
    redis_server.flush()
    admin = redis_client.Redis.from_url(redis_server.url)
    admin.script_flush()
    store = RedisStore(redis_server.url)
    try:
        store.warm_up(6)
        pool = store._redis.connection_pool
        # six for callers (the announcements' listener may have taken one of them or one more meanwhile)
        assert len(pool._available_connections) + len(pool._in_use_connections) >= 6
        scripts = [store._renew, store._release, store._replace, store._get_or_lease, store._hand_over]
        assert admin.script_exists(*(s.sha for s in scripts)) == [True] * 5
        assert wait_until(lambda: store.pushes)
    finally:
        store.close()
        admin.close()


def test_warming_up_a_redis_that_is_down_is_no_error_and_bounded(redis_server, caplog):
    redis_server.stop()
    try:
        store = ResilientStore(RedisStore(redis_server.url))
        started = time.monotonic()
        with caplog.at_level(logging.INFO):
            store.warm_up(24)
        assert time.monotonic() - started < 5  # not 24 connection timeouts
        assert not store.degraded and "Redis not ready at start" in caplog.text
        store.close()
    finally:
        redis_server.start()


def _counting_scans(store: RedisStore) -> list[str]:
    scans: list[str] = []
    real = store._redis.scan_iter

    def scan_iter(*args, **options):
        scans.append(options.get("match", ""))
        return real(*args, **options)

    store._redis.scan_iter = scan_iter  # type: ignore[method-assign]
    return scans


def test_redis_lists_a_kind_from_its_index_not_by_scanning_every_key(redis_server):
    """After its first listing (which also scans, for keys put before the index), a kind is listed from its
    index: the claims around it are never walked again, and what is deleted, stored by a load or expired
    leaves or joins the list as it does in the other stores."""
    redis_server.flush()
    store = RedisStore(redis_server.url)
    scans = _counting_scans(store)
    try:
        store.put("follow", "a", "1")
        store.put("follow", "b", "2", ttl=60)
        assert store.items("follow") == {"a": "1", "b": "2"} and len(scans) == 1
        with store._redis.pipeline(transaction=False) as claims:
            for n in range(2000):
                claims.set(f"qflow:claim:signature:{n}", "1", px=60_000)
            claims.execute()
        store.put("follow", "c", "3", ttl=0.05)
        store.delete("follow", "a")
        store.hand_over("load:e1", "x", "execution:e1", Stored("follow", "d", "4", 60))
        found = store.items("follow")  # c too, unless it has expired already
        assert found.items() >= {"b": "2", "d": "4"}.items() and set(found) <= {"b", "c", "d"}
        assert wait_until(lambda: store.get("follow", "c") is None)  # expired
        assert store.items("follow") == {"b": "2", "d": "4"}
        assert len(scans) == 1  # no SCAN after the first listing
        store.put("follow", "e", "5")  # drops the expired member from the index
        assert store._redis.zscore("qflow:index:follow", "c") is None
        assert store._redis.zscore("qflow:index:follow", "a") is None  # deleted
        assert store._redis.zscore("qflow:index:follow", "e") == float("inf")
        assert 0 < store._redis.zscore("qflow:index:follow", "b") - time.time() * 1000 <= 60_000
    finally:
        store.close()


def test_redis_lists_values_an_older_version_put_without_the_index(redis_server, monkeypatch):
    """A rolling upgrade: keys put by a version without the index are found by the first listing, and by
    the next one after RECONCILE_SECONDS; their expiry is kept."""
    from bot.state import redis_store

    redis_server.flush()
    admin = redis_client.Redis.from_url(redis_server.url, decode_responses=True)
    admin.set("qflow:kv:subscription:old", "o")
    admin.set("qflow:kv:subscription:brief", "b", px=60_000)
    store = RedisStore(redis_server.url)
    scans = _counting_scans(store)
    try:
        assert store.items("subscription") == {"old": "o", "brief": "b"}
        assert 0 < store._redis.zscore("qflow:index:subscription", "brief") - time.time() * 1000 <= 60_000
        admin.set("qflow:kv:subscription:later", "l")  # the old version, still running, puts another
        assert store.items("subscription") == {"old": "o", "brief": "b"} and len(scans) == 1
        monkeypatch.setattr(redis_store, "RECONCILE_SECONDS", 0.0)
        assert store.items("subscription") == {"old": "o", "brief": "b", "later": "l"} and len(scans) == 2
    finally:
        store.close()
        admin.close()
