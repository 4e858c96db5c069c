"""A card whose workflow's names are not known yet (QFLOW_NAMES_WAIT_SECONDS' default, 0) goes out at once
and is sent again in place once they come: the real app process, with the workflow's definition held at the
fake Qualys until the first card has arrived."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import RunningApp, app_env, link_shared, run_app
from tests.fakes.qualys import FakeQualys, load_example
from tests.fakes.slack import FakeSlack
from tests.fakes.world import new_execution
from tests.slack_checks import all_text, assert_valid_message, buttons

NAME = "Remediate public S3 buckets"
NODE = "Only public buckets"


@pytest.fixture
def app(slack: FakeSlack, qualys: FakeQualys) -> Iterator[RunningApp]:
    env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_NAMES_WAIT_SECONDS=None)  # the default
    with run_app(env) as running:
        yield running
        qualys.names_gate.set()
        assert running.stop() == 0, running.log_text
    for request in slack.requests:  # every card sent, nameless or named, is one Slack accepts
        data = request.data if isinstance(request.data, dict) else {}
        if data.get("blocks"):
            assert_valid_message(data)
        for unfurl in (data.get("unfurls") or {}).values():  # an unfurl has blocks and no text fallback
            assert_valid_message({"text": "unfurl", **unfurl})


def run_of_a_new_workflow(qualys: FakeQualys, *, known: bool = True) -> tuple[str, str]:
    """A failed run of a workflow this app has not seen (its definition at Qualys unless not `known`)."""
    workflow = str(uuid.uuid4())
    if known:
        definition = copy.deepcopy(load_example("workflow-details.json"))
        definition["id"] = workflow
        qualys.workflows[workflow] = definition
    return new_execution(qualys, "failed-with-steps.json", workflow=workflow), workflow


def workflow_calls(qualys: FakeQualys, workflow: str) -> int:
    return sum(1 for r in qualys.requests if r.path == f"/qflowapi/v1/workflows/{workflow}")


def test_a_card_goes_out_before_its_workflows_names_and_is_named_in_place(app, slack, qualys):
    execution, workflow = run_of_a_new_workflow(qualys)
    qualys.names_gate.clear()
    url = slack.new_response_url()
    assert app.command(f"execution {execution} steps", url).status_code == 200
    [first] = slack.wait_for_responses(url, 1)
    assert_valid_message(first.data)
    assert NAME not in all_text(first.data) and NODE not in all_text(first.data)
    assert "*Steps* · 4 · 1 failed" in all_text(first.data) and "Hide steps" in buttons(first.data)
    qualys.names_gate.set()
    [_, second] = slack.wait_for_responses(url, 2)
    assert_valid_message(second.data)
    assert second.data["replace_original"] is True and second.data["blocks"][0]["text"]["text"] == f"❌ Failed · {NAME}"
    assert NODE in all_text(second.data) and "Hide steps" in buttons(second.data)
    assert workflow_calls(qualys, workflow) == 1 and len(qualys.execution_calls(execution)) == 1
    assert app.stop() == 0
    assert len(slack.responses(url)) == 2


def test_an_unfurl_is_named_in_place(app, slack, qualys):
    execution, _ = run_of_a_new_workflow(qualys)
    qualys.names_gate.clear()
    link = f"https://qualysguard.qualys.com/qflow/#/executions/{execution}"
    assert app.event(link_shared("C0CHAN", "1700000000.000300", link), f"Ev{uuid.uuid4().hex}").status_code == 200
    [first] = slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("api") == "chat.unfurl"] or None)
    assert NAME not in all_text(first.data["unfurls"][link])
    qualys.names_gate.set()
    unfurls = slack.wait_for(lambda reqs: u if len(u := [r for r in reqs if r.meta.get("api") == "chat.unfurl"]) == 2
                             else None)
    assert (unfurls[1].data["channel"], unfurls[1].data["ts"]) == ("C0CHAN", "1700000000.000300")
    assert NAME in all_text(unfurls[1].data["unfurls"][link])


def test_a_view_chosen_before_the_names_come_is_not_replaced_by_them(app, slack, qualys):
    execution, _ = run_of_a_new_workflow(qualys)
    qualys.names_gate.clear()
    asked, clicked = slack.new_response_url(), slack.new_response_url()
    app.command(f"execution {execution}", asked)
    [card] = slack.wait_for_responses(asked, 1)
    [show] = [button for text, button in buttons(card.data).items() if "steps" in text.lower()]
    app.click(show, clicked, user="U0ASKER")  # the asker's own private card: the same message
    [steps] = slack.wait_for_responses(clicked, 1)
    assert "Hide steps" in buttons(steps.data) and NAME not in all_text(steps.data)
    qualys.names_gate.set()
    [_, named] = slack.wait_for_responses(clicked, 2)
    assert NAME in all_text(named.data) and "Hide steps" in buttons(named.data)
    assert app.stop() == 0  # drained: every update that was going to be sent has been
    assert len(slack.responses(asked)) == 1  # its summary, named, would have replaced the steps chosen since


def test_a_card_whose_names_cannot_be_had_is_sent_once(app, slack, qualys):
    execution, workflow = run_of_a_new_workflow(qualys, known=False)  # Qualys refuses the definition (403)
    url = slack.new_response_url()
    app.command(f"execution {execution}", url)
    slack.wait_for_responses(url, 1)
    assert app.stop() == 0
    assert len(slack.responses(url)) == 1 and workflow_calls(qualys, workflow) == 1
