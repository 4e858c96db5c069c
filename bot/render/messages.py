"""Help, usage and error messages: short, specific, and saying what to do next."""

from __future__ import annotations

import math

from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, SectionBlock

from ..links import Found
from ..qflow import (
    AuthenticationFailed,
    ExecutionNotFound,
    Forbidden,
    InvalidResponse,
    QFlowConnectionError,
    QFlowError,
    QFlowStatusError,
    QFlowTimeout,
    RateLimited,
    ServerError,
    Unauthorized,
)
from ..redact import DEFAULT as DEFAULT_REDACTOR
from ..redact import Redactor
from .card import REFRESH, button, md
from .message import SlackMessage
from .state import CardState
from .text import code, safe

EXAMPLE_ID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


def render_help(command: str = "/qflow") -> SlackMessage:
    """What the slash command does, with examples."""
    c = safe(command, 30)
    text = (
        f"*{c}* shows a Qualys QFlow workflow execution right here.\n"
        f"• `{c} execution &lt;id&gt;`: the execution's summary card\n"
        f"• `{c} execution &lt;id&gt; steps`: the card with its steps expanded\n"
        f"• `{c} &lt;id&gt;`: the same as `execution &lt;id&gt;`\n"
        f"• `{c} help`: this message\n"
        f"The id is the execution's UUID, like `{EXAMPLE_ID}`, or its link from Qualys. "
        "Answers are private to you until you press *Share in channel*."
    )
    return SlackMessage.of(f"{c} help: {c} execution &lt;id&gt; [steps]", [SectionBlock(text=md(text))])


def render_usage(given: str, command: str = "/qflow") -> SlackMessage:
    """Anything the command does not understand: say so, then show the usage."""
    c = safe(command, 30)
    lead = f"I didn't understand {code(given, 60)}." if given.strip() else "That needs an execution id."
    return SlackMessage(f"{lead} Try {c} help", [SectionBlock(text=md(lead)).to_dict(), *render_help(command).blocks])


def render_invalid_id(given: str) -> SlackMessage:
    """A malformed execution id: what a valid one looks like."""
    text = (
        f"⚠️ {code(given, 60)} isn't an execution id. An execution id is a UUID like `{EXAMPLE_ID}` "
        "(8-4-4-4-12 hexadecimal digits); you can also paste the execution's link from Qualys."
    )
    return SlackMessage.of(text, [SectionBlock(text=md(text))])


def error_text(error: BaseException, execution_id: str, redactor: Redactor = DEFAULT_REDACTOR) -> str:
    """What went wrong, in words a user (or their admin) can act on. Whatever Qualys said in it
    (a content type, a message) is masked like any API text."""
    eid = code(execution_id, 40)
    if isinstance(error, Unauthorized):
        return ("🔒 Qualys refused this app's service token, so I couldn't look up "
                f"{eid}. This isn't something you did: ask the app's admin to renew the QFlow service token "
                "(`QUALYS_TOKEN`, or the service account behind `QUALYS_USERNAME`) and run `qflow-bot doctor`.")
    if isinstance(error, AuthenticationFailed):
        return ("🔒 The app's Qualys service account could not log in "
                f"(HTTP {error.status_code}), so I couldn't look up {eid}. This isn't something you did: "
                "ask the app's admin to check `QUALYS_USERNAME` and `QUALYS_PASSWORD` and run `qflow-bot doctor`.")
    if isinstance(error, Forbidden):
        return (f"🚫 The app's Qualys service account isn't allowed to read {eid}. It needs one of the QFlow "
                "permissions *LIST ALL*, *LIST WF BY TAGS* or *LIST MY* (and, for LIST WF BY TAGS, the "
                "workflow's tags): ask your Qualys admin to grant one.")
    if isinstance(error, ExecutionNotFound):
        return (f"🔍 No execution {eid} was found. Check the id; note that the QFlow API only returns "
                "executions from the last 30 days, so an older run is not available here.")
    if isinstance(error, RateLimited):
        wait = f" in about {wait_words(error.retry_after)}" if error.retry_after else " in a minute"
        return (f"⏳ The Qualys API is busy (this subscription's rate limit is used up), so I couldn't look up "
                f"{eid} yet. Try again{wait}.")
    if isinstance(error, QFlowTimeout):
        return f"⌛ Qualys didn't answer in time while I looked up {eid}, even after retrying. Try again in a minute."
    if isinstance(error, QFlowConnectionError):
        return (f"🔌 I couldn't reach Qualys to look up {eid}, even after retrying. Try again in a minute; if it "
                "keeps happening, ask the app's admin to check `QUALYS_BASE_URL`/`QUALYS_PLATFORM`.")
    if isinstance(error, ServerError):
        return (f"⚠️ Qualys had a problem answering for {eid} (HTTP {error.status_code}), even after retrying. "
                "Try again in a minute.")
    if isinstance(error, InvalidResponse):
        return (f"⚠️ Qualys answered for {eid} with something that isn't the expected JSON "
                f"({safe(redactor.text(error.detail[:200]), 80)}). This usually means a proxy or a wrong gateway URL: try again, and "
                "if it keeps happening ask the app's admin to check `QUALYS_BASE_URL`.")
    if isinstance(error, QFlowStatusError):
        return f"⚠️ Qualys refused the lookup of {eid} (HTTP {error.status_code})."
    if isinstance(error, QFlowError):
        return f"⚠️ The lookup of {eid} failed: {safe(redactor.text(str(error)[:400]), 200)}."
    return f"⚠️ Something went wrong while I looked up {eid}. It has been logged; try again."


