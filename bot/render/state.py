"""What a card shows, carried in each button's `value` (clicks in ephemeral messages
and unfurls come without the message, so the button must say everything)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Literal

from ..qflow import InvalidExecutionId, validate_execution_id

View = Literal["summary", "steps", "errors"]
_VIEW_CODES: dict[str, View] = {"s": "summary", "t": "steps", "e": "errors"}
_CODES = {v: k for k, v in _VIEW_CODES.items()}
MAX_PAGE = 10_000
MAX_NESTING = 8


@dataclass(frozen=True)
class CardState:
    execution_id: str
    view: View = "summary"
    page: int = 0
    private: bool = True
    compact: bool = False  # the unfurl form

    def to_value(self) -> str:
        """A compact JSON string for a button's `value` (well under Slack's 2000 characters)."""
        data = {"e": self.execution_id, "v": _CODES[self.view], "p": self.page, "x": int(self.private)}
        if self.compact:
            data["c"] = 1
        return json.dumps(data, separators=(",", ":"))

    def with_view(self, view: View, page: int = 0) -> CardState:
        return replace(self, view=view, page=page)


class BadButtonValue(ValueError):
    """A button value that is not one of ours (forged, truncated or from an old version)."""


def parse_state(value: object) -> CardState:
    """The CardState in a button value; anything malformed raises BadButtonValue."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise BadButtonValue("not a string, empty or oversized")
    if value.count("[") + value.count("{") > MAX_NESTING:  # ours are flat: refuse deep nesting unparsed
        raise BadButtonValue("nested too deeply")
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        raise BadButtonValue("not JSON") from None
    if not isinstance(data, dict):
        raise BadButtonValue("not an object")
    try:
        execution_id = validate_execution_id(data.get("e"))
    except InvalidExecutionId:
        raise BadButtonValue("no valid execution id") from None
    code = data.get("v")
    view: View = _VIEW_CODES.get(code, "summary") if isinstance(code, str) else "summary"
    page = data.get("p", 0)
    if not isinstance(page, int) or isinstance(page, bool):
        page = 0
    private, compact = data.get("x", 1), data.get("c", 0)
    return CardState(execution_id, view, min(max(page, 0), MAX_PAGE), private not in (0, False),
                     compact not in (0, False, None))
