"""What the state tests share: each backend as a fixture (memory, the SQLite file, a real Redis), and a
wait for a condition another thread makes true."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.state import MemoryStore, Store
from bot.state.redis_store import RedisStore
from bot.state.sqlite import SqliteStore


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request, tmp_path, redis_server) -> Iterator[Store]:
    if request.param == "memory":
        made: Store = MemoryStore()
    elif request.param == "sqlite":
        made = SqliteStore(str(tmp_path / "state.sqlite3"))
    else:
        redis_server.flush()
        made = RedisStore(redis_server.url)
    yield made
    made.close()


def wait_until(condition, seconds: float = 10.0) -> bool:
    """True once `condition()` holds (looked at every 10 ms), False after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.01)
    return True
