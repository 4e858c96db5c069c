"""Listing a kind in Redis (followed cards, subscriptions) among an hour of claims: each Slack request
leaves a claim key for an hour, so a busy fleet's Redis holds tens of thousands of keys beside the few it
lists. Prints, per number of claim keys: a process's first listing (which also SCANs every key, to index
what an older version put) and the later ones (from the kind's index), in ms.
Usage: .venv/bin/python -m benchmarks.listing
"""

from __future__ import annotations

import statistics
import time

from bot.state.redis_store import RedisStore
from tests.redis_server import running_redis

FOLLOWED = 20
TIMES = 20


def main() -> None:
    with running_redis() as server:
        print(f"{'claim keys':>10} | {'first listing ms':>16} | {'later listings ms (median)':>26}")
        for claims in (1_000, 20_000, 100_000):
            server.flush()
            store = RedisStore(server.url)
            with store._redis.pipeline(transaction=False) as batch:
                for n in range(claims):
                    batch.set(f"qflow:claim:signature:{n}", "1", px=3_600_000)
                batch.execute()
            for n in range(FOLLOWED):
                store.put("follow", f"msg:C{n}:1.{n}", '{"user": "U1", "channel": "C1"}')
            started = time.perf_counter()
            first = store.items("follow")
            first_ms = (time.perf_counter() - started) * 1000
            later = []
            for _ in range(TIMES):
                started = time.perf_counter()
                found = store.items("follow")
                later.append((time.perf_counter() - started) * 1000)
            assert len(first) == len(found) == FOLLOWED
            print(f"{claims:>10} | {first_ms:>16.2f} | {statistics.median(later):>26.2f}")
            store.close()


if __name__ == "__main__":
    main()
