"""Every button on a card: the value says which execution, view and page."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from ...render import ACTION_PREFIX
from ..cards import CardService


def qflow_action_callback(ack: Ack, body: dict[str, Any], action: dict[str, Any], qflow: CardService) -> None:
    ack()
    response_url = body.get("response_url")
    if response_url:
        qflow.answer_click(
            action.get("action_id") or "", action.get("value"), response_url, (body.get("user") or {}).get("id")
        )


def register(app: App) -> None:
    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(qflow_action_callback)
