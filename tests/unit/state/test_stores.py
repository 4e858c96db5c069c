"""Every backend keeps the same contract: memory, the SQLite file, and a real Redis."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.state import MemoryStore, StateError, Store
from bot.state.redis_store import RedisStore
from bot.state.resilient import ResilientStore
from bot.state.sqlite import SCHEMA_VERSION, SqliteStore
from tests.unit.state.conftest import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_claim_is_won_once(store):
    assert store.claim("event:Ev1", 60) is True
    assert store.claim("event:Ev1", 60) is False
    assert store.claim("event:Ev2", 60) is True


def test_of_many_threads_claiming_at_once_exactly_one_wins(store):
    with ThreadPoolExecutor(16) as pool:
        won = list(pool.map(lambda _: store.claim("event:race", 60), range(64)))
    assert won.count(True) == 1


def test_a_lease_is_held_by_one_owner_and_renewed_only_by_it(store):
    assert store.lease("follow:a", "replica-1", 60)
    assert not store.lease("follow:a", "replica-2", 60)
    assert store.lease("follow:a", "replica-1", 60)  # renewed
    store.release("follow:a", "replica-2")  # not the holder: nothing happens
    assert not store.lease("follow:a", "replica-2", 60)
    store.release("follow:a", "replica-1")
    assert store.lease("follow:a", "replica-2", 60)


def test_values_by_kind(store):
    store.put("follow", "k1", '{"a": 1}')
    store.put("follow", "k2:with:colons", "two")
    store.put("other", "k1", "x")
    assert store.get("follow", "k1") == '{"a": 1}'
    assert store.items("follow") == {"k1": '{"a": 1}', "k2:with:colons": "two"}
    store.delete("follow", "k1")
    assert store.get("follow", "k1") is None and store.items("follow") == {"k2:with:colons": "two"}
    assert store.items("nothing*") == {}


@pytest.mark.parametrize("make", ["memory", "sqlite"])
def test_expiry_on_a_clock(make, tmp_path):
    clock = Clock()
    store = MemoryStore(clock) if make == "memory" else SqliteStore(str(tmp_path / "s.sqlite3"), clock=clock)
    assert store.claim("c", 10) and store.lease("l", "one", 10)
    store.put("kind", "k", "v", ttl=10)
    clock.now += 9.9
    assert not store.claim("c", 10) and not store.lease("l", "two", 10) and store.get("kind", "k") == "v"
    clock.now += 0.2
    assert store.claim("c", 10) and store.lease("l", "two", 10)
    assert store.get("kind", "k") is None and store.items("kind") == {}


def test_redis_expiry_is_redis_s_own(redis_server):
    store = RedisStore(redis_server.url)
    store.put("kind", "k", "v", ttl=60)
    raw = store._redis
    assert 0 < raw.pttl("qflow:kv:kind:k") <= 60_000
    assert store.claim("c", 30) and 0 < raw.pttl("qflow:claim:c") <= 30_000


def test_sqlite_survives_a_restart_and_is_shared_by_two_connections(tmp_path):
    path = str(tmp_path / "state.sqlite3")
    first = SqliteStore(path)
    assert first.claim("event:Ev1", 3600)
    second = SqliteStore(path)  # another process on the same host, or the next start
    assert not second.claim("event:Ev1", 3600)
    first.close()
    second.close()
    again = SqliteStore(path)
    assert not again.claim("event:Ev1", 3600)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("content,words", [
    (b"this is not a database, it is a note\n" * 200, "not a usable SQLite database"),
    (b"SQLite format 3\x00" + b"\xff" * 4000, "not a usable SQLite database"),
])
def test_a_corrupt_file_is_refused_with_its_name(tmp_path, content, words):
    path = tmp_path / "state.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StateError) as refused:
        SqliteStore(str(path))
    assert words in str(refused.value) and str(path) in str(refused.value)
    assert path.read_bytes() == content  # nothing is overwritten


def test_an_unwritable_place_is_refused_with_its_name(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "state.sqlite3").mkdir()  # a folder where the file should be
    with pytest.raises(StateError) as refused:
        SqliteStore(str(folder / "state.sqlite3"))
    assert "state.sqlite3" in str(refused.value) and "QFLOW_STATE_FILE" in str(refused.value)


def test_a_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "state.sqlite3")
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError, match="newer version"):
        SqliteStore(path)


class Broken:
    """A primary that fails until it is mended."""

    backend = "redis"
    degraded = False

    def __init__(self) -> None:
        self.mended = False
        self.calls = 0
        self.inner = MemoryStore()

    def __getattr__(self, name):
        def call(*args):
            self.calls += 1
            if not self.mended:
                raise ConnectionError("refused")
            return getattr(self.inner, name)(*args)
        return call


def test_a_failing_store_is_stood_in_for_logged_once_and_returned_to(caplog):
    clock, primary = Clock(), Broken()
    store = ResilientStore(primary, clock=clock, retry_seconds=5)
    assert store.claim("a", 60) and not store.claim("a", 60)  # the stand-in keeps claims too
    assert store.degraded and primary.calls == 1  # not asked again before the retry time
    clock.now += 5
    store.put("k", "x", "1")
    assert primary.calls == 2 and store.degraded
    primary.mended = True
    clock.now += 5
    assert store.claim("b", 60) and not store.degraded
    assert [r.levelname for r in caplog.records].count("WARNING") == 2  # the outage, and the return
    assert "in-process state" in caplog.records[0].getMessage() and "again" in caplog.records[1].getMessage()


def test_redis_stopped_and_started_again(redis_server):
    store = ResilientStore(RedisStore(redis_server.url), retry_seconds=0.0)
    try:
        assert store.claim("before", 60)
        redis_server.stop()
        assert store.claim("during", 60) and store.degraded
        redis_server.start()
        assert store.claim("after", 60) and not store.degraded
    finally:
        if redis_server.process is None or redis_server.process.poll() is not None:
            redis_server.start()


def test_threads_share_one_sqlite_store(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                store.put("k", f"{n}-{i}", "v")
                store.claim(f"{n}-{i}", 60)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(store.items("k")) == 400


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_fleet_of_replicas_loads_one_execution_once(backend, redis_server):
    import json as jsonlib
    from datetime import UTC, datetime
    from pathlib import Path

    from bot.fleet import FleetCache
    from bot.qflow import parse_execution

    if backend == "redis":
        redis_server.flush()
    shared: Store = MemoryStore() if backend == "memory" else RedisStore(redis_server.url)
    example = jsonlib.loads((Path(__file__).resolve().parents[3] / "examples" / "sample-response.json").read_text())
    loads: list[int] = []
    gate = threading.Event()

    def load():
        loads.append(1)
        gate.wait(5)  # everyone else arrives while this one loads
        return parse_execution(example), datetime.now(UTC)

    replicas = [FleetCache(shared, wait_seconds=10) for _ in range(2)]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(replicas[n % 2].get, "e1", load, lambda v: True, lambda e: 60.0) for n in range(8)]
        while not loads:
            threading.Event().wait(0.01)
        gate.set()
        results = [f.result() for f in futures]
    assert len(loads) == 1
    assert {r[0].execution_id for r in results} == {example["data"]["id"]}


def test_a_full_disk_while_running_loses_no_claim_or_value(tmp_path, caplog):
    sqlite_store = SqliteStore(str(tmp_path / "s.sqlite3"))
    sqlite_store._run("PRAGMA max_page_count = 8")  # the file may grow no more: SQLite's own "disk is full"
    store = ResilientStore(sqlite_store, retry_seconds=60)
    big = "x" * 4000
    for n in range(40):
        store.put("follow", f"k{n}", big)  # fills the file, then goes on in memory
        assert store.claim(f"event:{n}", 60) and not store.claim(f"event:{n}", 60)
    assert store.degraded and all(store.get("follow", f"k{n}") == big for n in range(30, 40))
    assert any("disk is full" in r.getMessage() for r in caplog.records)


def test_a_slow_redis_holds_nothing_up(redis_server):

    import redis as redis_client

    redis_server.flush()
    store = ResilientStore(RedisStore(redis_server.url), retry_seconds=60)
    assert store.claim("before", 60)
    admin = redis_client.Redis.from_url(redis_server.url)
    admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # the server stalls every command from now
    try:
        started = time.monotonic()
        assert store.claim("during-the-stall", 60)
        assert time.monotonic() - started < 1.2 and store.degraded  # its 0.5 s timeout, then memory stands in
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")


def test_closing_closes_the_connection_of_every_thread(tmp_path):
    import sqlite3

    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(store.claim, "from-a-worker", 60).result()  # that thread opens its own connection
        store.close()
        with pytest.raises(sqlite3.ProgrammingError):
            pool.submit(store.claim, "after", 60).result()
    with pytest.raises(sqlite3.ProgrammingError):
        store.get("k", "v")  # a thread that never had one gets none either


def test_the_connections_of_threads_that_ended_are_closed(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    for n in range(20):  # twenty short-lived threads, one after another
        thread = threading.Thread(target=store.claim, args=(f"k{n}", 60))
        thread.start()
        thread.join()
    assert store.claim("from-the-main-thread", 60)
    assert len(store._connections) <= 2  # this thread's, and at most the last ended one's before it
    assert not store.claim("k19", 60)  # what the ended threads wrote is kept
    store.close()


def test_a_value_is_replaced_only_over_what_was_read(store):
    store.put("follow", "k", "one")
    assert store.replace("follow", "k", "one", "two") is True and store.get("follow", "k") == "two"
    assert store.replace("follow", "k", "one", "three") is False and store.get("follow", "k") == "two"
    store.delete("follow", "k")
    assert store.replace("follow", "k", "two", "back") is False and store.get("follow", "k") is None
    assert store.replace("follow", "never", "x", "y") is False and store.get("follow", "never") is None


@pytest.mark.parametrize("make", ["memory", "sqlite"])
def test_a_replaced_value_keeps_its_expiry(make, tmp_path):
    clock = Clock()
    store: Store = MemoryStore(clock) if make == "memory" else SqliteStore(str(tmp_path / "s.sqlite3"), clock=clock)
    store.put("k", "a", "one", ttl=60)
    clock.now += 30
    assert store.replace("k", "a", "one", "two")
    clock.now += 31
    assert store.get("k", "a") is None and not store.replace("k", "a", "two", "three")
    store.close()


def test_redis_keeps_the_expiry_of_a_replaced_value(redis_server):
    redis_server.flush()
    store = RedisStore(redis_server.url)
    store.put("k", "a", "one", ttl=60)
    assert store.replace("k", "a", "one", "two") and 0 < store._redis.pttl("qflow:kv:k:a") <= 60_000
    store.close()


class _Spy:
    """A store that says when a lease was refused (the caller is about to wait)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.refused = threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def get_or_lease(self, *args, **options):
        value, taken = self._store.get_or_lease(*args, **options)
        if value is None and not taken:
            self.refused.set()
        return value, taken


