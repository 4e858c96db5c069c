"""How a status looks on a card: its marker, its label, and the step counts."""

from __future__ import annotations

from ..qflow.models import FAILURE_KINDS, Execution, StatusKind

STATUS_MARKERS: dict[StatusKind, str] = {
    StatusKind.SUCCESS: "✅",
    StatusKind.FAILED: "❌",
    StatusKind.RUNNING: "⏳",
    StatusKind.QUEUED: "🕒",
    StatusKind.CANCELLED: "🚫",
    StatusKind.TIMEOUT: "⌛",
    StatusKind.SKIPPED: "⏭️",
    StatusKind.PARTIAL: "⚠️",
    StatusKind.UNKNOWN: "⚪",
}
def status_marker(kind: StatusKind) -> str:
    return STATUS_MARKERS[kind]


def status_label(status: str | None, kind: StatusKind) -> str:
    """`✅ Success`; an undocumented status is shown verbatim with a neutral marker."""
    return f"{status_marker(kind)} {one_line_status(status)}"


def one_line_status(status: str | None) -> str:
    return " ".join(status.split()) if status and status.strip() else "Unknown status"


def step_counts(execution: Execution) -> str:
    """`4 · 2 failed`, or why the steps are not known."""
    if execution.steps is None:
        return "unavailable"
    total = max(execution.steps_total or 0, len(execution.steps))
    failed = sum(1 for s in execution.steps if s.kind in FAILURE_KINDS)
    running = sum(1 for s in execution.steps if s.kind in (StatusKind.RUNNING, StatusKind.QUEUED))
    if total == 0:
        return "none yet" if not execution.is_finished else "none"
    parts = [str(total)]
    if failed:
        parts.append(f"{failed} failed")
    if running:
        parts.append(f"{running} running")
    return " · ".join(parts)
