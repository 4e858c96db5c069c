"""The execution card: summary first, then steps or errors expanded in place."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from ..qflow.models import FAILURE_KINDS, Execution, StatusKind, Step
from ..redact import DEFAULT as DEFAULT_REDACTOR
from ..redact import Redactor, redact_execution, redact_step
from .blocks import HIDE, NEXT, OPEN, PREVIOUS, REFRESH, SHARE, SHOW_ERRORS, SHOW_STEPS, button, md
from .message import MAX_FIELDS, MAX_SECTION_TEXT, SlackMessage
from .state import CardState
from .text import code, date_token, format_duration, joined, label, plain, safe, short_id, utc_fallback

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
STEPS_PAGE_SIZE = 10
ERRORS_PAGE_SIZE = 5
FIELD_VALUE_CHARS = 300
MAX_PAIRS_SHOWN = FIELD_VALUE_CHARS // 4  # "a=b" plus a separator is the shortest item that shows
BAR_WIDTH = 8

def status_marker(kind: StatusKind) -> str:
    return STATUS_MARKERS[kind]


def status_label(status: str | None, kind: StatusKind) -> str:
    """`✅ Success`; an undocumented status is shown verbatim with a neutral marker."""
    return f"{status_marker(kind)} {one_line_status(status)}"


def one_line_status(status: str | None) -> str:
    return " ".join(status.split()) if status and status.strip() else "Unknown status"


def workflow_title(execution: Execution) -> str:
    if execution.workflow_name:
        return execution.workflow_name
    if execution.workflow:
        return f"workflow {short_id(execution.workflow)}"
    return "unknown workflow"


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


def render_execution_card(
    execution: Execution,
    state: CardState,
    *,
    fetched_at: datetime,
    open_url: str | None = None,
    note: str | None = None,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> SlackMessage:
    """The whole card for `state.view` (summary, steps or errors) of an execution; `state.compact`
    gives the unfurl form. `note` (plain words) says whether the card follows a running execution.
    Every piece of API text is passed through `redactor` first; of the steps, only those shown."""
    execution = redact_execution(execution, redactor)
    steps = _Steps(execution, redactor)
    kind = execution.kind
    blocks: list[Block]
    first_error = _first_error(execution, steps)
    if state.compact:
        head = (f"{status_marker(kind)} *{label(one_line_status(execution.status), 60)}* · "
                f"*{label(workflow_title(execution), 120)}*\n{_timing_line(execution, fetched_at, compact=True)}")
        blocks = [SectionBlock(text=md(head))]
        if first_error:
            blocks.append(ContextBlock(elements=[md(first_error)]))
    else:
        blocks = [
            HeaderBlock(text=PlainTextObject(text=plain(f"{status_label(execution.status, kind)} · "
                                                        f"{workflow_title(execution)}", 150), emoji=False)),
            ContextBlock(elements=[md(_timing_line(execution, fetched_at))]),
        ]
        fields = _fields(execution)
        if fields:
            blocks.append(SectionBlock(fields=[md(f) for f in fields[:MAX_FIELDS]]))
        if first_error:
            blocks.append(SectionBlock(text=md(first_error)))
    if state.view == "steps":
        blocks.extend(_steps_blocks(execution, steps, state))
    elif state.view == "errors":
        blocks.extend(_errors_blocks(execution, steps, state))
    blocks.append(ActionsBlock(block_id="qflow_card_actions",
                               elements=_card_buttons(execution, steps, state, open_url)))
    id_line = _id_line(execution, state, fetched_at)
    if note:
        id_line += f"\n{safe(note, 200)}"
    blocks.append(ContextBlock(elements=[md(id_line)]))
    return SlackMessage.of(_fallback_text(execution), blocks)


def _timing_line(execution: Execution, fetched_at: datetime, *, compact: bool = False) -> str:
    parts: list[str] = []
    started = execution.started
    parts.append(f"Started {date_token(started)}" if started else "Start time unknown")
    if execution.duration_seconds is not None:
        parts.append(f"ran {format_duration(execution.duration_seconds)}")
    elif started and not execution.is_finished and fetched_at >= started:
        parts.append(f"running for {format_duration((fetched_at - started).total_seconds())}")
    if compact:
        parts.append(_step_phrase(execution))
    else:
        parts.extend(safe(value, 40) for value in (execution.source, execution.execution_type) if value)
    return " · ".join(p for p in parts if p)


def _step_phrase(execution: Execution) -> str:
    """`12 steps, 2 failed` for the compact card."""
    if not execution.steps:
        return ""
    total = max(execution.steps_total or 0, len(execution.steps))
    failed = sum(1 for s in execution.steps if s.kind in FAILURE_KINDS)
    phrase = f"{total} step{'s' if total != 1 else ''}"
    return phrase + (f", {failed} failed" if failed else "")


def _fields(execution: Execution) -> list[str]:
    c = execution.categories
    rows: list[tuple[str, str]] = [
        ("Cloud", joined([*c.cloud_providers, *c.regions], FIELD_VALUE_CHARS)),
        ("Accounts", joined([short_id(a.lstrip("@"), 12) for a in c.accounts], FIELD_VALUE_CHARS)),
        ("Solutions", joined(c.solutions, FIELD_VALUE_CHARS)),
        ("Steps", step_counts(execution)),
        ("Ended", date_token(execution.ended) if execution.ended else
         ("still running" if not execution.is_finished else "—")),
        ("Variables", _pairs(execution.variables)),
        ("Tags", _pairs(execution.tags)),
        ("Services", joined(c.services, FIELD_VALUE_CHARS)),
        ("Apps", joined(c.apps, FIELD_VALUE_CHARS)),
        ("Resource groups", joined([*c.resource_groups, *c.projects], FIELD_VALUE_CHARS)),
        ("Parent", code(execution.parent_execution_id, 40) if execution.parent_execution_id else ""),
        ("Linked", " ".join(code(i, 40) for i in execution.linked_execution_ids[:3])
         + (f" +{len(execution.linked_execution_ids) - 3} more" if len(execution.linked_execution_ids) > 3 else "")),
    ]
    return [f"*{label}*\n{value}" for label, value in rows if value][:MAX_FIELDS]


def _pairs(items: list[str]) -> str:
    """`key=value` items (already redacted), as many as the field can show."""
    shown = items[:MAX_PAIRS_SHOWN]
    return joined(shown, FIELD_VALUE_CHARS, unseen=len(items) - len(shown))


def _step_label(step: Step, limit: int = 60) -> str:
    if step.name:
        return f"*{label(step.name, limit)}*"
    if step.node_type:
        text = f"*{label(step.node_type, 40)}*"
        if step.node_id and step.node_id != step.node_type:
            text += " " + code(step.node_id, 40)
        return text
    return code(step.node_id, limit) if step.node_id else "*step*"


def _step_order(step: Step, index: int) -> str:
    return str(step.event_order if step.event_order is not None else index + 1)


class _Steps:
    """The steps of one render, ordered once; API text of a step is masked when it is shown."""

    def __init__(self, execution: Execution, redactor: Redactor) -> None:
        self.ordered = execution.ordered_steps
        self.failed = [s for s in self.ordered if s.kind in FAILURE_KINDS or s.error_text]
        self._redactor = redactor

    def shown(self, step: Step) -> Step:
        return redact_step(step, self._redactor)


def _first_error(execution: Execution, steps: _Steps) -> str | None:
    if execution.error_text:
        return f"*First error:* {safe(execution.error_text, 500)}"
    for step in map(steps.shown, steps.failed[:1]):
        text = step.error_text or f"step ended {one_line_status(step.status)}"
        return f"*First error:* {_step_label(step, 50)} — {safe(text, 450)}"
    if execution.kind in FAILURE_KINDS:
        return "*First error:* Qualys gave no error text for this run. Show errors lists the failed steps."
    return None


def _bar(seconds: float | None, longest: float) -> str:
    if seconds is None or longest <= 0:
        return ""
    cells = round(BAR_WIDTH * seconds / longest)
    return "▇" * cells if cells else "▏"


def _pages(count: int, size: int) -> int:
    return max(1, -(-count // size))


def _pager(state: CardState, page: int, pages: int) -> list[Block]:
    if pages <= 1:
        return []
    buttons = []
    if page > 0:
        buttons.append(button("‹ Previous", PREVIOUS, state.with_view(state.view, page - 1)))
    if page < pages - 1:
        buttons.append(button("Next ›", NEXT, state.with_view(state.view, page + 1)))
    return [ActionsBlock(block_id="qflow_pager", elements=buttons)]


def _fit_lines(head: str, lines: list[str]) -> str:
    """`head` and as many whole lines as fit in a section's 3000 characters."""
    text = head
    for index, line in enumerate(lines):
        if len(text) + 1 + len(line) > MAX_SECTION_TEXT - 40:
            return text + f"\n…{len(lines) - index} more not shown"
        text += "\n" + line
    return text