def _example_execution():
    import json as jsonlib
    from datetime import UTC, datetime
    from pathlib import Path

    from bot.qflow import parse_execution

    example = jsonlib.loads((Path(__file__).resolve().parents[3] / "examples" / "sample-response.json").read_text())
    return parse_execution(example), datetime.now(UTC)


def _two_loads(gate: threading.Event, loads: list[str], *, fails: bool = False):
    """Two replicas' loads of one execution, each noted in `loads`: the loader's waits for `gate` (then
    fails, or gives the example); the waiter's gives the example at once."""

    def slow_load():
        loads.append("loader")
        gate.wait(20)
        if fails:
            raise RuntimeError("Qualys said no")
        return _example_execution()

    def own_load():
        loads.append("waiter")
        return _example_execution()

    return slow_load, own_load


@pytest.mark.parametrize("outcome", ["stored", "failed"])
def test_a_replica_waiting_for_another_s_load_is_woken_by_redis_not_by_its_poll(outcome, redis_server, monkeypatch):
    """Two replicas (two connections to one Redis): the waiting one hears the loader's announcement at once,
    when its polls are 30 s apart: it takes the stored execution or, when the load failed, the lease."""
    from bot.fleet import FleetCache

    monkeypatch.setattr(FleetCache, "POLL_SECONDS", 30.0)
    monkeypatch.setattr(FleetCache, "PUSHED_POLL_SECONDS", 30.0)
    redis_server.flush()
    loader_store, waiter_store = RedisStore(redis_server.url), _Spy(RedisStore(redis_server.url))
    loader, waiter = FleetCache(loader_store, wait_seconds=60), FleetCache(waiter_store, wait_seconds=60)
    gate, loads = threading.Event(), []
    slow_load, own_load = _two_loads(gate, loads, fails=outcome == "failed")
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(loader.get, "e1", slow_load, lambda v: True, lambda e: 60.0)
            assert wait_until(lambda: loads == ["loader"])
            second = pool.submit(waiter.get, "e1", own_load, lambda v: True, lambda e: 60.0)
            assert waiter_store.refused.wait(10)  # the waiter found the lease taken: it waits now
            assert wait_until(lambda: waiter_store.pushes)  # its process hears announcements
            gate.set()
            if outcome == "failed":
                with pytest.raises(RuntimeError):
                    first.result(10)
            else:
                first.result(10)
            execution, _ = second.result(5)  # not 30 s: the announcement woke it
        assert execution.execution_id
        assert loads == (["loader", "waiter"] if outcome == "failed" else ["loader"])
    finally:
        gate.set()
        loader_store.close()
        waiter_store.close()


