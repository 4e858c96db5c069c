"""Help, usage and error messages: short, specific, and saying what to do next."""

from __future__ import annotations

from ..links import Found
from ..redact import DEFAULT as DEFAULT_REDACTOR
from ..redact import Redactor
from .blocks import REFRESH, Json, actions, button, context, md, section
from .errors import words_for
from .message import SlackMessage
from .state import CardState
from .text import code, safe

EXAMPLE_ID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


def render_help(command: str = "/qflow") -> SlackMessage:
    """Every way to use the app, with one example each."""
    c = safe(command, 30)
    text = (
        f"*{c}* shows a Qualys QFlow workflow execution right here.\n"
        f"• `{c} execution &lt;id&gt;`: the execution's summary card, e.g. `{c} execution {EXAMPLE_ID}`\n"
        f"• `{c} execution &lt;id&gt; steps`: the card with its steps expanded\n"
        f"• `{c} execution &lt;id&gt; errors`: the card with its errors expanded\n"
        f"• `{c} &lt;id&gt;`: the same as `execution &lt;id&gt;`\n"
        f"• `{c} watch &lt;id or link&gt;`: a card in this channel for everyone, kept current while the run goes "
        f"on, and a reply in its thread when it ends; `{c} unwatch &lt;id&gt;` stops it, `{c} watches` lists them\n"
        f"• `{c} subscribe &lt;workflow id, link or name&gt; [failures|all]`: a card here for each new run of "
        f"that workflow that fails (or each run); `{c} unsubscribe &lt;workflow&gt;`, `{c} subscriptions`\n"
        "• Paste an execution link from Qualys in a message: it unfurls into a compact card\n"
        f"• Mention me with an id or link, e.g. `@QFlow {EXAMPLE_ID}`: the card in the thread\n"
        "• Send me a direct message with an id or link: the card in our DM\n"
        "• *More actions → Look up QFlow executions* on any message: a private card for every id and link in it\n"
        f"• `{c} help`: this message\n"
        f"The id is the execution's UUID, like `{EXAMPLE_ID}`, or its link from Qualys. "
        "Answers to the command and the shortcut are private to you until you press *Share in channel*."
    )
    return SlackMessage.of(f"{c} help: {c} execution &lt;id&gt; [steps|errors]", [section(md(text))])


def render_usage(given: str, command: str = "/qflow") -> SlackMessage:
    """Anything the command does not understand: say so, then show the usage."""
    c = safe(command, 30)
    lead = f"I didn't understand {code(given, 60)}." if given.strip() else "That needs an execution id."
    return SlackMessage(f"{lead} Try {c} help", [section(md(lead)), *render_help(command).blocks])


def render_invalid_id(given: str) -> SlackMessage:
    """A malformed execution id: what a valid one looks like."""
    text = (
        f"⚠️ {code(given, 60)} isn't an execution id. An execution id is a UUID like `{EXAMPLE_ID}` "
        "(8-4-4-4-12 hexadecimal digits); you can also paste the execution's link from Qualys."
    )
    return SlackMessage.section(text)


def error_text(error: BaseException, execution_id: str, redactor: Redactor = DEFAULT_REDACTOR) -> str:
    """What went wrong, in words a user (or their admin) can act on. Whatever Qualys said in it
    (a content type, a message) is masked like any API text."""
    return words_for(error).user(error, code(execution_id, 40), redactor)


def render_lookup_error(error: BaseException, state: CardState, *, reference: str | None = None,
                        redactor: Redactor = DEFAULT_REDACTOR) -> SlackMessage:
    """An error card; where trying again may help, it has a Try again button."""
    text = error_text(error, state.execution_id, redactor)
    blocks: list[Json] = [section(md(text))]
    if reference:
        blocks.append(context(md(f"Reference: {code(reference, 40)}")))
    if words_for(error).try_again:
        blocks.append(actions([button("Try again", REFRESH, state)], block_id="qflow_error_actions"))
    return SlackMessage.of(text, blocks)


def render_no_response_url() -> SlackMessage:
    """A command Slack sent without the address its answer goes to."""
    text = "⚠️ Slack didn't say where to send the answer to this command, so I can't look it up. Try again."
    return SlackMessage.section(text)


def render_found_nothing(*, shortcut: bool = False) -> SlackMessage:
    """A mention, DM or shortcut with no execution id or Qualys link in it."""
    if shortcut:
        text = ("🔍 I found no QFlow execution id or Qualys execution link in that message. "
                f"An id is a UUID like `{EXAMPLE_ID}`.")
    else:
        text = ("👋 Send me a QFlow execution id or a Qualys execution link and I'll show the run, "
                f"e.g. `{EXAMPLE_ID}`. `/qflow help` shows everything I can do.")
    return SlackMessage.section(text)


def render_too_many(rest: list[Found], shown: int) -> SlackMessage:
    """What happens past the per-message bound: the other ids, to look up one by one."""
    ids = ", ".join(code(f.execution_id, 40) for f in rest[:20])
    more = f" and {len(rest) - 20} more" if len(rest) > 20 else ""
    text = (f"I show at most {shown} executions per message. The other {len(rest)}: {ids}{more}. "
            "Look each up with `/qflow execution &lt;id&gt;`.")
    return SlackMessage.section(text)


def looking_up(state: CardState) -> SlackMessage:
    """The instant acknowledgement shown while the lookup runs."""
    text = f"⏳ Looking up execution {code(state.execution_id, 40)}…"
    return SlackMessage(text, [context(md(text))])


def stale_button() -> SlackMessage:
    """A click whose value is not one of ours (forged, or from an old version of the app)."""
    text = "⚠️ That button isn't one I can read (it may be from an older card). Run `/qflow execution &lt;id&gt;` again."
    return SlackMessage(text, [section(md(text))])


def with_shared_by(message: SlackMessage, user: str) -> SlackMessage:
    """A card shared with the channel, saying who shared it (`user`: a Slack user id, checked by the caller)."""
    return SlackMessage(message.text, [*message.blocks,
                                       context(md(f"Shared by <@{user}>"))])


def _minutes(seconds: float) -> str:
    """`29 min`, or `40 s` under a minute."""
    return f"{round(seconds / 60)} min" if seconds >= 60 else f"{max(1, round(seconds))} s"


def following_note(every_seconds: float, left_seconds: float) -> str:
    """The line under a card that follows a running execution."""
    return f"Following this run: checking every {every_seconds:g} s for up to {_minutes(left_seconds)}."


def following_stopped(after_seconds: float) -> str:
    """The line under a card that stopped following."""
    return f"Stopped following after {_minutes(after_seconds)}: press Refresh for the latest."
