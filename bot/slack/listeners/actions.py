"""Every button on a card: the value says which execution, view and page; the container says
where the card is (a private answer, a message, or an unfurl, whose clicks carry no message)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from ...render import ACTION_PREFIX
from ..answers import Answers
from ..payload import mapping, slack_id, text, web_url


def qflow_action_callback(ack: Ack, body: dict[str, Any], action: dict[str, Any], answers: Answers) -> None:
    ack()
    container = mapping(body, "container")
    answers.answer_click(
        text(action, "action_id") or "",
        action.get("value") if isinstance(action, dict) else None,
        response_url=web_url(body, "response_url"),
        container=container,
        channel=slack_id(body, "channel", "id") or slack_id(container, "channel_id"),
        user=slack_id(body, "user", "id"),
        user_team=slack_id(body, "user", "team_id"),
    )


def register(app: App) -> None:
    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(qflow_action_callback)
