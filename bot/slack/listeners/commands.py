"""`/qflow`: help, usage and bad ids are answered in the ack itself; lookups after it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from ...command import BadId, Help, Lookup, Usage, parse_command
from ...policy import Asker
from ...render import CardState, render_help, render_invalid_id, render_usage
from ..cards import CardService, looking_up


def qflow_command_callback(ack: Ack, command: dict[str, Any], qflow: CardService) -> None:
    name = command.get("command") or "/qflow"
    user, channel = command.get("user_id"), command.get("channel_id")
    request = parse_command(command.get("text"))
    if isinstance(request, Lookup):
        state = CardState(request.execution_id, request.view, private=True)
        ack(response_type="ephemeral", **looking_up(state).payload())
        asker = Asker(user, channel, "command", public=False, user_team=command.get("team_id"))
        qflow.answer_command(state, command["response_url"], asker)
        return
    if isinstance(request, Help):
        message, outcome = render_help(name), "help"
    elif isinstance(request, Usage):
        message, outcome = render_usage(request.given, name), "usage"
    else:
        assert isinstance(request, BadId)
        message, outcome = render_invalid_id(request.given), "invalid_id"
    ack(response_type="ephemeral", **message.payload())
    qflow.audit.record(entry="command", user=user, channel=channel, outcome=outcome)


def register(app: App, command: str) -> None:
    app.command(command)(qflow_command_callback)
