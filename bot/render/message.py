"""A Slack message as the app sends it, and the limits every one must keep."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_BUTTON_VALUE = 2000
MAX_TEXT_FALLBACK = 3000
# Slack refuses messages whose blocks hold roughly 12-13k characters (msg_blocks_too_long).
MAX_BLOCK_CHARS = 10_000


@dataclass(frozen=True)
class SlackMessage:
    """`text` is the notification fallback (mrkdwn, escaped); `blocks` are plain dicts."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, text: str, blocks: Iterable[dict[str, Any]]) -> SlackMessage:
        """`blocks` made by bot/render/blocks.py's builders (which keep slack_sdk's checks)."""
        return cls(text=text[:MAX_TEXT_FALLBACK], blocks=list(blocks))

    @classmethod
    def section(cls, text: str) -> SlackMessage:
        """A message of one mrkdwn section (`text`, already escaped), its fallback the same text."""
        from .blocks import md, section

        return cls.of(text, [section(md(text))])

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}

    def blocks_json(self) -> str:
        """`blocks` as JSON (json.dumps'), encoded once: the people shown a card at the same moment share
        its message, and encoding it again for each was most of what sending it cost the app. (A message's
        blocks are never changed once it is made: a new message is made instead.)"""
        encoded = self.__dict__.get("_blocks_json")
        if encoded is None:
            encoded = json.dumps(self.blocks)
            object.__setattr__(self, "_blocks_json", encoded)  # frozen: only this cache is ever set
        return encoded


def block_text_chars(blocks: Iterable[Mapping[str, Any]]) -> int:
    """Characters of text in `blocks`, counted the way the size limit is felt: every string value."""
    total = 0

    def walk(node: Any) -> None:
        nonlocal total
        if isinstance(node, str):
            total += len(node)
        elif isinstance(node, Mapping):
            for key, value in node.items():
                if key not in ("type", "action_id", "block_id", "style"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for block in blocks:
        walk(block)
    return total


def limit_problems(message: SlackMessage | Mapping[str, Any]) -> list[str]:
    """Every Slack limit the message breaks that slack_sdk's models do not check (empty when fine)."""
    payload = message.payload() if isinstance(message, SlackMessage) else message
    blocks = payload.get("blocks") or []
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    if len(payload.get("text") or "") > MAX_TEXT_FALLBACK:
        problems.append("fallback text too long")
    for index, block in enumerate(blocks):
        text = block.get("text")
        if isinstance(text, Mapping) and len(text.get("text", "")) > MAX_SECTION_TEXT:
            problems.append(f"block {index}: text over {MAX_SECTION_TEXT}")
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            problems.append(f"block {index}: {len(fields)} fields > {MAX_FIELDS}")
        for f in fields:
            if len(f.get("text", "")) > MAX_FIELD_TEXT:
                problems.append(f"block {index}: field over {MAX_FIELD_TEXT}")
        for element in block.get("elements") or []:
            if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE:
                problems.append(f"block {index}: button value over {MAX_BUTTON_VALUE}")
    chars = block_text_chars(blocks)
    if chars > MAX_BLOCK_CHARS:
        problems.append(f"{chars} characters of block text > {MAX_BLOCK_CHARS}")
    return problems
