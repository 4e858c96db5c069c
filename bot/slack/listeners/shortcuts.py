"""The message shortcut "Look up QFlow executions": every id or link in a message, privately."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from ...policy import Asker
from ..answers import Answers
from ..payload import items, mapping, slack_id, text, web_url
from .events import MAX_MESSAGE_CHARS

CALLBACK_ID = "qflow_lookup_message"


def message_text(message: Any) -> str:
    """The words of a message, including its attachments' links and texts (bounded)."""
    parts = [text(message, "text", limit=MAX_MESSAGE_CHARS) or ""]
    for attachment in items(message, "attachments", limit=20):
        parts.extend(text(attachment, k, limit=MAX_MESSAGE_CHARS) or "" for k in
                     ("from_url", "title_link", "original_url", "text", "fallback"))
    return "\n".join(parts)[:MAX_MESSAGE_CHARS]


def lookup_message_callback(ack: Ack, shortcut: dict[str, Any], answers: Answers) -> None:
    ack()
    response_url = web_url(shortcut, "response_url")
    if response_url:
        asker = Asker(slack_id(shortcut, "user", "id"), slack_id(shortcut, "channel", "id"), "shortcut", public=False,
                      user_team=slack_id(shortcut, "user", "team_id"))
        answers.answer_shortcut(message_text(mapping(shortcut, "message")), response_url, asker)


def register(app: App) -> None:
    app.message_shortcut(CALLBACK_ID)(lookup_message_callback)
