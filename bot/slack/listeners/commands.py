"""`/qflow`: help, usage and bad ids are answered in the ack itself; lookups after it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from ...command import BadId, Help, Lookup, Usage, parse_command
from ...render import CardState, render_help, render_invalid_id, render_usage
from ..cards import CardService, looking_up


def qflow_command_callback(ack: Ack, command: dict[str, Any], qflow: CardService) -> None:
    name = command.get("command") or "/qflow"
    request = parse_command(command.get("text"))
    if isinstance(request, Help):
        ack(response_type="ephemeral", **render_help(name).payload())
    elif isinstance(request, Usage):
        ack(response_type="ephemeral", **render_usage(request.given, name).payload())
    elif isinstance(request, BadId):
        ack(response_type="ephemeral", **render_invalid_id(request.given).payload())
    elif isinstance(request, Lookup):
        state = CardState(request.execution_id, request.view, private=True)
        ack(response_type="ephemeral", **looking_up(state).payload())
        qflow.answer_command(state, command["response_url"], command.get("channel_id"), command.get("user_id"))


def register(app: App, command: str) -> None:
    app.command(command)(qflow_command_callback)
