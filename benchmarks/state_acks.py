"""Does the state store slow the ack? The real app against the loopback fakes, once per store: in the
process's memory (QFLOW_STATE_FILE=:memory:, the path without a store), the SQLite file (the default),
and a real Redis; then two replicas sharing that Redis, requests alternating between them.

Each run sends the same storm: signed slash commands and link_shared events (each claims its
signature or event id in the store on the ack path) over a few executions, with Qualys slow.
Prints one row per run: ack p50/p99/max, answers, upstream Qualys calls, peak RSS.
Usage: .venv/bin/python -m benchmarks.state_acks [requests] [qualys_latency_s]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from benchmarks.ack_latency import percentile, rss_mib
from tests.e2e.harness import RunningApp, app_env, link_shared, run_app
from tests.fakes.world import fakes, new_execution
from tests.redis_server import running_redis

LINK = "https://qualysguard.qualys.com/qflow/#/executions/{}"


def storm(apps: list[RunningApp], slack, ids: list[str], requests: int) -> tuple[list[float], int, float]:
    """Send `requests` (half commands, half link_shared events) 32 at a time, alternating apps; the ack
    times, how many got their answer, and the peak RSS of the apps (MiB)."""
    urls = [slack.new_response_url() for _ in range(requests)]
    stamp = int(time.time() * 1000)

    def one(i: int) -> float:
        app = apps[i % len(apps)]
        execution = ids[i % len(ids)]
        started = time.perf_counter()
        if i % 2:
            response = app.command(f"execution {execution}", urls[i])
        else:
            response = app.event(link_shared(f"C0B{i}", f"{stamp}.{i}", LINK.format(execution)), f"EvB{stamp}{i}")
        assert response.status_code == 200, response.text
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=32) as pool:
        acks = list(pool.map(one, range(requests)))
    answered = sum(len(slack.wait_for_responses(urls[i], timeout=120)) for i in range(1, requests, 2))
    channels = {f"C0B{i}" for i in range(0, requests, 2)}
    slack.wait_for(lambda reqs: len({r.data.get("channel") for r in reqs if r.meta.get("api") == "chat.unfurl"}
                                    & channels) == len(channels) or None, timeout=120)
    answered += len(channels)
    peak = max(rss_mib(app.process.pid) for app in apps)
    return acks, answered, peak


def run(label: str, envs: list[dict[str, str]], requests: int, latency: float, distinct: int) -> str:
    with fakes() as (slack, qualys), ExitStack() as stack:
        qualys.latency = latency
        token = qualys.issue_token()
        apps = [stack.enter_context(run_app({**env, **app_env(slack, qualys, QUALYS_TOKEN=token,
                                                               QFLOW_TIMEOUT_SECONDS="30"), **env}))
                for env in envs]
        ids = [new_execution(qualys, "failed-with-steps.json") for _ in range(distinct)]
        acks, answered, peak = storm(apps, slack, ids, requests)
        upstream = sum(len(qualys.execution_calls(i)) for i in ids)
        for app in apps:
            app.stop()
    ms = [a * 1000 for a in acks]
    return (f"| {label:<28} | {statistics.median(ms):5.0f} | {percentile(ms, 99):5.0f} | {max(ms):5.0f} | "
            f"{answered:>4}/{requests:<4} | {upstream:>8} | {peak:7.0f} |")


def claim_cost(store, count: int = 5000) -> float:
    """Microseconds one claim costs (what each ack adds), measured in this process."""
    started = time.perf_counter()
    for i in range(count):
        store.claim(f"bench:{i}", 60)
    return (time.perf_counter() - started) / count * 1e6


def main(requests: int = 200, latency: float = 0.3, distinct: int = 10) -> None:
    from bot.state import MemoryStore
    from bot.state.redis_store import RedisStore
    from bot.state.sqlite import SqliteStore

    folder = Path(tempfile.mkdtemp(prefix="qflow-bench-"))
    costs: list[str] = []
    rows = ["| store                        | ack p50 ms | p99 | max | answered | Qualys calls | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    with running_redis() as redis:
        runs = [
            ("memory (:memory:, no store)", [{"QFLOW_STATE_FILE": ":memory:"}]),
            ("SQLite file (default)", [{"QFLOW_STATE_FILE": str(folder / "state.sqlite3")}]),
            ("Redis", [{"REDIS_URL": redis.url}]),
            ("Redis, two replicas", [{"REDIS_URL": redis.url}, {"REDIS_URL": redis.url}]),
        ]
        for label, envs in runs:
            redis.flush()
            rows.append(run(label, envs, requests, latency, distinct))
        for name, store in (("memory", MemoryStore()), ("SQLite", SqliteStore(str(folder / "claims.sqlite3"))),
                            ("Redis", RedisStore(redis.url))):
            costs.append(f"{name} {claim_cost(store):.0f} µs")
            store.close()
    print(f"{requests} requests (half /qflow commands, half link_shared events) over {distinct} executions, "
          f"32 in flight; Qualys answers in {latency} s")
    print("\n".join(rows))
    print("one claim (the store's work on an ack path), in-process: " + ", ".join(costs))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 200, float(args[1]) if len(args) > 1 else 0.3)
