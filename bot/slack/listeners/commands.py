"""`/qflow`: help, usage and bad ids are answered in the ack itself; lookups after it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from ...command import (
    BadId,
    Help,
    Lookup,
    Subscribe,
    Subscriptions,
    Unsubscribe,
    Unwatch,
    Usage,
    Watch,
    Watches,
    parse_command,
)
from ...policy import Asker
from ...render import CardState, render_help, render_invalid_id, render_usage
from ...render.messages import looking_up, render_no_response_url
from ..answers import Answers
from ..payload import slack_id, text, web_url


def qflow_command_callback(ack: Ack, command: dict[str, Any], answers: Answers) -> None:
    name = text(command, "command", limit=40) or "/qflow"
    user, channel = slack_id(command, "user_id"), slack_id(command, "channel_id")
    request = parse_command(command.get("text") if isinstance(command.get("text"), str) else "")
    response_url = web_url(command, "response_url")
    if isinstance(request, Lookup) and response_url:
        state = CardState(request.execution_id, request.view, private=True)
        ack(response_type="ephemeral", **looking_up(state).payload())
        asker = Asker(user, channel, "command", public=False, user_team=slack_id(command, "team_id"),
                      user_enterprise=slack_id(command, "enterprise_id"))
        answers.answer_command(state, response_url, asker)
        return
    if isinstance(request, Watch | Unwatch | Watches) and response_url:
        verb = "watch" if isinstance(request, Watch) else "unwatch" if isinstance(request, Unwatch) else "watches"
        execution_id = None if isinstance(request, Watches) else request.execution_id
        ack(response_type="ephemeral", text="👀 One moment…")
        asker = Asker(user, channel, "command", public=verb == "watch", user_team=slack_id(command, "team_id"),
                      user_enterprise=slack_id(command, "enterprise_id"))
        answers.answer_watch(verb, execution_id, response_url, asker)
        return
    if isinstance(request, Subscribe | Unsubscribe | Subscriptions) and response_url:
        ack(response_type="ephemeral", text="🔔 One moment…")
        verb = "subscribe" if isinstance(request, Subscribe) else "unsubscribe" \
            if isinstance(request, Unsubscribe) else "subscriptions"
        asker = Asker(user, channel, "command", public=verb == "subscribe", user_team=slack_id(command, "team_id"),
                      user_enterprise=slack_id(command, "enterprise_id"))
        answers.answer_subscription(verb, None if isinstance(request, Subscriptions) else request.workflow,
                                    request.mode if isinstance(request, Subscribe) else "failures", response_url, asker)
        return
    if isinstance(request, Help):
        message, outcome = render_help(name), "help"
    elif isinstance(request, Usage):
        message, outcome = render_usage(request.given, name), "usage"
    elif not isinstance(request, BadId):  # a request with no response_url: only a forged one lacks it
        message, outcome = render_no_response_url(), "error"
    else:
        assert isinstance(request, BadId)
        message, outcome = render_invalid_id(request.given), "invalid_id"
    ack(response_type="ephemeral", **message.payload())
    answers.record_command(user=user, channel=channel, outcome=outcome)


def register(app: App, command: str) -> None:
    app.command(command)(qflow_command_callback)
