"""The status vocabulary of QFlow runs and steps: only `Success` is documented, so likely words are
mapped case-insensitively and anything else is UNKNOWN (shown verbatim, never hidden)."""

from __future__ import annotations

import functools
from enum import StrEnum


class StatusKind(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    RUNNING = "running"
    QUEUED = "queued"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    PARTIAL = "partial"
    UNKNOWN = "unknown"


_STATUS_WORDS: dict[str, StatusKind] = {
    **dict.fromkeys(["success", "succeeded", "successful", "completed", "complete"], StatusKind.SUCCESS),
    **dict.fromkeys(["failed", "failure", "fail", "error", "errored"], StatusKind.FAILED),
    **dict.fromkeys(["running", "inprogress", "started", "executing", "processing"], StatusKind.RUNNING),
    **dict.fromkeys(["queued", "pending", "waiting", "scheduled", "created", "new"], StatusKind.QUEUED),
    **dict.fromkeys(["cancelled", "canceled", "aborted", "stopped", "terminated"], StatusKind.CANCELLED),
    **dict.fromkeys(["timeout", "timedout"], StatusKind.TIMEOUT),
    **dict.fromkeys(["skipped"], StatusKind.SKIPPED),
    **dict.fromkeys(["partial", "partialsuccess", "partiallysucceeded"], StatusKind.PARTIAL),
}

FINISHED_KINDS = frozenset(
    {StatusKind.SUCCESS, StatusKind.FAILED, StatusKind.CANCELLED, StatusKind.TIMEOUT, StatusKind.SKIPPED,
     StatusKind.PARTIAL}
)
FAILURE_KINDS = frozenset({StatusKind.FAILED, StatusKind.TIMEOUT, StatusKind.PARTIAL})


@functools.lru_cache(maxsize=256)  # a few distinct statuses, asked about for every step of every render
def status_kind(status: str | None) -> StatusKind:
    """Classify a status string case-insensitively; anything unrecognised is UNKNOWN."""
    if not status:
        return StatusKind.UNKNOWN
    word = "".join(ch for ch in status.lower() if ch.isalnum())
    return _STATUS_WORDS.get(word, StatusKind.UNKNOWN)
