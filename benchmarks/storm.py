"""An incident storm, side by side: the floor (a Bolt app that only acknowledges), the naive starter
pattern (fetch inside the listener, no cache) and ours (the real app, one process and several workers
sharing Redis), under the same server settings, against the loopback fakes with Qualys slow.

Signed slash commands and link_shared events over a few executions, at several numbers in flight; one
table: ack p50/p99, time to the final answer p50/p99, answers per second, lost answers, upstream Qualys
calls, Slack Web API calls, peak RSS, and ours/floor, ours/naive ratios. Writes it to BENCHMARKS.md.
Usage: .venv/bin/python -m benchmarks.storm [requests] [qualys_latency_s] [in_flight,...]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.ack_latency import percentile
from tests.e2e.harness import ROOT, RunningApp, app_env, link_shared, run_app
from tests.fakes.world import fakes, new_execution
from tests.redis_server import free_port, running_redis

LINK = "https://qualysguard.qualys.com/qflow/#/executions/{}"


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def family_peak(pid: int) -> float:
    """The largest peak RSS of the process and its children (gunicorn workers)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return max(peak_rss_mib(p) for p in pids)


def module_app(module: str, env: dict[str, str]) -> AbstractContextManager[RunningApp]:
    """One of benchmarks/storm_apps, started as its own process like ours (its port chosen here)."""
    return run_app(env, str(free_port()), module=module)


def storm(app: RunningApp, slack, qualys, requests: int, in_flight: int, distinct: int,
          answers: bool = True) -> dict[str, float]:
    """Send the storm; with `answers`, wait for each final answer (the floor gives none)."""
    ids = [new_execution(qualys, "failed-with-steps.json") for _ in range(distinct)]
    # One HTTP client per sending thread: hundreds of requests in flight through one pool lose sockets.
    local = threading.local()

    def sender() -> RunningApp:
        if not hasattr(local, "app"):
            local.app = RunningApp(app.process, app.url, app.log, threading.Condition())
        return local.app

    before_q, before_s = len(qualys.requests), len(slack.api_calls())
    stamp = int(time.time() * 1000)
    urls = [slack.new_response_url() for _ in range(requests)]
    sent: dict[int, float] = {}

    def one(i: int) -> float:
        execution = ids[i % distinct]
        sender_app = sender()
        sent[i] = time.perf_counter()
        if i % 2:
            response = sender_app.command(f"execution {execution}", urls[i])
        else:
            event = link_shared(f"C0S{stamp}{i}", f"{stamp}.{i}", LINK.format(execution))
            response = sender_app.event(event, f"EvS{stamp}{i}")
        assert response.status_code == 200, response.text
        return time.perf_counter() - sent[i]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        acks = list(pool.map(one, range(requests)))
    finals: list[float] = []
    lost = 0
    for i in range(requests if answers else 0):
        try:
            if i % 2:
                at = slack.wait_for_responses(urls[i], timeout=60)[-1].at
            else:
                channel = f"C0S{stamp}{i}"
                at = slack.wait_for(lambda reqs, c=channel: [r for r in reqs if r.meta.get("api") == "chat.unfurl"
                                                            and r.data.get("channel") == c] or None, 60)[0].at
            finals.append(at - sent[i])
        except AssertionError:
            lost += 1
    elapsed = (max(sent[i] + f for i, f in zip(range(requests), finals, strict=False)) - started) if finals else 1.0
    return {"ack_p50": statistics.median(acks) * 1000, "ack_p99": percentile(acks, 99) * 1000,
            "final_p50": statistics.median(finals) if finals else float("nan"),
            "final_p99": percentile(finals, 99) if finals else float("nan"),
            "per_second": len(finals) / elapsed, "lost": lost,
            "qualys": len(qualys.requests) - before_q, "slack": len(slack.api_calls()) - before_s}


def main(requests: int = 200, latency: float = 0.3, levels: tuple[int, ...] = (10, 50, 200), distinct: int = 10) -> None:
    rows: list[tuple[str, int, dict[str, float], float]] = []
    with running_redis() as redis:
        variants = [("floor", "benchmarks.storm_apps.floor", {}), ("naive", "benchmarks.storm_apps.naive", {}),
                    ("ours", None, {}), ("ours, 2 workers + Redis", None, {"WEB_CONCURRENCY": "2",
                                                                           "REDIS_URL": redis.url})]
        for label, module, extra in variants:
            for in_flight in levels:
                redis.flush()
                with fakes() as (slack, qualys):
                    qualys.latency = latency
                    env = {**app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_TIMEOUT_SECONDS="30"),
                           **extra}
                    runner = module_app(module, env) if module else run_app(env)
                    with runner as app:
                        figures = storm(app, slack, qualys, requests, in_flight, distinct, answers=label != "floor")
                        peak = family_peak(app.process.pid)
                rows.append((label, in_flight, figures, peak))
    table = ["| app | in flight | ack p50 ms | ack p99 ms | answer p50 s | answer p99 s | answers/s | lost | "
             "Qualys calls | Slack calls | peak RSS MiB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, in_flight, f, peak in rows:
        table.append(f"| {label} | {in_flight} | {f['ack_p50']:.0f} | {f['ack_p99']:.0f} | {f['final_p50']:.2f} | "
                     f"{f['final_p99']:.2f} | {f['per_second']:.1f} | {f['lost']:.0f} | {f['qualys']:.0f} | "
                     f"{f['slack']:.0f} | {peak:.0f} |")
    by = {(label, n): f for label, n, f, _ in rows}
    ratios = [f"- at {n} in flight: ours/floor ack p99 {by[('ours', n)]['ack_p99'] / by[('floor', n)]['ack_p99']:.2f}×, "
              f"ours/naive answers per second {by[('ours', n)]['per_second'] / max(by[('naive', n)]['per_second'], 1e-9):.1f}×"
              for n in levels]
    header = (f"{requests} requests (half /qflow commands, half link_shared events) over {distinct} executions, "
              f"Qualys at {latency} s; {os.cpu_count()} cores, {platform.platform()}, "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    text = "\n".join([header, "", *table, "", *ratios])
    print(text)
    Path(ROOT / "BENCHMARKS.md").write_text("# Benchmarks\n\n## The incident storm (`python -m benchmarks.storm`)\n\n"
                                           + text + "\n")
    print(json.dumps({"written": "BENCHMARKS.md"}))


if __name__ == "__main__":
    args = sys.argv[1:]
    levels = tuple(int(x) for x in args[2].split(",")) if len(args) > 2 else (10, 50, 200)
    main(int(args[0]) if args else 200, float(args[1]) if len(args) > 1 else 0.3, levels)
