"""Block Kit building blocks every message shares (text objects, buttons, the five block types the app
sends), and the action ids that listeners match (by prefix) and cards carry.

The builders make the plain dicts Slack's JSON is, keeping the limits slack_sdk's block models check
(they raise the same SlackObjectFormationError). Built through the models, each block's `to_dict()`
(every validator found again by name, then the object walked twice) took half of a card's render, and a
storm's first answers render every card of every run at once, just as Qualys answers: 34 renders,
38–55 ms of the interpreter while 50 people wait (measured). tests/unit/render/test_blocks.py holds the
builders to the models: on generated inputs both give the same dict, and refuse the same ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError

from .state import CardState

# action_ids: listeners match the prefix, the value says the rest.
ACTION_PREFIX = "qflow_"
SHOW_STEPS, SHOW_ERRORS, HIDE = "qflow_steps", "qflow_errors", "qflow_hide"
PREVIOUS, NEXT = "qflow_page_previous", "qflow_page_next"
REFRESH, OPEN, SHARE = "qflow_refresh", "qflow_open", "qflow_share"
UNWATCH = "qflow_unwatch"

Json = dict[str, Any]

# slack_sdk's limits (slack_sdk/models/blocks), checked the way its validators check them.
BUTTON_TEXT_CHARS, BUTTON_VALUE_CHARS, BUTTON_URL_CHARS = 75, 2000, 3000
ACTION_ID_CHARS = BLOCK_ID_CHARS = 255
SECTION_TEXT_CHARS, SECTION_FIELDS, FIELD_CHARS = 3000, 10, 2000
HEADER_TEXT_CHARS = 150
CONTEXT_ELEMENTS, ACTIONS_ELEMENTS = 10, 25
BUTTON_STYLES = ("primary", "danger")


def _refuse(problem: str) -> None:
    raise SlackObjectFormationError(problem)


def _with_block_id(block: Json, block_id: str | None) -> Json:
    if block_id is not None:
        if len(block_id) > BLOCK_ID_CHARS:
            _refuse(f"block_id attribute cannot exceed {BLOCK_ID_CHARS} characters")
        block["block_id"] = block_id
    return block


def md(text: str) -> Json:
    """mrkdwn shown as written (`verbatim`: Slack links nothing the text did not link itself)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain_text(text: str, *, emoji: bool) -> Json:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def button(caption: str, action_id: str, state: CardState | None = None, *, url: str | None = None,
           style: str | None = None) -> Json:
    if len(caption) > BUTTON_TEXT_CHARS:
        _refuse(f"text attribute cannot exceed {BUTTON_TEXT_CHARS} characters")
    if len(action_id) > ACTION_ID_CHARS:
        _refuse(f"action_id attribute cannot exceed {ACTION_ID_CHARS} characters")
    element: Json = {"type": "button", "text": plain_text(caption, emoji=True), "action_id": action_id}
    if state is not None:
        value = state.to_value()
        if len(value) > BUTTON_VALUE_CHARS:
            _refuse(f"value attribute cannot exceed {BUTTON_VALUE_CHARS} characters")
        element["value"] = value
    if url is not None:
        if len(url) > BUTTON_URL_CHARS:
            _refuse(f"url attribute cannot exceed {BUTTON_URL_CHARS} characters")
        element["url"] = url
    if style is not None:
        if style not in BUTTON_STYLES:
            _refuse(f"style must be one of {BUTTON_STYLES}")
        element["style"] = style
    return element


def section(text: Json | None = None, *, fields: Sequence[Json] = (), block_id: str | None = None) -> Json:
    """A section of `text`, or of up to ten `fields` (two columns)."""
    block: Json = {"type": "section"}
    if text is not None:
        if len(text["text"]) > SECTION_TEXT_CHARS:
            _refuse(f"text attribute cannot exceed {SECTION_TEXT_CHARS} characters")
        block["text"] = text
    if fields:
        if len(fields) > SECTION_FIELDS:
            _refuse(f"fields attribute cannot exceed {SECTION_FIELDS} items")
        if any(len(field["text"]) > FIELD_CHARS for field in fields):
            _refuse(f"fields attribute cannot exceed {FIELD_CHARS} characters per field")
        block["fields"] = list(fields)
    if text is None and not fields:
        _refuse("text or fields attribute must be specified")
    return _with_block_id(block, block_id)


def context(*elements: Json) -> Json:
    if not elements:
        _refuse("elements attribute must be specified")
    if len(elements) > CONTEXT_ELEMENTS:
        _refuse(f"elements attribute cannot exceed {CONTEXT_ELEMENTS} elements")
    return {"type": "context", "elements": list(elements)}


def header(text: str, *, emoji: bool = False) -> Json:
    if len(text) > HEADER_TEXT_CHARS:
        _refuse(f"text attribute cannot exceed {HEADER_TEXT_CHARS} characters")
    return {"type": "header", "text": plain_text(text, emoji=emoji)}


def actions(elements: Sequence[Json], *, block_id: str | None = None) -> Json:
    if not elements:
        _refuse("elements attribute must be specified")
    if len(elements) > ACTIONS_ELEMENTS:
        _refuse(f"elements attribute cannot exceed {ACTIONS_ELEMENTS} elements")
    return _with_block_id({"type": "actions", "elements": list(elements)}, block_id)


def divider() -> Json:
    return {"type": "divider"}
