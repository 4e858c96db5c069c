"""Events: pasted links unfurl; a mention answers in its thread; a DM answers in the DM."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App

from ..cards import CardService

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def link_shared_callback(event: dict[str, Any], qflow: CardService) -> None:
    qflow.answer_unfurl(event)


def app_mention_callback(event: dict[str, Any], qflow: CardService) -> None:
    text = _MENTION.sub(" ", event.get("text") or "")
    qflow.answer_message(text, event["channel"], event.get("thread_ts") or event.get("ts"), event.get("user"))


def direct_message_callback(event: dict[str, Any], qflow: CardService) -> None:
    # Edits, joins and bots' own messages are not questions.
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
        return
    qflow.answer_message(event.get("text") or "", event["channel"], event.get("thread_ts"), event.get("user"))


def register(app: App) -> None:
    app.event("link_shared")(link_shared_callback)
    app.event("app_mention")(app_mention_callback)
    app.event("message")(direct_message_callback)
