"""The message shortcut "Look up QFlow executions": every id or link in a message, privately."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from ...policy import Asker
from ..cards import CardService

CALLBACK_ID = "qflow_lookup_message"


def message_text(message: dict[str, Any]) -> str:
    """The words of a message, including its attachments' links and texts."""
    parts = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            parts.extend(str(attachment.get(k) or "") for k in ("from_url", "title_link", "original_url", "text",
                                                                 "fallback"))
    return "\n".join(parts)


def lookup_message_callback(ack: Ack, shortcut: dict[str, Any], qflow: CardService) -> None:
    ack()
    response_url = shortcut.get("response_url")
    if response_url:
        user = shortcut.get("user") or {}
        asker = Asker(user.get("id"), (shortcut.get("channel") or {}).get("id"), "shortcut", public=False,
                      user_team=user.get("team_id"))
        qflow.answer_shortcut(message_text(shortcut.get("message") or {}), response_url, asker)


def register(app: App) -> None:
    app.message_shortcut(CALLBACK_ID)(lookup_message_callback)
