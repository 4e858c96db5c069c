"""What people read when the app will not show something: why (one sentence per policy rule), who
can change it, and why Slack refused a post."""

from __future__ import annotations

from ..policy import Decision, Rule
from .blocks import md, section
from .message import SlackMessage
from .text import code

REASONS: dict[Rule, str] = {
    Rule.DENIED_CHANNEL: "this channel is on the app's deny list",
    Rule.SLACK_CONNECT: "this channel is shared with other organisations (Slack Connect), and execution details "
                        "stay inside your workspace",
    Rule.SHARING_UNKNOWN: "I can't see whether this channel is shared outside your workspace (I'm not a member of "
                          "it), so I won't show execution details here. Invite me with `/invite @QFlow`, or ask me "
                          "in a direct message",
    Rule.CHANNEL_UNKNOWN: "I can't tell which channel this is, so I can't check where details may be shown",
    Rule.HOME_UNKNOWN: "I couldn't confirm with Slack which workspace installed me, so I can't check that you "
                       "belong to it. Try again in a minute",
    Rule.TEAM_UNKNOWN: "I can't tell which workspace you belong to here, and execution details are only for "
                       "members of the workspace (or organisation) that installed the app. Ask me in a DM or "
                       "with /qflow",
    Rule.OTHER_TEAM: "execution details are only for members of the workspace (or organisation) that installed "
                     "the app",
    Rule.CHANNEL_NOT_ALLOWED: "the app answers only in some channels",
    Rule.USER_NOT_ALLOWED: "only some people may look up executions",
    Rule.CANNOT_CHECK: "I couldn't check with Slack who may see this right now. Try again in a minute",
}

# Why Slack refused a post, in the asker's words (the error codes of chat.postMessage and friends).
POST_REFUSALS = {
    "not_in_channel": "I'm not a member of this channel: invite me with `/invite @QFlow`.",
    "is_archived": "this channel is archived.",
    "channel_is_archived": "this channel is archived.",
    "restricted_action": "a workspace setting stops apps from posting here.",
}


def reason_of(decision: Decision) -> str:
    """The sentence that says why `decision` refused."""
    return REASONS[decision.rule] if decision.rule else ""


def denial_text(decision: Decision, contact: str) -> str:
    """What a denied user reads (privately): why, and who can change it."""
    return (f"🔒 I can't show QFlow executions here: {reason_of(decision)}. "
            f"{contact[:1].upper() + contact[1:]} can change this ({decision.setting}).")


def render_denial(decision: Decision, contact: str) -> SlackMessage:
    words = denial_text(decision, contact)
    return SlackMessage(words, [section(md(words))])


def render_post_refused(refusal: str) -> str:
    """Why no card appeared where the asker asked, privately."""
    why = POST_REFUSALS.get(refusal, f"Slack refused the post ({code(refusal, 40)}).")
    return f"⚠️ I couldn't post the execution card here: {why} `/qflow execution &lt;id&gt;` works anywhere."
