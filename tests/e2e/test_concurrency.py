"""Dozens of lookups in flight: every request is acked while Qualys has not answered any, and
identical lookups share one upstream call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.harness import app_env, run_app
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import assert_valid_message

REQUESTS = 48


def test_acks_do_not_wait_for_qualys_and_identical_lookups_collapse():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_TIMEOUT_SECONDS="30")
        with run_app(env) as app:
            ids = [new_execution(qualys) for _ in range(4)]
            urls = [slack.new_response_url() for _ in range(REQUESTS)]
            qualys.gate.clear()  # hold every executions call until the test lets go
            with ThreadPoolExecutor(max_workers=16) as pool:
                acks = list(pool.map(lambda i: app.command(f"execution {ids[i % 4]}", urls[i]), range(REQUESTS)))
            # Every slash command was acknowledged while Qualys had answered nothing.
            assert [a.status_code for a in acks] == [200] * REQUESTS
            assert all("Looking up" in a.json()["text"] for a in acks)
            assert slack.responses() == [] and not qualys.gate.is_set()
            qualys.gate.set()
            for url in urls:
                [answer] = slack.wait_for_responses(url, timeout=30)
                assert_valid_message(answer.data)
                assert answer.data["blocks"][0]["text"]["text"].startswith("✅")
            assert sum(len(qualys.execution_calls(i)) for i in ids) == len(ids)
