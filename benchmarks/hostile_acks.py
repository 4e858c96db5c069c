"""Ack latency under hostile text: does a flood of texts built to stall a parser hold up anyone's ack?

Runs the real app process against the loopback fakes. First a baseline: ordinary `/qflow` lookups
from 4 threads. Then the same lookups while 4 more threads flood the app with 38 KB hostile texts
(unclosed Slack links and mentions, URL and UUID runs…) as commands, mentions and message
shortcuts. Prints ack p50/p99/max for each (Slack's limit is 3,000 ms).
Usage: .venv/bin/python -m benchmarks.hostile_acks [ordinary_per_thread] [hostile_per_thread]
"""

from __future__ import annotations

import itertools
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.ack_latency import percentile
from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes.world import fakes, new_execution
from tests.hostile import hostile_texts


def ordinary(app: RunningApp, slack, execution_id: str, count: int) -> list[float]:
    acks = []
    for _ in range(count):
        started = time.perf_counter()
        assert app.command(f"execution {execution_id}", slack.new_response_url()).status_code == 200
        acks.append(time.perf_counter() - started)
    return acks


def hostile(app: RunningApp, slack, execution_id: str, count: int, seed: int) -> list[float]:
    texts = list(hostile_texts().values())
    kinds = itertools.cycle(["command", "mention", "shortcut"])
    acks = []
    for n in range(count):
        text, kind = texts[(n + seed) % len(texts)], next(kinds)
        started = time.perf_counter()
        if kind == "command":
            response = app.command(text, slack.new_response_url())
        elif kind == "mention":
            response = app.event({"type": "app_mention", "user": "U0ASKER", "user_team": "T0FAKE",
                                  "channel": f"C0FLOOD{seed}", "text": f"<@U0BOT> {text} {execution_id}",
                                  "ts": f"1700000900.{seed}{n:05d}"}, f"EvFLOOD{seed}-{n}")
        else:
            response = app.message_shortcut(f"{text} {execution_id}", slack.new_response_url())
        assert response.status_code == 200, response.status_code
        acks.append(time.perf_counter() - started)
    return acks


def line(name: str, acks: list[float]) -> str:
    return (f"{name:34} n={len(acks):4}  p50 {statistics.median(acks) * 1000:6.1f} ms  "
            f"p99 {percentile(acks, 99) * 1000:6.1f} ms  max {max(acks) * 1000:6.1f} ms")


def main(ordinary_count: int = 100, hostile_count: int = 60) -> None:
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_MAX_MINUTES="0",
                      QFLOW_AUDIT_LOG="/dev/null")
        with run_app(env) as app:
            execution_id = new_execution(qualys)
            app.command(f"execution {execution_id}", slack.new_response_url())  # warm the cache
            with ThreadPoolExecutor(max_workers=4) as pool:
                baseline = [a for acks in pool.map(lambda _: ordinary(app, slack, execution_id, ordinary_count),
                                                   range(4)) for a in acks]
            flood_acks: list[float] = []
            done = threading.Event()
            with ThreadPoolExecutor(max_workers=8) as pool:
                floods = [pool.submit(hostile, app, slack, execution_id, hostile_count, seed) for seed in range(4)]
                people = [pool.submit(ordinary, app, slack, execution_id, ordinary_count) for _ in range(4)]
                under_flood = [a for f in people for a in f.result()]
                flood_acks = [a for f in floods for a in f.result()]
                done.set()
    size = len(next(iter(hostile_texts().values())))
    print(f"hostile texts: {len(hostile_texts())} kinds of {size:,} characters, as commands, mentions and shortcuts")
    print(line("ordinary lookups, alone", baseline))
    print(line("ordinary lookups, during the flood", under_flood))
    print(line("hostile requests", flood_acks))
    print("Slack's limit for an ack: 3000 ms")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 100, int(args[1]) if len(args) > 1 else 60)
