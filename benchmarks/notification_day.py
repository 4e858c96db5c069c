"""A day of notifications, compressed: 20 subscribed workflows, 10 watched runs and a lookup storm
against a gateway that allows 300 calls per window, with one window standing for one hour.

Time runs `SCALE` times faster for everything: the gateway's window (3600 s → 3600/SCALE s), the refresh
interval of watched cards (30 s) and the subscription poll (60 s), so each hour of the day takes
3600/SCALE seconds. People look up executions throughout, a storm of distinct ones in one hour.
Prints Qualys calls per window (the limit is 300) and by kind, the effective poll interval, lookup
latency, and lookups refused for the budget. Target: never over the limit; no lookup refused.
Usage: .venv/bin/python -m benchmarks.notification_day [hours] [scale]
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from benchmarks.ack_latency import percentile
from tests.e2e.harness import app_env, run_app, slash
from tests.fakes.world import WORKFLOW_ID, fakes, new_execution

LIMIT = 300


def main(hours: int = 6, scale: float = 120.0) -> None:
    window = 3600 / scale
    with fakes() as (slack, qualys):
        qualys.rate_limit, qualys.rate_window = LIMIT, int(window) or 1
        workflows = [WORKFLOW_ID] + [str(__import__("uuid").uuid4()) for _ in range(19)]
        for wid in workflows[1:]:
            qualys.workflows[wid] = {"id": wid, "name": f"workflow {wid[:8]}", "definition": "{}"}
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_SECONDS=str(30 / scale),
                      QFLOW_SUBSCRIPTION_POLL_SECONDS=str(max(1.0, 60 / scale)), QFLOW_TIMEOUT_SECONDS="5")
        with run_app(env) as app:
            for n, wid in enumerate(workflows):
                slash(app, slack, f"subscribe {wid}", f"C0DAY{n}")
            for n in range(10):
                slash(app, slack, f"watch {new_execution(qualys, 'running.json')}", f"C0WATCHDAY{n}")
            latencies: list[float] = []
            refused = 0
            started = time.monotonic()
            storm_hour = hours // 2
            with ThreadPoolExecutor(8) as pool:
                for hour in range(hours):
                    lookups = 40 if hour == storm_hour else 4  # people, and one incident storm
                    urls = []
                    for _ in range(lookups):
                        url = slack.new_response_url()
                        form = {"command": "/qflow", "text": f"execution {new_execution(qualys)}", "user_id": "U0DAY",
                                "channel_id": "C0DAYLOOK", "team_id": "T0FAKE", "response_url": url, "trigger_id": "1"}
                        sent = time.perf_counter()
                        pool.submit(app.post_signed, urlencode(form), "application/x-www-form-urlencoded")
                        urls.append((url, sent))
                    for url, sent in urls:
                        [answer] = slack.wait_for_responses(url, timeout=60)
                        latencies.append(answer.at - sent)
                        refused += "rate limit" in str(answer.data).lower()
                    # runs end now and then: subscribers get cards
                    for wid in workflows[:5]:
                        start_ms = int(time.time() * 1000)
                        new_execution(qualys, "failed-with-steps.json", workflow=wid, status="Failed",
                                      startDate=start_ms, endDate=start_ms + 1000)
                    rest = started + (hour + 1) * window - time.monotonic()
                    if rest > 0:
                        time.sleep(rest)  # the rest of this hour
            listed = slash(app, slack, "subscriptions", "C0DAY0")
            app.stop()
    windows = qualys.rate_windows
    kinds = {"list runs": len([r for r in qualys.requests if r.path.endswith("/executions")]),
             "execution details": len([r for r in qualys.requests if "/executions/" in r.path and "/steps" not in r.path]),
             "workflow names": len([r for r in qualys.requests if "/workflows/" in r.path
                                    and not r.path.endswith("/executions")])}
    interval = [b["text"]["text"] for b in listed.get("blocks", []) if b.get("type") == "section"]
    print(f"{hours} simulated hours (1 h = {window:.0f} s), 20 subscribed workflows, 10 watched runs, "
          f"{len(latencies)} lookups ({40} in the storm hour); gateway limit {LIMIT} per window")
    print(f"calls per window        {windows}  (max {max(windows) if windows else 0}; limit {LIMIT})")
    print("calls by kind           " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    print(f"429s from the gateway   {qualys.refused}")
    print(f"lookup latency s        p50 {statistics.median(latencies):.2f}  p99 {percentile(latencies, 99):.2f}  "
          f"max {max(latencies):.2f}")
    print(f"lookups refused         {refused} of {len(latencies)} for the budget")
    print("poll interval           " + (interval[0].splitlines()[-1] if interval else "?"))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 6, float(args[1]) if len(args) > 1 else 120.0)