def wait_words(seconds: float) -> str:
    """`40 s`, `3 min`, `an hour`: a wait in words, whatever number it was given."""
    if math.isnan(seconds) or seconds >= 3600:  # NaN or an hour and more
        return "an hour"
    seconds = max(1, math.ceil(seconds))
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


RETRYABLE_FOR_USER = (RateLimited, QFlowTimeout, QFlowConnectionError, ServerError, InvalidResponse)


def render_lookup_error(error: BaseException, state: CardState, *, reference: str | None = None,
                        redactor: Redactor = DEFAULT_REDACTOR) -> SlackMessage:
    """An error card; where trying again may help, it has a Try again button."""
    text = error_text(error, state.execution_id, redactor)
    blocks: list[Block] = [SectionBlock(text=md(text))]
    if reference:
        blocks.append(ContextBlock(elements=[md(f"Reference: {code(reference, 40)}")]))
    if isinstance(error, RETRYABLE_FOR_USER) or not isinstance(error, QFlowError):
        blocks.append(ActionsBlock(block_id="qflow_error_actions",
                                   elements=[button("Try again", REFRESH, state)]))
    return SlackMessage.of(text, blocks)


def render_no_response_url() -> SlackMessage:
    """A command Slack sent without the address its answer goes to."""
    text = "⚠️ Slack didn't say where to send the answer to this command, so I can't look it up. Try again."
    return SlackMessage.of(text, [SectionBlock(text=md(text))])


def render_found_nothing(*, shortcut: bool = False) -> SlackMessage:
    """A mention, DM or shortcut with no execution id or Qualys link in it."""
    if shortcut:
        text = ("🔍 I found no QFlow execution id or Qualys execution link in that message. "
                f"An id is a UUID like `{EXAMPLE_ID}`.")
    else:
        text = ("👋 Send me a QFlow execution id or a Qualys execution link and I'll show the run, "
                f"e.g. `{EXAMPLE_ID}`. `/qflow help` shows everything I can do.")
    return SlackMessage.of(text, [SectionBlock(text=md(text))])


def render_too_many(rest: list[Found], shown: int) -> SlackMessage:
    """What happens past the per-message bound: the other ids, to look up one by one."""
    ids = ", ".join(code(f.execution_id, 40) for f in rest[:20])
    more = f" and {len(rest) - 20} more" if len(rest) > 20 else ""
    text = (f"I show at most {shown} executions per message. The other {len(rest)}: {ids}{more}. "
            "Look each up with `/qflow execution &lt;id&gt;`.")
    return SlackMessage.of(text, [SectionBlock(text=md(text))])
