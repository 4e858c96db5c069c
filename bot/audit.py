"""The audit log: one JSON line per request (and per execution when a request names several).

Fields: time, user, channel, entry point, execution id, outcome, upstream latency (ms),
cache hit. Nothing secret is ever written: no tokens, no API text, no message text.
"""

from __future__ import annotations

import json
import os
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
    """Writes audit lines to a file (appending) or to standard output (`-`).

    Each line is one `write` to the file descriptor, with no lock of ours: an append of a short line is
    never split or interleaved by the system. A lock held across the write made a storm's answers queue
    behind a thread that held it while it waited for the interpreter (tens of ms each)."""

    def __init__(self, target: str = "-", *, counted: Callable[[str, str], None] | None = None) -> None:
        self._counted = counted  # told each line's entry point and outcome (the metrics)
        self._lock = threading.Lock()  # only for a standard output that has no descriptor (captured)
        self._stream: IO[str] | None = None
        self._fd: int | None = None
        if target == "-":
            self._stream = sys.stdout
            try:
                sys.stdout.flush()
                self._fd = sys.stdout.fileno()
            except (AttributeError, OSError, ValueError):
                self._fd = None
        else:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self._owned = target != "-"
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
        text = json.dumps(line, separators=(",", ":")) + "\n"
        if self._fd is None:
            if self._stream is None:  # closed: the app has stopped
                return
            with self._lock:
                self._stream.write(text)
                self._stream.flush()
            return
        data = text.encode()
        while data:  # a short line goes in one write; a partial one (a signal) is finished
            data = data[os.write(self._fd, data):]

    def close(self) -> None:
        if self._owned and self._fd is not None:
            os.close(self._fd)
            self._fd = None
