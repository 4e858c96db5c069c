"""Bad input, generated: nothing escapes as an exception, every input gets an answer, and no
payload breaks Slack's limits or lets text mention, link or format its way out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.command import BadId, Help, Lookup, Usage, parse_command
from bot.config import load_settings
from bot.links import LinkMatcher
from bot.qflow.models import StatusKind, parse_execution
from bot.render import (
    BadButtonValue,
    CardState,
    parse_state,
    render_execution_card,
    render_help,
    render_invalid_id,
    render_usage,
)
from tests.fakes.services import DENY_ALL, Gate, RecordingClient, answers_for
from tests.slack_checks import assert_valid_message

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
# Text that tries every trick: Slack control syntax, entities, formatting, ids, links, huge runs.
nasty = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["<!channel>", "<!here|here>", "<@U123>", "<#C123|general>", "<https://evil.example|click>",
                     "&amp;", "&lt;", "*", "_", "~", "`", "```", ">", "\n", "\u202e", "\x00", EID, EID.upper(),
                     f"https://qualysguard.qualys.com/e/{EID}", "x" * 5000, "🔥" * 100]),
)
texts = st.lists(nasty, max_size=6).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["id", "execution", "workflow", "workflowName", "status", "executionType", "source", "createdAt",
          "updatedAt", "startDate", "endDate", "details", "linkedExecutionIds", "parentExecutionId", "tags",
          "variables", "categories", "steps", "error", "errors", "message"]
step = st.fixed_dictionaries({}, optional={k: json_values for k in ["eventOrder", "nodeId", "nodeType", "name",
                                                                    "status", "createdAt", "updatedAt", "error",
                                                                    "output", "message"]})
execution_payload = st.fixed_dictionaries({}, optional={
    **{k: json_values for k in FIELDS},
    "status": st.sampled_from(["Success", "Failed", "Running", "weird", None]) | texts,
    "steps": st.lists(step, max_size=30) | st.fixed_dictionaries({"total": json_values,
                                                                   "items": st.lists(step, max_size=30)}),
    "variables": st.lists(texts, max_size=20), "tags": st.lists(texts, max_size=20),
    "startDate": st.integers(min_value=-10**15, max_value=10**15) | texts,
})


@given(texts)
def test_any_command_text_gets_a_valid_answer(text):
    request = parse_command(text)
    if isinstance(request, Help):
        message = render_help()
    elif isinstance(request, Usage):
        message = render_usage(request.given)
    elif isinstance(request, BadId):
        message = render_invalid_id(request.given)
    else:
        assert isinstance(request, Lookup) and len(request.execution_id) == 36
        return
    assert_valid_message(message.payload())


@given(texts)
def test_link_recognition_never_fails_and_finds_only_uuids(text):
    for found in LinkMatcher(["corp.example"]).find(text):
        assert len(found.execution_id) == 36 and found.execution_id == found.execution_id.lower()


@given(st.one_of(texts, json_values.map(json.dumps)))
def test_button_values_parse_or_are_refused(value):
    try:
        state = parse_state(value)
    except BadButtonValue:
        return
    assert len(state.execution_id) == 36 and 0 <= state.page <= 10_000


@given(execution_payload, st.sampled_from(["summary", "steps", "errors"]), st.integers(0, 50), st.booleans())
def test_any_api_payload_renders_inside_slack_limits(payload, view, page, compact):
    try:
        execution = parse_execution({"data": payload})
    except ValueError:
        return
    message = render_execution_card(execution, CardState(EID, view, page, compact=compact), fetched_at=NOW,
                                    open_url="https://ui.example/", note="Following this run")
    assert_valid_message(message.payload())


@given(json_values)
def test_any_json_body_is_an_execution_or_a_clear_refusal(body):
    try:
        execution = parse_execution(body)
    except ValueError as error:
        assert str(error)  # the client turns this into InvalidResponse with its text
        return
    assert isinstance(body, dict)
    assert isinstance(execution.kind, StatusKind) and all(isinstance(v, str) for v in execution.variables)
    assert execution.steps is None or all(s.kind in StatusKind for s in execution.steps)


ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "QUALYS_PLATFORM": "US1", "QUALYS_TOKEN": "a.b.c"}


@given(st.sampled_from(["qflow_steps", "qflow_errors", "qflow_hide", "qflow_refresh", "qflow_share",
                        "qflow_page_next", "qflow_page_previous", "qflow_open", "qflow_other"]),
       st.one_of(texts, json_values.map(json.dumps),
                 st.builds(lambda e, v, p: json.dumps({"e": e, "v": v, "p": p}),
                           st.just(EID) | texts, st.sampled_from(["s", "t", "e", "x"]), json_values)),
       st.booleans(), st.booleans())
def test_a_forged_button_value_never_fetches_what_the_policy_forbids(action_id, value, ephemeral, in_unfurl):
    told: list[str] = []

    class RecordingResponseUrl:  # the click's response_url, as Answers would use it
        key = None
        updates_left = 5

        def __init__(self, url: str, **options: Any) -> None:
            pass

        def send(self, message: Any, **options: Any) -> bool:
            told.append(message.text)
            return True

    client = RecordingClient()
    # Its cards fail any lookup; its access check refuses everyone.
    answers = answers_for(load_settings(ENV), gate=Gate(DENY_ALL), client=client, response_url=RecordingResponseUrl)
    # Clicks in messages always carry a response_url; clicks inside unfurls may not.
    container = ({"type": "message_attachment", "is_app_unfurl": True, "channel_id": "C1", "message_ts": "1.2",
                  "app_unfurl_url": "https://qualysguard.qualys.com/e/" + EID} if in_unfurl
                 else {"type": "message", "is_ephemeral": ephemeral, "channel_id": "C1", "message_ts": "1.2"})
    answers.answer_click(action_id, value, response_url=None if in_unfurl else "https://hooks.example/r",
                         container=container, channel="C1", user="U0X")
    told.extend(e["text"] for e in client.ephemeral)
    assert len(told) == (0 if action_id == "qflow_open" else 1)  # a link button is only acknowledged
