"""The execution card: summary first, then steps or errors expanded in place."""

from __future__ import annotations

import re
from datetime import datetime

from ..qflow.models import FAILURE_KINDS, Execution
from ..redact import DEFAULT as DEFAULT_REDACTOR
from ..redact import Redactor, redact_execution
from .blocks import (
    HIDE,
    OPEN,
    REFRESH,
    SHARE,
    SHOW_ERRORS,
    SHOW_STEPS,
    Json,
    actions,
    button,
    context,
    header,
    md,
    section,
)
from .message import MAX_FIELDS, SlackMessage
from .pages import ShownSteps, errors_blocks, step_label, steps_blocks
from .state import CardState
from .status import one_line_status, status_label, status_marker, step_counts
from .text import code, date_token, format_duration, joined, label, plain, safe, short_id, utc_fallback

FIELD_VALUE_CHARS = 300
MAX_PAIRS_SHOWN = FIELD_VALUE_CHARS // 4
OPEN_RUN_LABEL, OPEN_QUALYS_LABEL = "Open in Qualys ↗", "Open Qualys ↗"
_OPAQUE = re.compile(r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{20,})$")  # "a=b" plus a separator is the shortest item that shows


def workflow_title(execution: Execution) -> str:
    if execution.workflow_name:
        return execution.workflow_name
    if execution.workflow:
        return f"workflow {short_id(execution.workflow)}"
    return "unknown workflow"


def render_execution_card(
    execution: Execution,
    state: CardState,
    *,
    fetched_at: datetime,
    open_url: str | None = None,
    open_is_run: bool = False,
    note: str | None = None,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> SlackMessage:
    """The whole card for `state.view` (summary, steps or errors) of an execution; `state.compact`
    gives the unfurl form. `open_url` is the Qualys link (`open_is_run`: it opens this run itself, and the
    button says so). `note` (plain words) says whether the card follows a running execution.
    Every piece of API text is passed through `redactor` first; of the steps, only those shown."""
    execution = redact_execution(execution, redactor)
    steps = ShownSteps(execution, redactor)
    kind = execution.kind
    blocks: list[Json]
    first_error = _first_error(execution, steps)
    if state.compact:
        head = (f"{status_marker(kind)} *{label(one_line_status(execution.status), 60)}* · "
                f"*{label(workflow_title(execution), 120)}*\n{_timing_line(execution, fetched_at, compact=True)}")
        blocks = [section(md(head))]
        if first_error:
            blocks.append(context(md(first_error)))
    else:
        blocks = [
            header(plain(f"{status_label(execution.status, kind)} · {workflow_title(execution)}", 150)),
            context(md(_timing_line(execution, fetched_at))),
        ]
        fields = _fields(execution, full=state.view != "summary")
        if fields:
            blocks.append(section(fields=[md(f) for f in fields[:MAX_FIELDS]]))
        if first_error:
            blocks.append(section(md(first_error)))
    if state.view == "steps":
        blocks.extend(steps_blocks(execution, steps, state))
    elif state.view == "errors":
        blocks.extend(errors_blocks(execution, steps, state))
    blocks.append(actions(_card_buttons(execution, steps, state, open_url, open_is_run), block_id="qflow_card_actions"))
    id_line = _id_line(execution, state, fetched_at)
    if note:
        id_line += f"\n{safe(note, 200)}"
    blocks.append(context(md(id_line)))
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


def is_opaque(value: str) -> bool:
    """An id that means nothing to a reader (a UUID, a long hex string): the summary leaves it out."""
    return bool(_OPAQUE.match(value.strip().lstrip("@")))


def _fields(execution: Execution, *, full: bool) -> list[str]:
    """The summary's fields; `full` (steps or errors shown) keeps opaque ids too, such as connector
    account ids and `created_by=<uuid>` tags, which would otherwise take a field to say nothing."""
    c = execution.categories
    accounts = c.accounts if full else [a for a in c.accounts if not is_opaque(a)]
    tags = execution.tags if full else [t for t in execution.tags if not is_opaque(t.partition("=")[2])]
    rows: list[tuple[str, str]] = [
        ("Cloud", joined([*c.cloud_providers, *c.regions], FIELD_VALUE_CHARS)),
        ("Accounts", joined([short_id(a.lstrip("@"), 12) for a in accounts], FIELD_VALUE_CHARS)),
        ("Solutions", joined(c.solutions, FIELD_VALUE_CHARS)),
        ("Steps", step_counts(execution)),
        ("Ended", date_token(execution.ended) if execution.ended else
         ("still running" if not execution.is_finished else "—")),
        ("Variables", _pairs(execution.variables)),
        ("Tags", _pairs(tags)),
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


def _first_error(execution: Execution, steps: ShownSteps) -> str | None:
    if execution.error_text:
        return f"*First error:* {safe(execution.error_text, 500)}"
    for step in map(steps.shown, steps.failed[:1]):
        text = step.error_text or f"step ended {one_line_status(step.status)}"
        return f"*First error:* {step_label(step, 50)} — {safe(text, 450)}"
    if execution.kind in FAILURE_KINDS:
        return "*First error:* Qualys gave no error text for this run. Show errors lists the failed steps."
    return None


def _card_buttons(execution: Execution, steps: ShownSteps, state: CardState, open_url: str | None,
                  open_is_run: bool) -> list[Json]:
    """The card's buttons. Only "Share in channel", the one that changes what others see, is styled
    (primary); nothing here destroys anything, so nothing is red."""
    buttons: list[Json] = []
    if execution.steps:
        if state.view == "steps":
            buttons.append(button("Hide steps", HIDE, state.with_view("summary")))
        else:
            buttons.append(button("Show steps", SHOW_STEPS, state.with_view("steps")))
    if execution.kind in FAILURE_KINDS or execution.error_text or steps.failed:
        if state.view == "errors":
            buttons.append(button("Hide errors", HIDE, state.with_view("summary")))
        else:
            buttons.append(button("Show errors", SHOW_ERRORS, state.with_view("errors")))
    buttons.append(button("Refresh", REFRESH, state))
    if open_url:
        # Only a link to the run itself may promise the run; the UI's front page is "Open Qualys".
        buttons.append(button(OPEN_RUN_LABEL if open_is_run else OPEN_QUALYS_LABEL, OPEN, url=open_url))
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