def test_announcements_go_unheard_while_redis_is_down_and_are_heard_again_after(redis_server):
    """While Redis is down the store says it cannot wake other replicas (their waiters poll again, at
    FleetCache.POLL_SECONDS); once Redis is back, announcements reach the waiters again."""
    store, other = ResilientStore(RedisStore(redis_server.url)), RedisStore(redis_server.url)
    try:
        with store.listen("execution:e1") as changed:
            assert wait_until(lambda: store.pushes)
            other.announce("execution:e2")  # another topic: not this waiter's
            other.announce("execution:e1")
            assert changed.wait(5)
            redis_server.stop()
            assert wait_until(lambda: not store.pushes)
            redis_server.start()
            assert wait_until(lambda: store.pushes)
            changed.clear()
            other.announce("execution:e1")
            assert changed.wait(5)
    finally:
        if redis_server.process is None or redis_server.process.poll() is not None:
            redis_server.start()
        store.close()
        other.close()


def test_an_announcement_wakes_only_the_waiters_of_its_topic(store):
    with (store.listen("execution:a") as a, store.listen("execution:b") as b, store.listen("execution:a") as a2,
          store.listen("execution:c") as c):
        assert store.backend != "redis" or wait_until(lambda: store.pushes)
        store.announce("execution:a")
        store.announce("execution:c")  # heard after the one before it (one channel keeps their order)
        assert a.wait(5) and a2.wait(5) and c.wait(5)
        assert not b.is_set()
    assert store._waiting == {}  # nobody waits any more: nothing is kept for them


