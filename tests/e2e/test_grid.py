"""Enterprise Grid, org-wide install: people of the organisation are members whichever workspace they are
in; another organisation is not, and Slack Connect channels still follow the shared-channel rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import all_text

ORG = "E0FAKEORG"


@pytest.fixture(scope="module")
def grid() -> Iterator[tuple[RunningApp, FakeSlack, FakeQualys]]:
    with fakes() as (slack, qualys):
        slack.enterprise_id, slack.org_wide = ORG, True
        slack.channels["C0CONNECT"] = {"is_ext_shared": True}
        slack.channels["C0ORGWIDE"] = {"is_shared": True, "is_org_shared": True}
        with run_app(app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())) as app:
            yield app, slack, qualys
            assert app.stop() == 0


def command(app: RunningApp, slack: FakeSlack, execution: str, **form: str) -> dict:
    url = slack.new_response_url()
    fields = {"command": "/qflow", "text": f"execution {execution}", "user_id": "U0GRID", "channel_id": "C0CHAN",
              "team_id": "T0FAKE", "response_url": url, **form}
    assert app.post_signed("&".join(f"{k}={v}" for k, v in fields.items()),
                           "application/x-www-form-urlencoded").status_code == 200
    [answer] = slack.wait_for_responses(url)
    return answer.data


@pytest.mark.parametrize("team", ["T0FAKE", "T0SALES", "T0EMEA"])
def test_a_command_from_any_workspace_of_the_organisation_gets_the_card(grid, team):
    app, slack, qualys = grid
    card = command(app, slack, new_execution(qualys), team_id=team, enterprise_id=ORG)
    assert card["blocks"][0]["type"] == "header"


def test_a_command_from_another_organisation_is_refused_and_calls_nothing(grid):
    app, slack, qualys = grid
    execution = new_execution(qualys)
    answer = command(app, slack, execution, team_id="T0ELSE", enterprise_id="E0OTHERORG")
    assert "blocks" not in answer or answer["blocks"][0]["type"] != "header"
    assert "installed the app" in all_text(answer) and qualys.execution_calls(execution) == []


def test_slack_connect_channels_still_follow_the_shared_channel_rule(grid):
    app, slack, qualys = grid
    execution = new_execution(qualys)
    answer = command(app, slack, execution, team_id="T0SALES", enterprise_id=ORG, channel_id="C0CONNECT")
    assert "QFLOW_ALLOW_SHARED_CHANNELS" in all_text(answer) and qualys.execution_calls(execution) == []


def test_a_mention_from_another_workspace_in_a_channel_of_the_organisation_is_answered(grid):
    app, slack, qualys = grid
    execution = new_execution(qualys)
    app.event({"type": "app_mention", "user": "U0SALES", "user_team": "T0SALES", "channel": "C0ORGWIDE",
               "text": f"<@U0BOT> {execution}", "ts": "1700000800.1"}, "EvGRID1")
    [card] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postMessage"
                                          and r.data.get("channel") == "C0ORGWIDE"] or None)
    assert card["blocks"][0]["type"] == "header"


def test_a_click_from_another_workspace_of_the_organisation_is_answered(grid):
    app, slack, qualys = grid
    card = command(app, slack, new_execution(qualys), team_id="T0SALES", enterprise_id=ORG)
    refresh = next(e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["text"]["text"] == "Refresh")
    url = slack.new_response_url()
    assert app.click(refresh, url, user="U0EMEA", team="T0EMEA").status_code == 200  # the channel vouches
    [answer] = slack.wait_for_responses(url)
    assert answer.data["blocks"][0]["type"] == "header"
    refused = slack.new_response_url()
    container = {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0CONNECT", "is_ephemeral": True}
    app.click(refresh, refused, user="U0EMEA", team="T0EMEA", container=container)  # nothing vouches in Slack Connect
    [answer] = slack.wait_for_responses(refused)
    assert "blocks" not in answer.data or answer.data["blocks"][0]["type"] != "header"
