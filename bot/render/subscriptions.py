"""What subscribing looks like: the confirmation, the channel's list, a burst's summary, the refusals."""

from __future__ import annotations

from .message import SlackMessage
from .text import code, safe

LISTED = 20


def _workflow(workflow_id: str, name: str | None) -> str:
    return f"*{safe(name, 120)}* ({code(workflow_id, 40)})" if name else code(workflow_id, 40)


def _every(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def render_subscribed(workflow_id: str, name: str | None, mode: str, interval: float) -> SlackMessage:
    what = "each new run that ends failed" if mode == "failures" else "each new run when it ends"
    return SlackMessage.section(f"🔔 This channel now gets a card for {what} of {_workflow(workflow_id, name)}, checked every "
                    f"{_every(interval)}. Runs from before now are not posted. `/qflow unsubscribe "
                    f"{safe(workflow_id, 40)}` stops it.")


def render_subscriptions(rows: list[tuple[str, str | None, str, str | None]], interval: float, *,
                         stretched: bool) -> SlackMessage:
    """This channel's subscriptions: (workflow id, name, mode, who subscribed)."""
    if not rows:
        return SlackMessage.section("This channel has no subscriptions. Start one with "
                        "`/qflow subscribe &lt;workflow id, link or exact name&gt; [failures|all]`.")
    lines = [f"• {_workflow(wid, name)} · {'failures' if mode == 'failures' else 'every run'}"
             + (f" · by <@{user}>" if user and user[:1] in "UW" and user.isalnum() else "")
             for wid, name, mode, user in rows[:LISTED]]
    more = f"\n…and {len(rows) - LISTED} more" if len(rows) > LISTED else ""
    how = f"Each workflow is checked every {_every(interval)}"
    if stretched:
        how += " (slower than QFLOW_SUBSCRIPTION_POLL_SECONDS: the Qualys rate budget allows no more)"
    return SlackMessage.section(f"*Subscriptions in this channel* ({len(rows)}):\n" + "\n".join(lines) + more + f"\n{how}.")


def render_burst(workflow: str, rest: list[tuple[str, str | None]]) -> SlackMessage:
    """The runs of one poll past the first few cards, listed in one message."""
    lines = [f"• {code(eid, 40)} · {safe(status or 'unknown', 40)}" for eid, status in rest[:LISTED]]
    more = f"\n…and {len(rest) - LISTED} more" if len(rest) > LISTED else ""
    return SlackMessage.section(f"…and {len(rest)} more runs of {code(workflow, 60)} ended (`/qflow &lt;id&gt;` shows one):\n"
                    + "\n".join(lines) + more)


def render_subscription_refused(why: str, target: str, **facts: object) -> SlackMessage:
    given = code(target, 80)
    texts = {
        "no_such": f"⚠️ No workflow is named exactly {given}: use its id or its link from Qualys.",
        "several": f"⚠️ Several workflows are named {given}: use the id of the one you mean.",
        "lookup_failed": f"⚠️ I couldn't look {given} up in Qualys ({safe(str(facts.get('error')), 40)}): try again "
                         "in a minute, or use the workflow's id.",
        "not_subscribed": f"⚠️ This channel has no subscription to {given} (see `/qflow subscriptions`).",
        "unsubscribed": f"🔕 Unsubscribed this channel from {given}.",
    }
    return SlackMessage.section(texts[why])
