"""Events: pasted links unfurl; a mention answers in its thread; a DM answers in the DM."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App

from ...policy import Asker
from ..cards import CardService

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def _shared(body: dict[str, Any]) -> bool | None:
    """The envelope says when a channel is shared with another organisation."""
    return True if body.get("is_ext_shared_channel") else None


def link_shared_callback(body: dict[str, Any], event: dict[str, Any], qflow: CardService) -> None:
    qflow.answer_unfurl(event, shared=_shared(body))


def app_mention_callback(body: dict[str, Any], event: dict[str, Any], qflow: CardService) -> None:
    text = _MENTION.sub(" ", event.get("text") or "")
    asker = Asker(event.get("user"), event.get("channel"), "mention", public=True,
                  user_team=event.get("user_team"), shared=_shared(body))
    qflow.answer_message(text, event.get("thread_ts") or event.get("ts"), asker)


def direct_message_callback(event: dict[str, Any], qflow: CardService) -> None:
    # Edits, joins and bots' own messages are not questions.
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
        return
    asker = Asker(event.get("user"), event.get("channel"), "dm", public=False, user_team=event.get("user_team"),
                  channel_kind="im")
    qflow.answer_message(event.get("text") or "", event.get("thread_ts"), asker)


def register(app: App) -> None:
    app.event("link_shared")(link_shared_callback)
    app.event("app_mention")(app_mention_callback)
    app.event("message")(direct_message_callback)
