"""Where an execution or a step keeps its error text: the docs do not say, so one function looks
in every documented-looking place, in a fixed order (see find_error_text)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..invisible import strip_invisible

# Where error text may be, in order; `message` and `reason` hold one only on a failed object.
ERROR_KEYS = ("error", "errors", "errorMessage", "message", "reason", "failureReason")
GENERIC_KEYS = ("message", "reason")
NESTED_KEYS = ("details", "output", "result")


def find_error_text(obj: Any, *, failed: bool = True) -> str | None:
    """The error text of an execution or step, wherever the API put it.

    Looks for `error`, `errors`, `errorMessage`, `message`, `reason`,
    `failureReason` (in that order) at the top of the object, then inside
    `details`, `output` and `result`. A value may be a string, a list of
    strings, or an object with a `message`. `message` and `reason` count only
    when `failed` is true, since successful steps use them for ordinary notes.
    """
    if not isinstance(obj, Mapping):
        return None
    keys: tuple[str, ...] = ERROR_KEYS
    if not failed:
        keys = tuple(k for k in keys if k not in GENERIC_KEYS)
    containers = [obj, *(obj.get(k) for k in NESTED_KEYS)]
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for key in keys:
            text = _error_value_text(container.get(key))
            if text:
                return text
    return None


def _error_value_text(value: Any, depth: int = 0) -> str | None:
    if depth > 4 or value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return strip_invisible(value).strip() or None
    if isinstance(value, int | float):
        return None
    if isinstance(value, Mapping):
        for key in ("message", "errorMessage", "error", "reason", "detail", "description"):
            text = _error_value_text(value.get(key), depth + 1)
            if text:
                code = value.get("code") or value.get("errorCode")
                return f"{code}: {text}" if isinstance(code, str) and code and code not in text else text
        return None
    if isinstance(value, Iterable):
        texts = [t for t in (_error_value_text(v, depth + 1) for v in list(value)[:20]) if t]
        return "; ".join(texts) or None
    return None