def _steps_blocks(execution: Execution, all_steps: _Steps, state: CardState) -> list[Block]:
    steps = all_steps.ordered
    if execution.steps is None:
        return [DividerBlock(), SectionBlock(text=md("*Steps* are not available for this execution right now."))]
    if not steps:
        return [DividerBlock(), SectionBlock(text=md("*Steps:* this execution has no steps yet."))]
    pages = _pages(len(steps), STEPS_PAGE_SIZE)
    page = min(state.page, pages - 1)
    longest = max((s.duration_seconds or 0 for s in steps), default=0)
    lines = []
    for index in range(page * STEPS_PAGE_SIZE, min(len(steps), (page + 1) * STEPS_PAGE_SIZE)):
        step = all_steps.shown(steps[index])
        seconds = None if step.kind is StatusKind.SKIPPED else step.duration_seconds
        line = (f"`{_step_order(step, index):>2}` {status_marker(step.kind)} {_step_label(step)}"
                f"  {format_duration(seconds)} {_bar(seconds, longest)}".rstrip())
        if step.kind is StatusKind.UNKNOWN and step.status:
            line += f" ({label(step.status, 30)})"
        if step.error_text or step.note_text:
            line += f"\n        ↳ {safe(step.error_text or step.note_text or '', 160)}"
        lines.append(line)
    head = f"*Steps* · {step_counts(execution)} · page {page + 1} of {pages}"
    return [DividerBlock(), SectionBlock(text=md(_fit_lines(head, lines))), *_pager(state, page, pages)]


