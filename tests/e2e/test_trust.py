"""Who may see what, at every entry point, with every decision in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import all_text, assert_valid_message, buttons

CONTACT = "#secops-help"
_ids = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[RunningApp, FakeSlack, FakeQualys, Path]]:
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with fakes() as (slack, qualys):
        slack.channels["C0SHARED"] = {"is_ext_shared": True}
        slack.invisible.add("G0HIDDEN")
        slack.usergroups["S0ONCALL"] = ["U0ONCALL"]
        token = qualys.issue_token()
        env = app_env(slack, qualys, QUALYS_TOKEN=token, QFLOW_ALLOWED_USERS="U0ASKER,U0CLICKER",
                      QFLOW_ALLOWED_USERGROUPS="S0ONCALL", QFLOW_DENIED_CHANNELS="C0DENIED",
                      QFLOW_POLICY_CONTACT=CONTACT, QFLOW_AUDIT_LOG=str(audit))
        with run_app(env) as app:
            yield app, slack, qualys, audit
            assert app.stop() == 0
        text = audit.read_text()
        for secret in (token, BOT_TOKEN, SIGNING_SECRET):
            assert secret not in text


def command(app, slack, text, **form):
    url = slack.new_response_url()
    response = app.post_signed(
        "&".join(f"{k}={v}" for k, v in {"command": "/qflow", "text": text.replace(" ", "+"), "user_id": "U0ASKER",
                                         "channel_id": "C0CHAN", "team_id": "T0FAKE", "response_url": url,
                                         **form}.items()),
        "application/x-www-form-urlencoded")
    assert response.status_code == 200
    [answer] = slack.wait_for_responses(url)
    assert_valid_message(answer.data)
    return answer.data


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_allowed_users_and_group_members_get_cards(world):
    app, slack, qualys, audit = world
    execution_id = new_execution(qualys)
    assert command(app, slack, f"execution {execution_id}")["blocks"][0]["type"] == "header"
    assert command(app, slack, f"execution {execution_id}", user_id="U0ONCALL")["blocks"][0]["type"] == "header"
    lines = [a for a in audit_lines(audit) if a["execution_id"] == execution_id]
    assert [(a["user"], a["entry"], a["outcome"]) for a in lines] == [("U0ASKER", "command", "card"),
                                                                       ("U0ONCALL", "command", "card")]
    assert lines[0]["cache_hit"] is False and lines[0]["upstream_ms"] > 0 and lines[1]["cache_hit"] is True
    assert set(lines[0]) == {"time", "user", "channel", "entry", "execution_id", "outcome", "upstream_ms", "cache_hit"}


@pytest.mark.parametrize("form,why", [
    ({"user_id": "U0STRANGER"}, "only some people may look up executions"),
    ({"channel_id": "C0DENIED"}, "deny list"),
    ({"channel_id": "C0SHARED"}, "shared with other organisations"),
    ({"team_id": "T0OTHER"}, "workspace (or organisation) that installed the app"),
])
def test_denials_are_private_say_why_and_who_and_call_nothing(world, form, why):
    app, slack, qualys, audit = world
    execution_id = new_execution(qualys)
    answer = command(app, slack, f"execution {execution_id}", **form)
    text = all_text(answer)
    assert answer["response_type"] == "ephemeral" and why in text and CONTACT in text
    assert qualys.execution_calls(execution_id) == []
    assert [a["outcome"] for a in audit_lines(audit) if a["execution_id"] == execution_id] == ["denied"]


def test_where_sharing_is_unknown_nothing_is_shown_and_the_asker_learns_how_to_fix_it(world):
    app, slack, qualys, _ = world
    execution_id = new_execution(qualys)
    denied = command(app, slack, f"execution {execution_id}", channel_id="G0HIDDEN")
    text = all_text(denied)
    assert "can't see whether this channel is shared" in text and "/invite @QFlow" in text
    assert denied["response_type"] == "ephemeral" and qualys.execution_calls(execution_id) == []


def test_each_click_is_checked_for_the_clicking_user(world):
    app, slack, qualys, _ = world
    execution_id = new_execution(qualys, "failed-with-steps.json")
    card = command(app, slack, f"execution {execution_id}")
    calls = len(qualys.execution_calls(execution_id))
    url = slack.new_response_url()
    app.click(buttons(card)["Refresh"], url, user="U0STRANGER")
    [denied] = slack.wait_for_responses(url)
    assert "only some people" in all_text(denied.data) and len(qualys.execution_calls(execution_id)) == calls
    ok = slack.new_response_url()
    app.click(buttons(card)["Show steps"], ok, user="U0CLICKER")
    [steps] = slack.wait_for_responses(ok)
    assert "*Steps*" in all_text(steps.data)


def test_unfurls_in_slack_connect_channels_show_nothing_and_tell_the_poster(world):
    app, slack, qualys, audit = world
    execution_id = new_execution(qualys)
    url = f"https://qualysguard.qualys.com/e/{execution_id}"
    event = {"type": "link_shared", "channel": "C0SHARED", "user": "U0ASKER", "message_ts": "1700000020.1",
             "source": "conversations_history", "links": [{"domain": "qualysguard.qualys.com", "url": url}]}
    app.event(event, f"EvT{next(_ids)}")
    [told] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postEphemeral"
                                          and r.data.get("channel") == "C0SHARED"] or None)
    assert told["user"] == "U0ASKER" and "Slack Connect" in told["text"]
    assert [r for r in slack.api_calls("chat.unfurl") if r.data.get("channel") == "C0SHARED"] == []
    assert qualys.execution_calls(execution_id) == []
    assert [a["entry"] for a in audit_lines(audit) if a["execution_id"] == execution_id] == ["unfurl"]


def test_mentions_dms_and_the_shortcut_apply_the_policy_too(world):
    app, slack, qualys, _ = world
    execution_id = new_execution(qualys)
    app.event({"type": "app_mention", "user": "U0STRANGER", "text": f"<@U0BOT> {execution_id}", "ts": "1.5",
               "channel": "C0CHAN"}, f"EvT{next(_ids)}")
    [told] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postEphemeral"
                                          and r.data.get("user") == "U0STRANGER"] or None)
    assert "only some people" in told["text"]
    app.event({"type": "message", "channel_type": "im", "channel": "D0STRANGER", "user": "U0STRANGER",
               "text": execution_id, "ts": "1.6"}, f"EvT{next(_ids)}")
    [dm] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postMessage"
                                        and r.data.get("channel") == "D0STRANGER"] or None)
    assert "only some people" in dm["text"] and CONTACT in dm["text"]
    refused = slack.new_response_url()
    app.message_shortcut(f"see {execution_id}", refused, user="U0STRANGER")
    [denied] = slack.wait_for_responses(refused)
    assert "only some people" in all_text(denied.data) and denied.data["response_type"] == "ephemeral"
    assert qualys.execution_calls(execution_id) == []  # nobody above was allowed: nothing was fetched
    url = slack.new_response_url()
    app.message_shortcut(f"see {execution_id}", url)
    [card] = slack.wait_for_responses(url)
    assert card.data["blocks"][0]["type"] == "header"
