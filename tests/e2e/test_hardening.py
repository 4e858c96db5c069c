"""Hardening, tried against the real app process as an attacker would: fail closed when a fact is
unknown, forged payloads of any shape, junk and huge bodies at the HTTP front."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import fakes, new_execution
from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack

SLACK_DOWN = Reply(200, json.dumps({"ok": False, "error": "fatal_error"}))


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[RunningApp, FakeSlack, FakeQualys]]:
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())
        with run_app(env) as app:
            yield app, slack, qualys
            assert app.stop() == 0, app.log_text
        assert "Traceback" not in app.log_text, app.log_text


def test_when_slack_cannot_name_the_installing_workspace_nobody_from_elsewhere_gets_a_card(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys)
    slack.fail_next("auth.test", SLACK_DOWN)  # the moment the policy needs the installing workspace
    app.event({"type": "app_mention", "user": "U0GUEST", "user_team": "T0ELSE", "channel": "C0FAILCLOSED",
               "text": f"<@U0BOT> {execution_id}", "ts": "1700000500.1"}, "EvFAILCLOSED1")
    [told] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postEphemeral"
                                          and r.data.get("channel") == "C0FAILCLOSED"] or None)
    assert told["user"] == "U0GUEST" and "confirm with Slack which workspace installed me" in told["text"]
    assert [r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0FAILCLOSED"] == []
    assert qualys.execution_calls(execution_id) == []
    # Once Slack answers again, the rule is checked (not skipped, not stuck): the guest is still refused,
    # and a member of the workspace gets the card.
    url = slack.new_response_url()
    app.command(f"execution {execution_id}", url)
    [card] = slack.wait_for_responses(url)
    assert card.data["blocks"][0]["type"] == "header"


def test_a_slack_fault_while_checking_a_channel_refuses_instead_of_posting(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys)
    slack.fail_next("conversations.info", Reply(200, json.dumps({"ok": False, "error": "internal_error"})))
    app.event({"type": "app_mention", "user": "U0ASKER", "user_team": "T0FAKE", "channel": "C0FLAKY",
               "text": f"<@U0BOT> {execution_id}", "ts": "1700000501.1"}, "EvFAILCLOSED2")
    [told] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postEphemeral"
                                          and r.data.get("channel") == "C0FLAKY"] or None)
    assert "can't see whether this channel is shared" in told["text"]
    assert qualys.execution_calls(execution_id) == []
    # The fault is not remembered: the next mention there is checked again, and answered.
    app.event({"type": "app_mention", "user": "U0ASKER", "user_team": "T0FAKE", "channel": "C0FLAKY",
               "text": f"<@U0BOT> {execution_id}", "ts": "1700000502.1"}, "EvFAILCLOSED3")
    slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("api") == "chat.postMessage"
                                 and r.data.get("channel") == "C0FLAKY"] or None)
