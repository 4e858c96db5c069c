"""Every button on a card: the value says which execution, view and page; the container says
where the card is (a private answer, a message, or an unfurl, whose clicks carry no message)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from ...render import ACTION_PREFIX
from ..cards import CardService


def qflow_action_callback(ack: Ack, body: dict[str, Any], action: dict[str, Any], qflow: CardService) -> None:
    ack()
    qflow.answer_click(
        action.get("action_id") or "",
        action.get("value"),
        response_url=body.get("response_url"),
        container=body.get("container") or {},
        channel=(body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id"),
        user=(body.get("user") or {}).get("id"),
        user_team=(body.get("user") or {}).get("team_id"),
    )


def register(app: App) -> None:
    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(qflow_action_callback)
