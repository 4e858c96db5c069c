"""The App Home tab: what the app does and how, the person's own recent lookups and watches, the
subscriptions of their channels, and the app's health. Pure: facts in, a `home` view out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .blocks import context, divider, header, md, section
from .text import code, date_token, safe

SHOWN = 10


@dataclass(frozen=True)
class Health:
    qualys_outcome: str | None  # the last Qualys call's outcome ("ok", "timeout"…), None: none yet
    qualys_at: float | None
    token_until: float | None  # when the service token expires (None: unknown, or renewed automatically)
    token_renewed: bool  # a service account: renewed before it expires
    remaining: int | None
    limit: int | None


def _when(epoch: float) -> str:
    return date_token(datetime.fromtimestamp(epoch, UTC))


def _health_lines(health: Health) -> list[str]:
    if health.qualys_outcome is None:
        qualys = "• Qualys: not called yet by this process"
    elif health.qualys_outcome == "ok":
        qualys = f"• Qualys: ✅ answered at {_when(health.qualys_at or 0)}"
    else:
        qualys = f"• Qualys: ⚠️ the last call failed ({safe(health.qualys_outcome, 40)}) at {_when(health.qualys_at or 0)}"
    if health.token_renewed:
        token = "• Service token: a service account's, renewed automatically before it expires"
    elif health.token_until:
        token = f"• Service token: valid until {_when(health.token_until)}"
    else:
        token = "• Service token: its expiry is unknown"
    budget = (f"• Rate budget: {health.remaining} of {health.limit} calls left in this window"
              if health.remaining is not None and health.limit else "• Rate budget: no figures from Qualys yet")
    return [qualys, token, budget]


def render_home(recent: list[tuple[str, str, float]], watches: list[tuple[str, str | None, float]],
                subscriptions: list[tuple[str, str | None, str, str]], health: Health, *,
                channels_known: bool = True) -> dict[str, Any]:
    """The `home` view. recent: (execution id, outcome, when); watches: (execution id, channel, since);
    subscriptions: (workflow id, name, mode, channel)."""
    blocks: list[Any] = [
        header("QFlow for Slack", emoji=True),
        section(md(
            "Look up Qualys QFlow workflow executions without leaving Slack.\n"
            "• `/qflow execution &lt;id or link&gt; [steps|errors]`: a card, privately\n"
            "• Paste an execution link: it unfurls; mention me or DM me an id: a card in reply\n"
            "• `/qflow watch &lt;id&gt;`: a card for the channel, kept current, a thread reply when the run ends\n"
            "• `/qflow subscribe &lt;workflow&gt; [failures|all]`: a card here for each new failed run\n"
            "• `/qflow help`: everything, with examples")),
        divider(),
        section(md("*Your recent lookups* (only you see these)\n" + (
            "\n".join(f"• {code(eid, 40)} · {safe(outcome, 30)} · {_when(at)}" for eid, outcome, at in recent[:SHOWN])
            or "None yet."))),
        section(md("*Your watches*\n" + (
            "\n".join(f"• {code(eid, 40)} in <#{channel}> since {_when(since)}" if channel and channel.isalnum()
                      else f"• {code(eid, 40)} since {_when(since)}" for eid, channel, since in watches[:SHOWN])
            or "None. Start one with `/qflow watch &lt;id&gt;` in a channel."))),
        section(md("*Subscriptions of your channels*\n" + (
            "\n".join(f"• {safe(name, 80) if name else code(wid, 40)} · "
                      f"{'failures' if mode == 'failures' else 'every run'} in <#{channel}>"
                      for wid, name, mode, channel in subscriptions[:SHOWN] if channel.isalnum())
            or ("None." if channels_known else "I couldn't list your channels just now.")))),
        divider(),
        section(md("*Health*\n" + "\n".join(_health_lines(health)))),
        context(md(f"Updated {date_token(datetime.now(UTC), seconds=True)}")),
    ]
    return {"type": "home", "blocks": blocks}
