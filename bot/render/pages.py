"""The steps and errors pages of a card: one page of the steps (or of the failed ones) at a time,
each step's API text masked only when it is shown."""

from __future__ import annotations

from ..qflow.models import FAILURE_KINDS, Execution, StatusKind, Step
from ..redact import Redactor, redact_step
from .blocks import NEXT, PREVIOUS, Json, actions, button, divider, md, section
from .message import MAX_SECTION_TEXT
from .state import CardState
from .status import one_line_status, status_marker, step_counts
from .text import code, format_duration, label, safe

STEPS_PAGE_SIZE = 10
ERRORS_PAGE_SIZE = 5
BAR_WIDTH = 8


def step_label(step: Step, limit: int = 60) -> str:
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


class ShownSteps:
    """The steps of one render, ordered once; API text of a step is masked when it is shown."""

    def __init__(self, execution: Execution, redactor: Redactor) -> None:
        self.ordered = execution.ordered_steps
        self.failed = [s for s in self.ordered if s.kind in FAILURE_KINDS or s.error_text]
        self._redactor = redactor

    def shown(self, step: Step) -> Step:
        return redact_step(step, self._redactor)


def _bar(seconds: float | None, longest: float) -> str:
    if seconds is None or longest <= 0:
        return ""
    cells = round(BAR_WIDTH * seconds / longest)
    return "▇" * cells if cells else "▏"


def _pages(count: int, size: int) -> int:
    return max(1, -(-count // size))


def _pager(state: CardState, page: int, pages: int) -> list[Json]:
    if pages <= 1:
        return []
    buttons = []
    if page > 0:
        buttons.append(button("‹ Previous", PREVIOUS, state.with_view(state.view, page - 1)))
    if page < pages - 1:
        buttons.append(button("Next ›", NEXT, state.with_view(state.view, page + 1)))
    return [actions(buttons, block_id="qflow_pager")]


def _fit_lines(head: str, lines: list[str]) -> str:
    """`head` and as many whole lines as fit in a section's 3000 characters."""
    text = head
    for index, line in enumerate(lines):
        if len(text) + 1 + len(line) > MAX_SECTION_TEXT - 40:
            return text + f"\n…{len(lines) - index} more not shown"
        text += "\n" + line
    return text


def steps_blocks(execution: Execution, all_steps: ShownSteps, state: CardState) -> list[Json]:
    steps = all_steps.ordered
    if execution.steps is None:
        return [divider(), section(md("*Steps* are not available for this execution right now."))]
    if not steps:
        return [divider(), section(md("*Steps:* this execution has no steps yet."))]
    pages = _pages(len(steps), STEPS_PAGE_SIZE)
    page = min(state.page, pages - 1)
    longest = max((s.duration_seconds or 0 for s in steps), default=0)
    lines = []
    for index in range(page * STEPS_PAGE_SIZE, min(len(steps), (page + 1) * STEPS_PAGE_SIZE)):
        step = all_steps.shown(steps[index])
        seconds = None if step.kind is StatusKind.SKIPPED else step.duration_seconds
        line = (f"`{_step_order(step, index):>2}` {status_marker(step.kind)} {step_label(step)}"
                f"  {format_duration(seconds)} {_bar(seconds, longest)}".rstrip())
        if step.kind is StatusKind.UNKNOWN and step.status:
            line += f" ({label(step.status, 30)})"
        if step.error_text or step.note_text:
            line += f"\n        ↳ {safe(step.error_text or step.note_text or '', 160)}"
        lines.append(line)
    head = f"*Steps* · {step_counts(execution)} · page {page + 1} of {pages}"
    return [divider(), section(md(_fit_lines(head, lines))), *_pager(state, page, pages)]


def errors_blocks(execution: Execution, steps: ShownSteps, state: CardState) -> list[Json]:
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
        lines.append(f"`{order:>2}` {status_marker(step.kind)} {step_label(step, 50)} — {text}")
    if not lines:
        lines.append("No step reported an error." if execution.steps is not None
                     else "Steps are not available, so step errors cannot be shown.")
    head = f"*Errors* · {len(failed)} step{'s' if len(failed) != 1 else ''} with errors"
    if pages > 1:
        head += f" · page {page + 1} of {pages}"
    return [divider(), section(md(_fit_lines(head, lines))), *_pager(state, page, pages)]
