"""Reading Slack payloads whose every field may have any shape: a forged request must get an
answer (or a quiet refusal), never an exception, whatever it holds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import BoltRequest

# Longer than any ts or URL Slack sends; message text has its own, larger bound.
MAX_FIELD_CHARS = 3000
ID_CHARS = 64  # Slack's ids (U…, C…, T…, Ev…) are far shorter: a longer one is not Slack's
# A host a post can reach: a DNS name or an IPv4 address (ASCII letters, digits, dots, hyphens), or an
# IPv6 address (urlsplit gives it without its brackets).
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.?|[0-9a-f:.]*:[0-9a-f:.]*")


def mapping(value: Any, *path: str) -> Mapping[str, Any]:
    """The object at `path` inside `value`, or an empty one when any step is not an object."""
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def text(value: Any, *path: str, limit: int = MAX_FIELD_CHARS) -> str | None:
    """The string at `path`, or None when it is missing, not a string, empty or longer than `limit`."""
    *parents, last = path
    found = mapping(value, *parents).get(last)
    return found if isinstance(found, str) and 0 < len(found) <= limit else None


def slack_id(value: Any, *path: str) -> str | None:
    """A Slack id at `path` (user, channel, team…), or None when it is missing or not id-shaped."""
    found = text(value, *path, limit=ID_CHARS)
    return found if found and found.isascii() and found.replace("-", "").replace("_", "").isalnum() else None


def web_url(value: Any, *path: str) -> str | None:
    """An http(s) URL with a host a post can reach at `path` (a `response_url`), or None: nothing else is ever
    posted to, and a request without one is told so in its ack rather than left without an answer.
    Read with the parser that the post itself uses to choose where it connects (`urlsplit`, as urllib and
    bot/slack/keepalive.py do), so the check and the connection agree on the URL. Pure Python: it never
    hands the interpreter to another thread (with one busy thread beside it: 4 µs, where reading it with
    ada's C library, a call at a time, took 1.7 ms)."""
    found = text(value, *path)
    if not found:
        return None
    try:
        parts = urlsplit(found)
        host, _port = parts.hostname, parts.port  # each raises, as the post would, when malformed
    except ValueError:  # "http://[::1", "http://h:99999"
        return None
    return found if parts.scheme.lower() in ("http", "https") and host and _HOST.fullmatch(host) else None


def flag(value: Any, *path: str) -> bool:
    """True only when the field at `path` is exactly `true`."""
    *parents, last = path
    return mapping(value, *parents).get(last) is True


def items(value: Any, *path: str, limit: int = 50) -> list[Mapping[str, Any]]:
    """The objects in the list at `path` (other entries dropped), at most `limit`."""
    *parents, last = path
    found = mapping(value, *parents).get(last)
    if not isinstance(found, list):
        return []
    return [item for item in found[:limit] if isinstance(item, Mapping)]


# Fields Bolt reads before any listener runs: each must be absent, null, an id string or an object.
_OBJECT_OR_ID = ("user", "team", "channel", "enterprise", "container", "message", "view", "event")
_CALLBACK_TYPES = ("message_action", "shortcut", "view_submission", "view_closed")


def parsed_for_bolt(body: bytes, headers: Mapping[str, str | Sequence[str]], query: str = "") -> BoltRequest | None:
    """The request Bolt is handed (so the body is parsed once), or None for a body whose shape Slack never
    sends and Bolt would fail on (with a 500) while routing it: not UTF-8, unparseable, or fields of the
    wrong type where Bolt looks before our code can."""
    try:
        request = BoltRequest(body=body.decode("utf-8"), query=query, headers=dict(headers))
    except Exception:  # Bolt's own parsing and context extraction
        return None
    return request if _readable(request.body) else None


def _readable(payload: Any) -> bool:
    if not isinstance(payload, Mapping):
        return False
    if any(not (payload.get(k) is None or isinstance(payload.get(k), str | Mapping)) for k in _OBJECT_OR_ID):
        return False
    kind = payload.get("type")
    if kind == "block_actions":
        actions = payload.get("actions")
        return isinstance(actions, list) and bool(actions) and all(
            isinstance(a, Mapping) and isinstance(a.get("action_id"), str)
            and isinstance(a.get("block_id", ""), str) for a in actions)
    if kind in _CALLBACK_TYPES:
        return isinstance(payload.get("callback_id", ""), str)
    if kind == "event_callback":
        return isinstance(payload.get("event"), Mapping) and isinstance(mapping(payload, "event").get("type"), str)
    return True


_EVENT_ENTRIES = {"link_shared": "unfurl", "app_mention": "mention", "message": "dm"}
_PAYLOAD_ENTRIES = {"block_actions": "click", "message_action": "shortcut"}


def request_facts(body: Any) -> dict[str, str | None]:
    """Who and where a request comes from, for the log lines written while answering it: team, user,
    channel, entry point and event id, each only when it has the shape Slack gives it."""
    event = mapping(body, "event")
    kind = text(body, "type", limit=ID_CHARS)
    entry = ("command" if text(body, "command", limit=ID_CHARS) else
             _EVENT_ENTRIES.get(text(event, "type", limit=ID_CHARS) or "") if kind == "event_callback" else
             _PAYLOAD_ENTRIES.get(kind or ""))
    return {
        "team": slack_id(body, "team_id") or slack_id(body, "team", "id") or slack_id(body, "user", "team_id"),
        "user": slack_id(body, "user_id") or slack_id(body, "user", "id") or slack_id(event, "user"),
        "channel": slack_id(body, "channel_id") or slack_id(body, "channel", "id") or slack_id(event, "channel"),
        "entry": entry,
        "event_id": slack_id(body, "event_id"),
    }