def test_a_redis_user_refused_pub_sub_still_shares_state_and_waiters_poll(redis_server, caplog):
    """An ACL that allows the keys but not pub/sub: nothing degrades, the announcement's refusal is said once
    (with what to allow), and a replica waiting for another's fetch still gets it (by asking, every 10 ms)."""
    import redis as redis_client

    from bot.fleet import FleetCache

    redis_server.flush()
    admin = redis_client.Redis.from_url(redis_server.url)
    admin.execute_command("ACL", "SETUSER", "nopubsub", "on", ">pw", "~*", "&*", "+@all", "-@pubsub")
    url = redis_server.url.replace("redis://", "redis://nopubsub:pw@")
    store, other = ResilientStore(RedisStore(url)), ResilientStore(RedisStore(url))
    try:
        loads = []
        with store.listen("execution:e1"):
            for _ in range(3):
                store.announce("execution:e1")
            assert not store.degraded and not store.pushes
            assert store.claim("still-shared", 60) and not other.claim("still-shared", 60)

        def load():
            loads.append(1)
            return _example_execution()

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(FleetCache(s, wait_seconds=10).get, "e1", load, lambda v: True, lambda e: 60.0)
                       for s in (store, other, store, other)]
            assert all(f.result(10)[0].execution_id for f in futures)
        assert len(loads) == 1 and not store.degraded and not other.degraded
        refusals = [r for r in caplog.records if "refuses the app's pub/sub channel" in r.getMessage()]
        assert 1 <= len(refusals) <= 2 and "qflow:changed" in refusals[0].getMessage()  # once per store at most
    finally:
        store.close()
        other.close()
        admin.execute_command("ACL", "DELUSER", "nopubsub")
        admin.close()


def test_a_load_s_lease_is_kept_while_it_runs_and_lapses_soon_after_its_replica_dies(monkeypatch):
    """A replica killed mid-fetch gives nothing back: the others load the execution themselves once its
    lease lapses (LEASE_SECONDS), not after the whole lookup budget; while it lives, it keeps the lease."""
    from bot.fleet import FleetCache

    # A renewal 25 times per lifetime: a loaded machine would have to starve the renewer for 0.48 s to fail it.
    monkeypatch.setattr(FleetCache, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(FleetCache, "RENEW_SECONDS", 0.02)
    shared = MemoryStore()
    loader, waiter = FleetCache(shared, wait_seconds=60), FleetCache(shared, wait_seconds=60)
    gate, loads = threading.Event(), []
    slow_load, own_load = _two_loads(gate, loads)
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(loader.get, "e1", slow_load, lambda v: True, lambda e: 60.0)
            assert wait_until(lambda: loads == ["loader"])
            until = time.monotonic() + 3 * FleetCache.LEASE_SECONDS  # three lifetimes of the lease: renewed
            while time.monotonic() < until:
                assert not shared.lease("load:e1", "another replica", FleetCache.LEASE_SECONDS)
                threading.Event().wait(0.02)
            with loader._held_lock:  # its replica dies: no renewal from now, nothing given back
                loader._held.clear()
            second = pool.submit(waiter.get, "e1", own_load, lambda v: True, lambda e: 60.0)
            execution, _ = second.result(10)  # a lease's lifetime later, not the 60 s wait
            assert execution.execution_id and loads == ["loader", "waiter"]
            gate.set()
            first.result(10)
    finally:
        gate.set()
