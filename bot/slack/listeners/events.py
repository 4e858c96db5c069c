"""Events: pasted links unfurl; a mention answers in its thread; a DM answers in the DM.
Nothing here reads the message text: finding ids in it runs on a worker, after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from ...policy import Asker
from ..answers import Answers
from ..payload import flag, mapping, slack_id, text

MAX_MESSAGE_CHARS = 40_000  # Slack truncates longer message text


def _shared(body: dict[str, Any]) -> bool | None:
    """The envelope says when a channel is shared with another organisation."""
    return True if flag(body, "is_ext_shared_channel") else None


def link_shared_callback(body: dict[str, Any], event: dict[str, Any], answers: Answers) -> None:
    answers.answer_unfurl(event if isinstance(event, dict) else {}, shared=_shared(body))


def app_mention_callback(body: dict[str, Any], event: dict[str, Any], answers: Answers) -> None:
    asker = Asker(slack_id(event, "user"), slack_id(event, "channel"), "mention", public=True,
                  user_team=slack_id(event, "user_team"), shared=_shared(body))
    words = text(event, "text", limit=MAX_MESSAGE_CHARS) or ""
    answers.answer_message(words, text(event, "thread_ts") or text(event, "ts"), asker, mention=True)


def direct_message_callback(event: dict[str, Any], answers: Answers) -> None:
    # Edits, joins and bots' own messages are not questions.
    event = dict(mapping({"e": event}, "e"))
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
        return
    asker = Asker(slack_id(event, "user"), slack_id(event, "channel"), "dm", public=False, user_team=slack_id(event, "user_team"),
                  channel_kind="im")
    answers.answer_message(text(event, "text", limit=MAX_MESSAGE_CHARS) or "", text(event, "thread_ts"), asker)


def app_home_opened_callback(event: dict[str, Any], answers: Answers) -> None:
    user = slack_id(event, "user")
    if user and text(event, "tab") == "home":
        answers.publish_home(user)


def register(app: App) -> None:
    # Bolt tries each listener's matcher in turn (each costs a build of its arguments): a storm's pasted
    # links first.
    app.event("link_shared")(link_shared_callback)
    app.event("app_home_opened")(app_home_opened_callback)
    app.event("app_mention")(app_mention_callback)
    app.event("message")(direct_message_callback)
