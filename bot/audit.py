"""The audit log: one JSON line per request (and per execution when a request names several).

Fields: time, user, channel, entry point, execution id, outcome, upstream latency (ms),
cache hit. Nothing secret is ever written: no tokens, no API text, no message text.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from .qflow import QFlowError


def outcome_of(error: BaseException | None) -> str:
    """The audit outcome for a lookup that ended in `error` (None: a card was shown)."""
    if error is None:
        return "card"
    return error.outcome if isinstance(error, QFlowError) else "error"


class AuditLog:
    """Writes audit lines to a file (appending) or to standard output (`-`)."""

    def __init__(self, target: str = "-", *, counted: Callable[[str, str], None] | None = None) -> None:
        self._counted = counted  # told each line's entry point and outcome (the metrics)
        self._lock = threading.Lock()
        self._stream: IO[str] = sys.stdout if target == "-" else open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.target = target

    def record(self, *, entry: str, user: str | None, channel: str | None, outcome: str,
               execution_id: str | None = None, upstream_ms: float | None = None,
               cache_hit: bool | None = None) -> None:
        line: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "user": user, "channel": channel, "entry": entry, "execution_id": execution_id, "outcome": outcome,
            "upstream_ms": None if upstream_ms is None else round(upstream_ms, 1), "cache_hit": cache_hit,
        }
        if self._counted:
            self._counted(entry, outcome)
        text = json.dumps(line, separators=(",", ":"))
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._stream is not sys.stdout:
            self._stream.close()
