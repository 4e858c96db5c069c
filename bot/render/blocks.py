"""Block Kit building blocks every message shares: verbatim mrkdwn, buttons, and the action ids
that listeners match (by prefix) and cards carry."""

from __future__ import annotations

from slack_sdk.models.blocks import ButtonElement, MarkdownTextObject, PlainTextObject

from .state import CardState

# action_ids: listeners match the prefix, the value says the rest.
ACTION_PREFIX = "qflow_"
SHOW_STEPS, SHOW_ERRORS, HIDE = "qflow_steps", "qflow_errors", "qflow_hide"
PREVIOUS, NEXT = "qflow_page_previous", "qflow_page_next"
REFRESH, OPEN, SHARE = "qflow_refresh", "qflow_open", "qflow_share"
UNWATCH = "qflow_unwatch"


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def button(caption: str, action_id: str, state: CardState | None = None, *, url: str | None = None,
           style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=caption, emoji=True),
        action_id=action_id,
        value=state.to_value() if state else None,
        url=url,
        style=style,
    )
