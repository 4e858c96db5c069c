"""`GET /metrics` from the real app process, scraped before and after lookups."""

from __future__ import annotations

import json
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import RunningApp
from tests.fakes._server import Reply
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack
from tests.fakes.world import new_execution

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(app: RunningApp) -> tuple[Samples, str]:
    response = app.http.get(app.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, response.text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_lookup_moves_the_counters_and_no_label_names_anyone(app: RunningApp, slack: FakeSlack,
                                                               qualys: FakeQualys, expectations):
    execution = new_execution(qualys)
    before, _ = scrape(app)
    assert all(name.startswith("qflow_") for name, _ in before)

    url = expectations.expect(slack.new_response_url())
    assert app.command(f"execution {execution}", url).status_code == 200
    slack.wait_for_responses(url)
    after, _ = scrape(app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("qflow_lookups_total", entry="command", outcome="card") == 1
    assert delta("qflow_cache_lookups_total", result="miss") == 1
    assert delta("qflow_cache_lookups_total", result="hit") == 0
    assert delta("qflow_qualys_requests_total", endpoint="execution", outcome="ok") == 1
    assert delta("qflow_qualys_request_seconds_count", endpoint="execution") == 1
    assert delta("qflow_ack_seconds_count", mode="http") == 1  # the command (a scrape is not an ack)
    assert value(after, "qflow_qualys_ratelimit_limit") == qualys.rate_limit
    assert value(after, "qflow_qualys_ratelimit_remaining") == qualys.rate_limit - qualys.rate_used
    assert value(after, "qflow_process_resident_memory_bytes") > 0

    # The same execution again: answered from the cache, no Qualys call.
    url = expectations.expect(slack.new_response_url())
    app.command(f"execution {execution}", url)
    slack.wait_for_responses(url)
    again, text = scrape(app)
    assert value(again, "qflow_cache_lookups_total", result="hit") - value(after, "qflow_cache_lookups_total",
                                                                            result="hit") == 1
    assert value(again, "qflow_qualys_requests_total", endpoint="execution", outcome="ok") == \
        value(after, "qflow_qualys_requests_total", endpoint="execution", outcome="ok")
    for name in (execution, "U0ASKER", "C0CHAN", "T0FAKE"):
        assert name not in text


def test_failures_are_counted_by_outcome_endpoint_and_slack_method(app: RunningApp, slack: FakeSlack,
                                                                   qualys: FakeQualys, expectations):
    missing = "11111111-2222-4333-8444-555555555555"
    before, _ = scrape(app)
    url = expectations.expect(slack.new_response_url())
    app.command(f"execution {missing}", url)
    slack.wait_for_responses(url)

    # A mention whose card Slack refuses to post (the app was removed from the channel meanwhile).
    execution = new_execution(qualys)
    slack.fail_next("chat.postMessage", Reply(200, json.dumps({"ok": False, "error": "channel_not_found"})))
    event = {"type": "app_mention", "user": "U0ASKER", "channel": "C0METRICS", "ts": "1700000900.1",
             "text": f"<@U0BOT> {execution}"}
    assert app.event(event, "EvMETRICS1").status_code == 200
    slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("api") == "chat.postEphemeral"
                                 and r.data.get("channel") == "C0METRICS"] or None)
    after, text = scrape(app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("qflow_lookups_total", entry="command", outcome="not_found") == 1
    assert delta("qflow_qualys_requests_total", endpoint="execution", outcome="not_found") == 1
    assert delta("qflow_lookups_total", entry="mention", outcome="card") == 1
    assert delta("qflow_slack_api_errors_total", method="chat.postMessage", error="channel_not_found") == 1, text
    assert missing not in text and "C0METRICS" not in text


def test_a_running_execution_s_card_is_counted_as_followed(app: RunningApp, slack: FakeSlack, qualys: FakeQualys,
                                                          expectations):
    before, _ = scrape(app)
    running = new_execution(qualys, "running.json")
    url = expectations.expect(slack.new_response_url())
    app.command(f"execution {running}", url)
    slack.wait_for_responses(url)
    # The card is followed just after it is sent: wait (bounded) for the scrape to show it.
    deadline = time.monotonic() + 10
    while value(scrape(app)[0], "qflow_followed_cards") != value(before, "qflow_followed_cards") + 1:
        assert time.monotonic() < deadline, "the running card was never counted as followed"
        threading.Event().wait(0.02)
