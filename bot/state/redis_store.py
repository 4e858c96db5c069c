"""State in Redis (`REDIS_URL`), shared by every replica: the `redis` client library, short timeouts
(a slow Redis must not hold an answer up: the app stands in with its own memory, bot/state/resilient.py)."""

from __future__ import annotations

from typing import Any

import redis

from .base import StateError

PREFIX = "qflow:"
TIMEOUT_SECONDS = 0.5
_RENEW = "local v = redis.call('GET', KEYS[1]) if v == false or v == ARGV[1] then " \
         "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_REPLACE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') " \
           "return 1 end return 0"  # KEEPTTL: Redis 6.0 and newer


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore:
    """Claims are `SET NX PX`; leases compare-and-set scripts; values plain keys with an expiry."""

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

    def ping(self) -> bool:
        return bool(self._redis.ping())

    def claim(self, key: str, ttl: float) -> bool:
        return bool(self._redis.set(f"{PREFIX}claim:{key}", "1", nx=True, px=_ms(ttl)))

    def lease(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self._renew(keys=[f"{PREFIX}lease:{name}"], args=[owner, _ms(ttl)]))

    def release(self, name: str, owner: str) -> None:
        self._release(keys=[f"{PREFIX}lease:{name}"], args=[owner])

    def put(self, kind: str, key: str, value: str, ttl: float | None = None) -> None:
        self._redis.set(f"{PREFIX}kv:{kind}:{key}", value, px=None if ttl is None else _ms(ttl))

    def replace(self, kind: str, key: str, old: str, new: str) -> bool:
        return bool(self._replace(keys=[f"{PREFIX}kv:{kind}:{key}"], args=[old, new]))

    def get(self, kind: str, key: str) -> str | None:
        value = self._redis.get(f"{PREFIX}kv:{kind}:{key}")
        return value if isinstance(value, str) else None

    def delete(self, kind: str, key: str) -> None:
        self._redis.delete(f"{PREFIX}kv:{kind}:{key}")

    def items(self, kind: str) -> dict[str, str]:
        prefix = f"{PREFIX}kv:{kind}:"
        keys = [k for k in self._redis.scan_iter(match=prefix.replace("*", r"\*") + "*", count=500)
                if isinstance(k, str)]
        values = self._redis.mget(keys) if keys else []
        return {k[len(prefix):]: v for k, v in zip(keys, values, strict=True) if isinstance(v, str)}

    def close(self) -> None:
        self._redis.close()
