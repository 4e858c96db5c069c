"""A card as plain text, for a terminal (`preview --text`) and for the README's sample: what a reader
sees, without Block Kit's JSON. Pure: a message payload in, lines out."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)>")
_MENTION = re.compile(r"<([@#!])([^|>]*)(?:\|[^>]*)?>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def mrkdwn_as_text(text: str) -> str:
    """Slack's markup as a reader sees it: dates in their fallback, links as their words, no bold stars."""
    text = _DATE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _BARE_LINK.sub(r"\1", text)
    text = _MENTION.sub(lambda m: m.group(1) + m.group(2), text)
    return html.unescape(_BOLD.sub(r"\1", text))


def _text(obj: Any) -> str:
    return mrkdwn_as_text(str(obj.get("text", ""))) if isinstance(obj, Mapping) else ""


def message_as_text(payload: Mapping[str, Any]) -> str:
    """Each block on its own lines: header, context (joined by ·), sections, fields as `Label: value`,
    buttons as `[label]`, a rule for a divider."""
    lines: list[str] = []
    for block in payload.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            lines.append(_text(block.get("text")))
        elif kind == "context":
            lines.append(" · ".join(_text(e) for e in block.get("elements", [])))
        elif kind == "section":
            if block.get("text"):
                lines.append(_text(block["text"]))
            for field in block.get("fields") or []:
                label, _, value = _text(field).partition("\n")
                lines.append(f"{label}: {value}" if value else label)
        elif kind == "actions":
            lines.append(" ".join(f"[{_text(e.get('text'))}]" for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("─" * 40)
    return "\n".join(lines) if lines else str(payload.get("text", ""))
