"""Tolerant coercion of API values: every field may be null, missing or of an odd shape, and is
turned into what the models hold (or None) rather than rejected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

from ..invisible import strip_invisible

LATEST_EPOCH_SECONDS = 7_258_118_400  # 2200-01-01


def to_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds (or seconds, or ISO text) to an aware UTC datetime; junk to None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return to_datetime((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 1e11 else value  # 1e11 s is the year 5138
        if not 0 <= seconds <= LATEST_EPOCH_SECONDS:
            return None  # before 1970 or past 2200: junk, shown as unknown
        return datetime.fromtimestamp(seconds, UTC)
    return None


def flat_strings(value: Any) -> list[str]:
    """Any list-ish value to a flat list of non-empty strings (`projects` is a list of lists)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = strip_invisible(value)
        return [value] if value.strip() else []
    if isinstance(value, Mapping):
        if "key" in value:
            return [f"{value.get('key')}={value.get('value', '')}"]
        return [f"{k}={v}" for k, v in value.items()]
    if isinstance(value, Iterable):
        out: list[str] = []
        for item in value:
            out.extend(flat_strings(item))
        return out
    return [str(value)]


def to_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def to_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = strip_invisible(value)  # API text is cleaned once, where it enters
        return value if value.strip() else None
    if isinstance(value, int | float | bool):
        return str(value)
    return None


Timestamp = Annotated[datetime | None, BeforeValidator(to_datetime)]
StrList = Annotated[list[str], BeforeValidator(flat_strings)]
OptInt = Annotated[int | None, BeforeValidator(to_int)]
OptStr = Annotated[str | None, BeforeValidator(to_str)]
