"""`/qflow` end to end: the real app process, signed requests, loopback Slack and Qualys."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.harness import app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import error_body
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import all_text, assert_valid_message, buttons

SAMPLE = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
FAILED = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def ask(app, slack, expectations, text, posts=1):
    """Send `/qflow text`; return (ack response, the answers posted to its response_url)."""
    url = expectations.expect(slack.new_response_url(), posts)
    ack = app.command(text, url)
    assert ack.status_code == 200, ack.text
    assert_valid_message(ack.json())
    answers = slack.wait_for_responses(url, posts)
    for answer in answers:
        if answer.data.get("blocks"):
            assert_valid_message(answer.data)
    return ack, answers


def test_execution_card_is_acked_at_once_then_answered_privately(app, slack, qualys, expectations):
    ack, [answer] = ask(app, slack, expectations, f"execution {SAMPLE}")
    assert "Looking up execution" in ack.json()["text"] and ack.json()["response_type"] == "ephemeral"
    card = answer.data
    assert card["response_type"] == "ephemeral" and card["replace_original"] is True
    assert card["blocks"][0]["text"]["text"] == "✅ Success · Remediate public S3 buckets"
    assert {"Refresh", "Open Qualys ↗", "Share in channel"} <= set(buttons(card))
    call = qualys.execution_calls(SAMPLE)[0]
    assert call.method == "POST" and call.query["includeSteps"] == ["true"]


@pytest.mark.parametrize("text", [
    f"{FAILED} steps",
    f"execution {FAILED} steps",
    f"execution <https://qualysguard.qualys.com/qflow/#/executions/{FAILED}|link> steps",
])
def test_steps_form_opens_expanded_with_node_names(app, slack, expectations, text):
    _, [answer] = ask(app, slack, expectations, text)
    text = all_text(answer.data)
    assert "*Steps* · 4 · 1 failed" in text and "*Only public buckets*" in text and "*List S3 buckets*" in text
    assert "Hide steps" in buttons(answer.data)


@pytest.mark.parametrize("text,expected", [
    ("", "shows a Qualys QFlow workflow execution"),
    ("help", "shows a Qualys QFlow workflow execution"),
    ("frobnicate now", "I didn't understand `frobnicate now`"),
    ("execution", "That needs an execution id"),
    ("execution 1234-not-a-uuid", "`1234-not-a-uuid` isn't an execution id"),
    ("<!channel> 0e71f117", "I didn't understand"),
])
def test_help_usage_and_malformed_ids_answer_in_the_ack_without_api_calls(app, slack, qualys, text, expected):
    before = len(qualys.requests)
    response = app.command(text, slack.new_response_url())
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral" and expected in all_text(body)
    assert_valid_message(body)
    assert len(qualys.requests) == before


def test_bad_signature_and_stale_timestamp_are_refused_without_any_call(app, slack, qualys):
    before_q, before_s = len(qualys.requests), len(slack.requests)
    url = slack.new_response_url()
    assert app.command(f"execution {SAMPLE}", url, secret="not-the-secret").status_code == 401
    assert app.command(f"execution {SAMPLE}", url, timestamp=int(time.time()) - 600).status_code == 401
    # A valid signature replayed onto a different body also fails.
    assert app.post_signed("text=x", "application/x-www-form-urlencoded",
                           headers={"X-Slack-Signature": "v0=" + "0" * 64}).status_code == 401
    assert len(qualys.requests) == before_q and len(slack.requests) == before_s


def test_buttons_expand_page_collapse_refresh_share_and_open(app, slack, qualys, expectations):
    execution_id = new_execution(qualys, "failed-with-steps.json")
    _, [card] = ask(app, slack, expectations, f"execution {execution_id}")
    b = buttons(card.data)
    assert {"Show steps", "Show errors", "Refresh", "Open Qualys ↗", "Share in channel"} == set(b)

    def click(button, posts=1, message=None):
        url = expectations.expect(slack.new_response_url(), posts)
        assert app.click(button, url, message=message).status_code == 200
        answers = slack.wait_for_responses(url, posts)
        for answer in answers:
            if answer.data.get("blocks"):
                assert_valid_message(answer.data)
        return answers

    [steps] = click(b["Show steps"])  # an ephemeral card: the click carries no `message`
    assert steps.data["replace_original"] is True and "*Steps* · 4 · 1 failed" in all_text(steps.data)
    [errors] = click(buttons(steps.data)["Show errors"])
    assert "*Errors* · 1 step with errors" in all_text(errors.data) and "*Steps* ·" not in all_text(errors.data)
    [hidden] = click(buttons(errors.data)["Hide errors"])
    assert "*Errors*" not in all_text(hidden.data) and "Show errors" in buttons(hidden.data)

    calls = len(qualys.execution_calls(execution_id))
    [refreshed] = click(b["Refresh"])
    assert len(qualys.execution_calls(execution_id)) == calls + 1  # Refresh asks Qualys again
    assert refreshed.data["blocks"][0]["text"]["text"].startswith("❌ Failed")

    # Shared: the app posts the card in the channel (so it can keep it current), then removes the private copy.
    posted = len(slack.api_calls("chat.postMessage"))
    [deleted] = click(b["Share in channel"])
    assert deleted.data == {"delete_original": True, "text": "Shared"}
    shared = slack.api_calls("chat.postMessage")[posted].data
    assert shared["channel"] == "C0CHAN" and "thread_ts" not in shared
    assert "Share in channel" not in buttons(shared) and "Shared by <@U0CLICKER>" in all_text(shared)
    # Where the app is not in the channel, the response_url shares it instead.
    slack.fail_next("chat.postMessage", Reply(200, json.dumps({"ok": False, "error": "not_in_channel"})))
    shared, deleted = click(b["Share in channel"], posts=2)
    assert shared.data["response_type"] == "in_channel" and shared.data["replace_original"] is False
    assert "Share in channel" not in buttons(shared.data) and "Shared by <@U0CLICKER>" in all_text(shared.data)
    assert deleted.data == {"delete_original": True, "text": "Shared"}

    before = len(slack.requests)
    assert app.click(b["Open Qualys ↗"], slack.new_response_url()).status_code == 200
    assert b["Open Qualys ↗"]["url"] == "https://qualysguard.qualys.com/"
    # A link button is acked and nothing is posted: check with a later request that does post.
    click(b["Refresh"])
    assert [r for r in slack.requests[before:] if r.meta.get("answered")].__len__() == 1


def test_long_step_lists_page(app, slack, qualys, expectations):
    steps = [{"eventOrder": i, "nodeId": f"node-{i}", "nodeType": "awsapi", "status": "Success",
              "createdAt": 1746007562041 + i, "updatedAt": 1746007562041 + i + 100} for i in range(1, 24)]
    execution_id = new_execution(qualys, steps=steps)
    _, [card] = ask(app, slack, expectations, f"execution {execution_id} steps")
    assert "page 1 of 3" in all_text(card.data)
    url = expectations.expect(slack.new_response_url())
    app.click(buttons(card.data)["Next ›"], url)
    [page2] = slack.wait_for_responses(url)
    assert "page 2 of 3" in all_text(page2.data) and "`11`" in all_text(page2.data)
    assert {"‹ Previous", "Next ›"} <= set(buttons(page2.data))


def test_forged_button_value_is_refused_without_an_api_call(app, slack, qualys, expectations):
    before = len(qualys.requests)
    url = expectations.expect(slack.new_response_url())
    forged = {"action_id": "qflow_steps", "value": '{"e": "../../admin"}', "text": {"type": "plain_text", "text": "x"}}
    assert app.click(forged, url).status_code == 200
    [answer] = slack.wait_for_responses(url)
    assert "isn't one I can read" in all_text(answer.data) and answer.data["replace_original"] is False
    assert len(qualys.requests) == before


def fault_case(qualys, *replies):
    execution_id = new_execution(qualys)
    qualys.fail_next(f"/qflowapi/v1/executions/{execution_id}", *replies)
    return execution_id


HTML = Reply(200, "<html><body>Service Unavailable</body></html>", content_type="text/html")


@pytest.mark.parametrize("replies,expected,retry_button", [
    ([Reply(401, error_body(401, "Unauthorized", "JWT expired"))], "refused this app's service token", False),
    ([Reply(403, error_body(403, "Forbidden", "Access denied"))], "LIST ALL", False),
    ([Reply(502, "bad gateway", content_type="text/html")] * 3, "HTTP 502", True),
    ([Reply(500, "{}")] * 3, "HTTP 500", True),
    ([1.4] * 3, "didn't answer in time", True),
    ([Reply(fault="reset")] * 3, "couldn't reach Qualys", True),
    ([HTML], "expected JSON, got text/html", True),
    ([Reply(200, '{"data": {"id": "0e71')], "isn't the expected JSON", True),
    ([Reply(200, '{"data": {"id": "0e71', fault="truncate")] * 3, "couldn't reach Qualys", True),
], ids=["401", "403", "502", "500", "timeout", "reset", "html", "bad-json", "truncated"])
def test_qualys_failures_end_in_one_clear_answer(app, slack, qualys, expectations, replies, expected, retry_button):
    execution_id = fault_case(qualys, *replies)
    _, [answer] = ask(app, slack, expectations, f"execution {execution_id}")
    assert expected in all_text(answer.data) and execution_id in all_text(answer.data)
    assert ("Try again" in buttons(answer.data)) is retry_button
    # The app keeps serving: the same execution now answers normally (Try again / a new lookup).
    _, [again] = ask(app, slack, expectations, f"execution {execution_id}")
    assert again.data["blocks"][0]["text"]["text"].startswith("✅ Success")


def test_a_long_429_is_waited_out_by_every_lookup_until_it_ends():
    with fakes() as (slack, qualys), run_app(app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())) as app:
        first = fault_case(qualys, Reply(429, error_body(429, "Too Many Requests", ""), {"Retry-After": "3600"}))
        url = slack.new_response_url()
        app.command(f"execution {first}", url)
        [answer] = slack.wait_for_responses(url)
        assert "API is busy" in all_text(answer.data) and "Try again" in buttons(answer.data)
        second = new_execution(qualys)  # another lookup within the wait: no call, the same clear answer
        url = slack.new_response_url()
        app.command(f"execution {second}", url)
        [answer] = slack.wait_for_responses(url)
        assert "API is busy" in all_text(answer.data) and qualys.execution_calls(second) == []
        assert app.stop() == 0


@pytest.mark.parametrize("replies", [
    [Reply(429, "{}", {"Retry-After": "0"})],
    [Reply(503, "{}"), Reply(504, "{}")],
    [Reply(fault="reset")],
], ids=["429-then-ok", "5xx-then-ok", "reset-then-ok"])
def test_transient_failures_are_retried_into_a_card(app, slack, qualys, expectations, replies):
    execution_id = fault_case(qualys, *replies)
    _, [answer] = ask(app, slack, expectations, f"execution {execution_id}")
    assert answer.data["blocks"][0]["text"]["text"].startswith("✅ Success")
    assert len(qualys.execution_calls(execution_id)) == len(replies) + 1


def test_unknown_execution_is_not_found(app, slack, expectations):
    missing = "11111111-2222-4333-8444-555555555555"
    _, [answer] = ask(app, slack, expectations, f"execution {missing}")
    assert "No execution" in all_text(answer.data) and "30 days" in all_text(answer.data)


def test_health(app):
    response = app.http.get(app.url + "/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "state": "sqlite", "degraded": False}
    assert app.http.get(app.url + "/nothing").status_code == 404


def test_no_secret_reaches_the_log(app, qualys):
    token = next(iter(qualys.valid_tokens))
    assert token not in app.log_text and "fake-signing-secret" not in app.log_text
    assert "xoxb-1111" not in app.log_text
    assert json.dumps  # log text is a plain string of every line the process printed


def test_a_replayed_request_is_refused(app, slack, qualys, expectations):
    url = expectations.expect(slack.new_response_url())
    body = f"command=%2Fqflow&text=execution+{SAMPLE}&user_id=U0ASKER&channel_id=C0CHAN&response_url={url}"
    first = app.post_signed(body, "application/x-www-form-urlencoded", timestamp=int(time.time()))
    assert first.status_code == 200
    slack.wait_for_responses(url)
    before = len(qualys.requests)
    again = app.http.post(app.url + "/slack/events", content=first.request.content, headers=first.request.headers)
    assert again.status_code == 401 and len(qualys.requests) == before


def test_event_subscription_url_verification(app):
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    response = app.post_signed(body, "application/json")
    assert response.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.text
