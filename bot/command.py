"""What `/qflow …` text asks for. Pure: no Slack and no network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .links import execution_id_in_token, is_url, unwrap_slack_links


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Usage:
    """Text the command does not understand."""

    given: str


@dataclass(frozen=True)
class BadId:
    """Something meant as an execution id that is not one."""

    given: str


@dataclass(frozen=True)
class Lookup:
    execution_id: str
    view: Literal["summary", "steps", "errors"] = "summary"


@dataclass(frozen=True)
class Watch:
    """Follow an execution in this channel until it ends, then reply in the card's thread."""

    execution_id: str


@dataclass(frozen=True)
class Unwatch:
    execution_id: str


@dataclass(frozen=True)
class Watches:
    """List this channel's watches."""


@dataclass(frozen=True)
class Subscribe:
    """Post a card for each new run of a workflow (an id, link or exact name) that ends failed, or each."""

    workflow: str
    mode: Literal["failures", "all"] = "failures"


@dataclass(frozen=True)
class Unsubscribe:
    workflow: str


@dataclass(frozen=True)
class Subscriptions:
    """List this channel's subscriptions."""


Command = Help | Usage | BadId | Lookup | Watch | Unwatch | Watches | Subscribe | Unsubscribe | Subscriptions

_VIEWS = {"steps": "steps", "step": "steps", "errors": "errors", "error": "errors"}
# Meant as an id (and so answered with what an id looks like): long, with digits, hex-ish or hyphenated.
_ID_LIKE = re.compile(r"^(?=.*\d)(?:[0-9a-fA-F{}]{8,}|[0-9A-Za-z{}]*-[0-9A-Za-z{}-]*)$")


# Far more than any command needs; longer text is not parsed at all (it would only cost time).
MAX_COMMAND_CHARS = 4000


def parse_command(text: str | None) -> Command:
    """`""`/`help` → Help; `execution <id> [steps]` or `<id> [steps]` → Lookup; `watch <id>`, `unwatch <id>`,
    `watches`; else BadId or Usage."""
    if text and len(text) > MAX_COMMAND_CHARS:
        return Usage(text[:60] + "…")
    words = unwrap_slack_links(text or "").split()
    if not words or (len(words) == 1 and words[0].lower() in ("help", "-h", "--help", "?")):
        return Help()
    verb = words[0].lower()
    if verb in ("watches", "watching") and len(words) == 1:
        return Watches()
    if verb == "subscriptions" and len(words) == 1:
        return Subscriptions()
    if verb in ("subscribe", "unsubscribe"):
        rest = words[1:]
        mode = rest.pop().lower() if verb == "subscribe" and len(rest) > 1 and rest[-1].lower() in ("failures", "all") \
            else "failures"
        if not rest:
            return Usage(" ".join(words))
        target = " ".join(rest)
        return Subscribe(target, mode) if verb == "subscribe" else Unsubscribe(target)  # type: ignore[arg-type]
    if verb in ("watch", "unwatch"):
        if len(words) != 2:
            return Usage(" ".join(words)) if len(words) > 2 else Usage("")
        watched = execution_id_in_token(words[1])
        if watched is None:
            return BadId(words[1])
        return Watch(watched) if verb == "watch" else Unwatch(watched)
    args = words[1:] if verb in ("execution", "exec", "executions") else words
    if not args:
        return Usage("")  # "execution" alone: the id is missing
    candidate, rest = args[0], args[1:]
    execution_id = execution_id_in_token(candidate)
    if execution_id is None:
        if is_url(candidate) or _ID_LIKE.match(candidate) or args is not words:
            return BadId(candidate)
        return Usage(" ".join(words))
    if not rest:
        return Lookup(execution_id)
    if len(rest) == 1 and rest[0].lower() in _VIEWS:
        return Lookup(execution_id, _VIEWS[rest[0].lower()])  # type: ignore[arg-type]
    return Usage(" ".join(words))
