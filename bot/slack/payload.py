"""Reading Slack payloads whose every field may have any shape: a forged request must get an
answer (or a quiet refusal), never an exception, whatever it holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Longer than any id, ts or URL Slack sends; message text has its own, larger bound.
MAX_FIELD_CHARS = 3000


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
