"""Checks applied to every payload the app sends to Slack."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import Block

from bot.render.message import limit_problems

# The only angle-bracket forms the app writes itself: date tokens and the sharer's mention.
_ALLOWED = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time(?:_secs)?\}\|[0-9: -]+UTC>|<@[UW][A-Z0-9]+>|<#[CGD][A-Z0-9]+>")


def strings(node: Any, *, mrkdwn_only: bool = False) -> list[str]:
    """Every text in blocks; with `mrkdwn_only`, leave out plain_text objects (Slack shows them literally)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, Mapping):
        if mrkdwn_only and node.get("type") == "plain_text":
            return []
        return [s for k, v in node.items() if k not in ("type", "action_id", "block_id", "url", "value")
                for s in strings(v, mrkdwn_only=mrkdwn_only)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item, mrkdwn_only=mrkdwn_only)]
    return []


def assert_valid_message(payload: Mapping[str, Any]) -> None:
    """slack_sdk's block validation, the limits it does not check, and no raw mrkdwn control text."""
    blocks = payload.get("blocks") or []
    assert isinstance(payload.get("text"), str) and payload["text"], "a plain-text fallback is required"
    for block in blocks:
        parsed = Block.parse(dict(block))
        assert parsed is not None, f"unknown block {block}"
        parsed.to_dict()  # raises SlackObjectFormationError on a broken block
    assert limit_problems(payload) == []
    for text in [payload["text"], *strings(blocks, mrkdwn_only=True)]:
        leftover = _ALLOWED.sub("", text)
        assert "<" not in leftover and ">" not in leftover, f"unescaped angle bracket in {text!r}"
    assert "link_names" not in payload


def buttons(payload: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons of a message by their text."""
    return {e["text"]["text"]: e for b in payload.get("blocks") or [] if b.get("type") == "actions"
            for e in b["elements"]}


def all_text(payload: Mapping[str, Any]) -> str:
    return "\n".join([payload.get("text", ""), *strings(payload.get("blocks") or [])])
