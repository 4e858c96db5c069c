"""How fast Slack gets its ack, and users their card, when Qualys is slow and requests pile up.

Runs the real app process against the loopback fakes (tests/fakes), sends N signed slash
commands at once, and prints ack latency (Slack's limit is 3 s), time to the answer, and the
number of upstream Qualys calls. Usage: .venv/bin/python -m benchmarks.ack_latency [N] [latency_s]
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.e2e.harness import app_env, run_app
from tests.fakes.world import fakes, new_execution


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(requests: int = 60, latency: float = 2.0, distinct: int = 20) -> None:
    with fakes() as (slack, qualys):
        qualys.latency = latency
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_TIMEOUT_SECONDS="30")
        with run_app(env) as app:
            ids = [new_execution(qualys, "failed-with-steps.json") for _ in range(distinct)]
            idle = rss_mib(app.process.pid)
            urls = [slack.new_response_url() for _ in range(requests)]
            sent: dict[str, float] = {}

            def one(i: int) -> float:
                started = time.perf_counter()
                sent[urls[i]] = started
                response = app.command(f"execution {ids[i % distinct]}", urls[i])
                assert response.status_code == 200
                return time.perf_counter() - started

            wall = time.perf_counter()
            with ThreadPoolExecutor(max_workers=32) as pool:
                acks = list(pool.map(one, range(requests)))
            answers = [slack.wait_for_responses(url, timeout=120)[0] for url in urls]
            answer_times = [a.at - sent[url] for a, url in zip(answers, urls, strict=True)]
            done = max(a.at for a in answers)
            upstream = sum(len(qualys.execution_calls(i)) for i in ids)
            loaded = rss_mib(app.process.pid)
            # Then fill the cache: 1,000 more distinct executions, looked up one after another.
            qualys.latency = 0.0
            for _ in range(1000):
                execution_id = new_execution(qualys, "failed-with-steps.json")
                url = slack.new_response_url()
                app.command(f"execution {execution_id}", url)
            slack.wait_for(lambda reqs: sum(1 for r in reqs if r.meta.get("answered")
                                            and "response_url" in r.meta) >= requests + 1000, timeout=300)
            full = rss_mib(app.process.pid)
            ok = sum(1 for a in answers if a.data.get("blocks", [{}])[0].get("type") == "header")
    print(f"requests sent          {requests} (over {distinct} distinct executions, 32 at a time)")
    print(f"qualys latency         {latency:.1f} s per call")
    print(f"ack latency ms         p50 {statistics.median(acks) * 1000:.0f}  p95 {percentile(acks, 95) * 1000:.0f}"
          f"  max {max(acks) * 1000:.0f}   (Slack's limit: 3000)")
    print(f"answered with a card   {ok}/{requests}")
    print(f"answer latency s       p50 {statistics.median(answer_times):.1f}  p95 {percentile(answer_times, 95):.1f}"
          f"  max {max(answer_times):.1f}   (all {requests} answered {done - wall:.1f} s after the first was sent)")
    print(f"upstream calls         {upstream} execution-details calls for {requests} lookups")
    print(f"app memory (RSS) MiB   idle {idle:.0f}  after the burst {loaded:.0f}  "
          f"after 1,000 more cached executions {full:.0f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 60, float(args[1]) if len(args) > 1 else 2.0)
