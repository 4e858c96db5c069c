"""What watching an execution looks like: the watched card's line and Stop watching button, the one
thread reply when the run ends, the channel's list of watches, and the refusals. Pure rendering."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..qflow.models import FAILURE_KINDS, Execution
from ..redact import DEFAULT as DEFAULT_REDACTOR
from ..redact import Redactor, redact_execution
from .blocks import UNWATCH, button, context, md
from .card import workflow_title
from .message import SlackMessage
from .state import CardState
from .status import status_label
from .text import code, date_token, format_duration, safe

_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
ACTIONS_BLOCK = "qflow_card_actions"
LISTED = 20  # rows of a channel's watches in one answer (a section holds 3,000 characters)


def _mention(user: str | None) -> str:
    """`<@U…>` for a real user id, else "someone": a mention can only ever name the watcher."""
    return f"<@{user}>" if user and _USER.match(user) else "someone"


def with_watch(message: SlackMessage, state: CardState, watcher: str | None, *, hours: float,
               stopped_by: str | None = None, ended: bool = False, expired: bool = False) -> SlackMessage:
    """The card as the channel sees it while watched: who watches, and a Stop watching button (gone
    once the run ends, the watch is stopped, or its time is up)."""
    blocks = [dict(block) for block in message.blocks]
    if ended or stopped_by or expired:
        line = (f"👀 Watch stopped by {_mention(stopped_by)}." if stopped_by
                else f"👀 Watched by {_mention(watcher)}: the run ended, see the reply in this thread." if ended
                else f"👀 Watched by {_mention(watcher)} for {hours:g} h, the most a watch lasts (QFLOW_WATCH_MAX_HOURS): "
                     "the run was still going. Refresh shows the latest, or watch it again.")
    else:
        line = (f"👀 Watched by {_mention(watcher)}: kept current for up to {hours:g} h, with a reply in this "
                "thread when the run ends.")
        for block in blocks:
            if block.get("block_id") == ACTIONS_BLOCK:
                block["elements"] = [*block.get("elements", []), button("Stop watching", UNWATCH, state)]
    blocks.append(context(md(line)))
    return SlackMessage(message.text, blocks)


def render_watch_ended(execution: Execution, watcher: str | None, redactor: Redactor = DEFAULT_REDACTOR) -> SlackMessage:
    """The one thread reply when a watched run ends: its final status, the first error, the watcher named."""
    execution = redact_execution(execution, redactor)
    status = safe(status_label(execution.status, execution.kind), 80)
    head = f"{_mention(watcher)} {status} · *{safe(workflow_title(execution), 120)}*"
    if execution.duration_seconds is not None:
        head += f" · ran {format_duration(execution.duration_seconds)}"
    lines = [head]
    failed = next((s for s in execution.steps or [] if s.kind in FAILURE_KINDS), None)
    error = execution.error_text or (failed.error_text if failed else None)
    if error:
        lines.append(f"*First error:* {safe(error, 500)}")
    elif execution.kind in FAILURE_KINDS:
        lines.append("*First error:* Qualys gave no error text for this run: Show errors on the card lists the failed steps.")
    text = "\n".join(lines)
    return SlackMessage.section(text)


def render_watch_vanished(execution_id: str, watcher: str | None) -> SlackMessage:
    """The thread reply when a watched run disappears from Qualys (deleted, or older than its 30 days)."""
    text = (f"{_mention(watcher)} Qualys no longer knows {code(execution_id, 40)} (deleted, or past the API's "
            "30 days), so the watch has ended without a final state.")
    return SlackMessage.section(text)


def render_watching(execution_id: str, hours: float) -> SlackMessage:
    text = (f"👀 Watching {code(execution_id, 40)} here: the card above stays current for up to {hours:g} h, "
            "and I'll reply in its thread when the run ends.")
    return SlackMessage.section(text)


def render_watches(watches: list[tuple[str, str | None, float]], *, poll_seconds: float) -> SlackMessage:
    """This channel's watches: (execution id, who, since when (epoch seconds))."""
    if not watches:
        text = "Nothing is watched in this channel. Start with `/qflow watch &lt;id or link&gt;`."
    else:
        rows = [f"• {code(eid, 40)} · by {_mention(user)} · since {date_token(datetime.fromtimestamp(since, UTC))}"
                for eid, user, since in watches[:LISTED]]
        more = f"\n…and {len(watches) - LISTED} more" if len(watches) > LISTED else ""
        text = (f"*Watched in this channel* ({len(watches)}), each checked every {poll_seconds:g} s:\n"
                + "\n".join(rows) + more)
    return SlackMessage.section(text)


def render_watch_refused(why: str, execution_id: str, **facts: object) -> SlackMessage:
    """Why no watch was started or stopped, and what to do."""
    eid = code(execution_id, 40)
    texts = {
        "finished": f"{eid} has already finished: there is nothing to watch. Its card is above.",
        "already": f"{eid} is already watched in this channel (by {_mention(str(facts.get('by') or ''))}).",
        "limit": f"The app already watches {facts.get('most')} runs, its limit (QFLOW_MAX_WATCHES): stop one with "
                 "`/qflow unwatch &lt;id&gt;` or wait for one to end.",
        "cannot_post": "I can't post in this channel, so I can't keep a card here. Add me with `/invite @QFlow`, "
                       "then watch again.",
        "none": f"Nothing watches {eid} in this channel (see `/qflow watches`).",
        "stopped": f"Stopped watching {eid}.",
    }
    text = ("👀 " if why == "stopped" else "⚠️ ") + texts[why]
    return SlackMessage.section(text)
