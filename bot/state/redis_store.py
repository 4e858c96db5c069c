"""State in Redis (`REDIS_URL`), shared by every replica: the `redis` client library, short timeouts
(a slow Redis must not hold an answer up: the app stands in with its own memory, bot/state/resilient.py)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import AbstractContextManager
from typing import Any

import redis

from .base import StateError, Stored
from .signals import Announcements

log = logging.getLogger(__name__)
PREFIX = "qflow:"
TIMEOUT_SECONDS = 0.5
CHANNEL = f"{PREFIX}changed"  # announcements: each message a topic
RESUBSCRIBE_SECONDS = 1.0  # between two attempts to listen again after the connection failed
_RENEW = "local v = redis.call('GET', KEYS[1]) if v == false or v == ARGV[1] then " \
         "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_REPLACE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') " \
           "return 1 end return 0"  # KEEPTTL: Redis 6.0 and newer
# A load's first step: the value, and the lease when no value is there (or whatever is, with ARGV[3] = 1).
# The value comes second, and only when there is one (RESP3 would turn a Lua false into a boolean).
_GET_OR_LEASE = "local v = redis.call('GET', KEYS[1]) local taken = 0 if v == false or ARGV[3] == '1' then " \
                "local h = redis.call('GET', KEYS[2]) if h == false or h == ARGV[1] then " \
                "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) taken = 1 end end " \
                "if v == false then return {taken} end return {taken, v}"
# Each kind's keys are also in a sorted set, scored by when each expires (ms, Redis' clock; +inf: never), so
# that listing a kind reads its live keys, not every key in Redis: with an hour of claims (20,000 keys) a
# SCAN over them took 19 ms per listing, 131 ms at 100,000. Each put drops the members that have expired.
_PUT = "local function put(index, key, member, value, ttl) " \
       "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) " \
       "if ttl == '' then redis.call('SET', key, value) redis.call('ZADD', index, '+inf', member) else " \
       "redis.call('SET', key, value, 'PX', ttl) redis.call('ZADD', index, now + tonumber(ttl), member) end " \
       "redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. now) end "
_PUT_ONE = _PUT + "put(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]) return 1"
_LIVE = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) " \
        "return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')"
# A load's end: the value put (ARGV[3] = 1; ARGV[5] its expiry in ms, or empty), the lease given back if its
# owner holds it, the topic announced. A PUBLISH refused (an ACL) leaves the rest done and says why.
_HAND_OVER = _PUT + "if ARGV[3] == '1' then put(KEYS[3], KEYS[2], ARGV[7], ARGV[4], ARGV[5]) end " \
             "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end " \
             "local said = redis.pcall('PUBLISH', ARGV[6], ARGV[2]) " \
             "if type(said) == 'table' and said.err then return said.err end return 'OK'"
RECONCILE_SECONDS = 600.0  # how often a process lists a kind by SCAN too (keys another version put unindexed)


def _index(kind: str) -> str:
    return f"{PREFIX}index:{kind}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore(Announcements):
    """Claims are `SET NX PX`; leases compare-and-set scripts; values plain keys with an expiry;
    announcements Redis' pub/sub, heard by one thread per process (started by the first `listen`)."""

    backend = "redis"
    degraded = False

    def __init__(self, url: str, *, client: redis.Redis | None = None) -> None:
        try:
            self._redis: redis.Redis = client or redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS, decode_responses=True)
        except ValueError as error:
            raise StateError(f"REDIS_URL is not a Redis URL ({error}): use redis://host:port/0 or rediss://…") from None
        self._renew: Any = self._redis.register_script(_RENEW)
        self._release: Any = self._redis.register_script(_RELEASE)
        self._replace: Any = self._redis.register_script(_REPLACE)
        self._get_or_lease: Any = self._redis.register_script(_GET_OR_LEASE)
        self._hand_over: Any = self._redis.register_script(_HAND_OVER)
        self._put: Any = self._redis.register_script(_PUT_ONE)
        self._live: Any = self._redis.register_script(_LIVE)
        self._reconciled: dict[str, float] = {}  # kind: when this process last listed it by SCAN
        Announcements.__init__(self)
        self._subscribed = threading.Event()  # the listening thread hears announcements now
        self._stopped = threading.Event()
        self._listener: threading.Thread | None = None
        self._listener_lock = threading.Lock()
        self._told_refused = False

    @property
    def pushes(self) -> bool:
        return self._subscribed.is_set()

    def announce(self, topic: str) -> None:
        try:
            self._redis.publish(CHANNEL, topic)  # this process's waiters hear it too, through the listener
        except redis.ResponseError as error:  # refused (an ACL without pub/sub): the store itself still works
            self._refused(error)

    def _refused(self, error: redis.ResponseError) -> None:
        if not self._told_refused:
            self._told_refused = True
            log.warning("Redis refuses the app's pub/sub channel %s (%s): replicas waiting for another's Qualys "
                        "fetch ask Redis every few ms instead; allow PUBLISH and SUBSCRIBE on it (ACL &%s)",
                        CHANNEL, str(error)[:200], CHANNEL)

    def listen(self, topic: str) -> AbstractContextManager[threading.Event]:
        self._start_listening()
        return super().listen(topic)

    def _start_listening(self) -> None:
        if self._listener is None:
            with self._listener_lock:
                if self._listener is None and not self._stopped.is_set():
                    self._listener = threading.Thread(target=self._hear, name="qflow-redis-announcements",
                                                      daemon=True)
                    self._listener.start()

    def _hear(self) -> None:
        """Pass every announcement to this process's waiters, for as long as the store is open; while the
        connection is down, `pushes` is False (waiters poll) and the subscription is tried again."""
        while not self._stopped.is_set():
            try:
                with self._redis.pubsub() as pubsub:
                    pubsub.subscribe(CHANNEL)
                    while not self._stopped.is_set():
                        message = pubsub.get_message(timeout=RESUBSCRIBE_SECONDS)
                        if message is None:
                            continue
                        if message.get("type") == "subscribe":
                            self._subscribed.set()
                        elif message.get("type") == "message" and isinstance(message.get("data"), str):
                            super().announce(message["data"])
            except redis.ResponseError as error:  # refused: waiters poll; tried again now and then
                self._refused(error)
                self._subscribed.clear()
                self._stopped.wait(RESUBSCRIBE_SECONDS * 30)
            except Exception as error:  # noqa: BLE001 - a down Redis: waiters poll meanwhile
                if self._subscribed.is_set():
                    log.info("Redis announcements unheard (%s): waiters poll until they are heard again",
                             type(error).__name__)
                self._subscribed.clear()
                self._stopped.wait(RESUBSCRIBE_SECONDS)
        self._subscribed.clear()

    def warm_up(self, connections: int) -> None:
        """Before serving: the announcements heard, the scripts loaded and `connections` connections open, so
        that a storm's first calls neither connect (a round trip more each) nor meet NOSCRIPT (two more)."""
        self._start_listening()
        try:
            for script in (self._renew, self._release, self._replace, self._get_or_lease, self._hand_over,
                           self._put, self._live):
                self._redis.script_load(script.script)
            pool = self._redis.connection_pool
            opened = []
            try:
                for _ in range(connections):
                    opened.append(pool.get_connection())
            finally:
                for connection in opened:
                    pool.release(connection)
        except redis.RedisError as error:
            log.info("Redis not ready at start (%s: %s): connections open and scripts load as they are needed",
                     type(error).__name__, str(error)[:200])

    def ping(self) -> bool:
        return bool(self._redis.ping())

    def check(self) -> None:
        """Each kind of call the app makes, on scratch keys that expire within a second (for `doctor`): raises
        what Redis refuses (an ACL without scripts or sorted sets would leave each replica on its own memory)."""
        scratch = f"doctor:{uuid.uuid4().hex}"
        self.claim(scratch, 1.0)
        self.get_or_lease("doctor", scratch, scratch, scratch, 1.0)
        self.hand_over(scratch, scratch, scratch, Stored("doctor", scratch, "1", 1.0))
        self.replace("doctor", scratch, "1", "2")
        self.lease(scratch, scratch, 1.0)
        self.release(scratch, scratch)
        self.items("doctor")
        self.delete("doctor", scratch)

    def claim(self, key: str, ttl: float) -> bool:
        return bool(self._redis.set(f"{PREFIX}claim:{key}", "1", nx=True, px=_ms(ttl)))

    def lease(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self._renew(keys=[f"{PREFIX}lease:{name}"], args=[owner, _ms(ttl)]))

    def release(self, name: str, owner: str) -> None:
        self._release(keys=[f"{PREFIX}lease:{name}"], args=[owner])

    def get_or_lease(self, kind: str, key: str, name: str, owner: str, ttl: float, *,
                     take: bool = False) -> tuple[str | None, bool]:
        found = self._get_or_lease(keys=[f"{PREFIX}kv:{kind}:{key}", f"{PREFIX}lease:{name}"],
                                   args=[owner, _ms(ttl), "1" if take else "0"])
        value = found[1] if len(found) > 1 and isinstance(found[1], str) else None
        return value, bool(found[0])

    def hand_over(self, name: str, owner: str, topic: str, value: Stored | None = None) -> None:
        kind, key, text, ttl = value or ("", "", "", None)
        said = self._hand_over(keys=[f"{PREFIX}lease:{name}", f"{PREFIX}kv:{kind}:{key}", _index(kind)],
                               args=[owner, topic, "1" if value else "0", text, "" if ttl is None else _ms(ttl), CHANNEL,
                                     key])
        if said != "OK":  # the announcement was refused (an ACL without pub/sub): the rest is done
            self._refused(redis.ResponseError(str(said)))

    def put(self, kind: str, key: str, value: str, ttl: float | None = None) -> None:
        self._put(keys=[_index(kind), f"{PREFIX}kv:{kind}:{key}"], args=[key, value, "" if ttl is None else _ms(ttl)])

    def replace(self, kind: str, key: str, old: str, new: str) -> bool:
        return bool(self._replace(keys=[f"{PREFIX}kv:{kind}:{key}"], args=[old, new]))

    def get(self, kind: str, key: str) -> str | None:
        value = self._redis.get(f"{PREFIX}kv:{kind}:{key}")
        return value if isinstance(value, str) else None

    def delete(self, kind: str, key: str) -> None:
        with self._redis.pipeline() as both:  # one round trip, in one transaction
            both.delete(f"{PREFIX}kv:{kind}:{key}")
            both.zrem(_index(kind), key)
            both.execute()

    def items(self, kind: str) -> dict[str, str]:
        """The kind's live values, found through its index; every RECONCILE_SECONDS (and first) also by a SCAN,
        indexing what it finds (keys an older version of the app put, in a rolling upgrade)."""
        prefix = f"{PREFIX}kv:{kind}:"
        if time.monotonic() >= self._reconciled.get(kind, float("-inf")) + RECONCILE_SECONDS:
            self._reindex(kind, prefix)
            self._reconciled[kind] = time.monotonic()
        members = [m for m in self._live(keys=[_index(kind)]) if isinstance(m, str)]
        values = self._redis.mget([prefix + m for m in members]) if members else []
        return {m: v for m, v in zip(members, values, strict=True) if isinstance(v, str)}

    def _reindex(self, kind: str, prefix: str) -> None:
        keys = [k for k in self._redis.scan_iter(match=prefix.replace("*", r"\*") + "*", count=500)
                if isinstance(k, str)]
        if not keys:
            return
        seconds, micros = self._redis.time()
        now = int(seconds) * 1000 + int(micros) // 1000
        with self._redis.pipeline(transaction=False) as ask:
            for k in keys:
                ask.pttl(k)
            left = ask.execute()
        scores = {k[len(prefix):]: (float("inf") if ms == -1 else now + ms) for k, ms in zip(keys, left, strict=True)
                  if isinstance(ms, int) and ms != -2}  # -2: gone meanwhile
        if scores:
            self._redis.zadd(_index(kind), scores)

    def close(self) -> None:
        self._stopped.set()  # the listening thread ends within RESUBSCRIBE_SECONDS (nothing waits for it)
        self._redis.close()
