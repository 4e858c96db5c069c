"""Watches and subscriptions under faults: the list endpoint failing (5xx, 429), a watched run that
vanishes. Each failure is survived: the next poll posts what it should, once; the watch ends with one
reply; nothing crashes. The figures join the reliability table."""

from __future__ import annotations

import math
import time

from tests.e2e.harness import app_env, run_app, wait_until
from tests.e2e.harness import slash as _slash
from tests.fakes._server import Reply
from tests.fakes.qualys import error_body
from tests.fakes.world import WORKFLOW_ID, fakes, new_execution
from tests.reliability.figures import FIGURES
from tests.slack_checks import all_text


def slash(app, slack, text, channel, user="U0FAULT"):
    return _slash(app, slack, text, channel, user)


def test_list_failures_and_a_vanishing_run_are_survived():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_SUBSCRIPTION_POLL_SECONDS="1",
                      QFLOW_REFRESH_SECONDS="0.1")
        path = f"/qflowapi/v1/workflows/{WORKFLOW_ID}/executions"
        with run_app(env) as app:
            slash(app, slack, f"subscribe {WORKFLOW_ID}", "C0FAULTS")
            injected = [Reply(500, error_body(500, "x", "boom"))] * 3 + [Reply(502, "bad gateway", content_type="text/html")] \
                + [Reply(429, error_body(429, "Too Many Requests", "slow"), {"Retry-After": "1", "X-RateLimit-ToWait-Sec": "1"})]
            qualys.fail_next(path, *injected)
            started = math.ceil(time.time() * 1000)  # not floored to before the subscription
            failed = new_execution(qualys, "failed-with-steps.json", status="Failed", startDate=started,
                                   endDate=started + 1000)
            wait_until(lambda: [r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0FAULTS"],
                       "the failed run was never posted after the list recovered", timeout=30)
            lists_after = len(qualys.calls(path))

            watched = new_execution(qualys, "running.json")
            assert "Watching" in all_text(slash(app, slack, f"watch {watched}", "C0FAULTW"))
            del qualys.executions[watched]  # deleted in Qualys, or past its 30 days
            wait_until(lambda: [r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0FAULTW"
                                and r.data.get("thread_ts")], "the vanished run's watch never ended")
            wait_until(lambda: len(qualys.calls(path)) >= lists_after + 2, "polling stopped")
            assert app.stop() == 0
        posts = [r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0FAULTS"]
        assert len(posts) == 1 and failed in str(posts[0].data)
        replies = [r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0FAULTW"
                   and r.data.get("thread_ts")]
        assert len(replies) == 1 and "no longer knows" in all_text(replies[0].data)
        assert "Traceback" not in app.log_text
        FIGURES["notifications: list faults"] = (f"{len(injected)} injected (3 × 500, 502 HTML, 429): the failed run "
                                                 f"posted once after them; {len(qualys.calls(path))} list calls")
        FIGURES["notifications: vanished run"] = "its watch ended with 1 thread reply, no crash"