def _errors_blocks(execution: Execution, steps: _Steps, state: CardState) -> list[Block]:
    failed = steps.failed
    pages = _pages(len(failed), ERRORS_PAGE_SIZE)
    page = min(state.page, pages - 1)
    lines = []
    if execution.error_text and page == 0:
        lines.append(f"*Execution:* {safe(execution.error_text, 700)}")
    position = {id(step): index for index, step in enumerate(steps.ordered)}
    for original in failed[page * ERRORS_PAGE_SIZE:(page + 1) * ERRORS_PAGE_SIZE]:
        order, step = _step_order(original, position[id(original)]), steps.shown(original)
        text = safe(step.error_text, 420) if step.error_text else f"ended {label(one_line_status(step.status), 40)} with no error text"
        lines.append(f"`{order:>2}` {status_marker(step.kind)} {_step_label(step, 50)} — {text}")
    if not lines:
        lines.append("No step reported an error." if execution.steps is not None
                     else "Steps are not available, so step errors cannot be shown.")
    head = f"*Errors* · {len(failed)} step{'s' if len(failed) != 1 else ''} with errors"
    if pages > 1:
        head += f" · page {page + 1} of {pages}"
    return [DividerBlock(), SectionBlock(text=md(_fit_lines(head, lines))), *_pager(state, page, pages)]


def _card_buttons(execution: Execution, steps: _Steps, state: CardState, open_url: str | None) -> list[ButtonElement]:
    buttons: list[ButtonElement] = []
    if execution.steps:
        if state.view == "steps":
            buttons.append(button("Hide steps", HIDE, state.with_view("summary")))
        else:
            buttons.append(button("Show steps", SHOW_STEPS, state.with_view("steps")))
    if execution.kind in FAILURE_KINDS or execution.error_text or steps.failed:
        if state.view == "errors":
            buttons.append(button("Hide errors", HIDE, state.with_view("summary")))
        else:
            buttons.append(button("Show errors", SHOW_ERRORS, state.with_view("errors"), style="danger"))
    buttons.append(button("Refresh", REFRESH, state))
    if open_url:
        buttons.append(button("Open in Qualys ↗", OPEN, url=open_url))
    if state.private:
        buttons.append(button("Share in channel", SHARE, state, style="primary"))
    return buttons


def _id_line(execution: Execution, state: CardState, fetched_at: datetime) -> str:
    parts = [f"Execution {code(execution.execution_id or state.execution_id, 40)}"]
    if execution.workflow:
        parts.append(f"workflow {code(execution.workflow, 40)}")
    parts.append(f"as of {date_token(fetched_at, seconds=True)}")
    return " · ".join(parts)


def _fallback_text(execution: Execution) -> str:
    parts = [status_label(execution.status, execution.kind), workflow_title(execution)]
    if execution.started:
        parts.append(f"started {utc_fallback(execution.started)}")
    if execution.duration_seconds is not None:
        parts.append(f"ran {format_duration(execution.duration_seconds)}")
    if execution.execution_id:
        parts.append(f"execution {execution.execution_id}")
    return safe(" · ".join(parts), 600)
