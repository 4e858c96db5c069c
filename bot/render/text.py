"""Text pieces for Slack: escaping, truncation, date tokens, durations, short ids."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from ..invisible import strip_invisible

ELLIPSIS = "…"
# mrkdwn formatting characters in outside text become look-alikes that Slack does not format, so API
# text can neither format itself nor end the card's own bold labels. An underscore between two
# letters or digits (snake_case) cannot open or close italics, so it stays as it is.
_FORMATTING = str.maketrans({"*": "∗", "~": "∼", "`": "ʼ"})
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


# `:white_check_mark:` in a name would show as ✅: a status marker the card did not set.
_EMOJI_CODE = re.compile(r":(?=[a-z0-9_+'-]{1,64}:)", re.IGNORECASE)


def label(text: str, limit: int) -> str:
    """An API name or status for mrkdwn: as `safe`, and emoji codes cannot show as emoji (a name
    cannot fake a status marker). Error texts keep their colons (ARNs are copied from them)."""
    return safe(_EMOJI_CODE.sub("\ua789", text[: limit * 2 + 100]), limit)


def neutralise_formatting(text: str) -> str:
    """mrkdwn's `*`, `~`, backtick and word-edge `_` replaced by look-alikes Slack shows as they are."""
    return _LOOSE_UNDERSCORE.sub("ˍ", text.translate(_FORMATTING))


def escape(text: str, *, formatting: bool = True) -> str:
    """Outside text for mrkdwn: invisible characters removed, `&`, `<`, `>` escaped, and (unless it goes
    inside a code span, where Slack formats nothing) its formatting characters neutralised."""
    text = strip_invisible(text)
    if formatting:
        text = neutralise_formatting(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in … when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def one_line(text: str) -> str:
    """Whitespace (newlines included) folded to single spaces."""
    return " ".join(text.split())


def safe(text: str, limit: int, *, formatting: bool = True) -> str:
    """Outside text made safe for mrkdwn: one line, escaped, at most `limit` characters.

    A cut never splits an entity such as `&amp;`, so the budget holds however
    many characters needed escaping.
    """
    escaped = escape(one_line(text[: limit * 2 + 100]), formatting=formatting)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(0, limit - 1)]
    amp = cut.rfind("&", max(0, len(cut) - 4))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def code(text: str, limit: int = 80) -> str:
    """Outside text shown as inline code; backticks cannot end the span early."""
    return "`" + safe(text.replace("`", "ʼ"), limit, formatting=False) + "`"


def plain(text: str, limit: int) -> str:
    """Outside text for a plain_text object: no escaping needed, one line, cut."""
    return truncate(one_line(strip_invisible(text[: limit * 2 + 100])), limit)


def utc_fallback(moment: datetime, *, seconds: bool = False) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def date_token(moment: datetime, *, seconds: bool = False) -> str:
    """A Slack date token: each reader sees their own time zone; others see UTC."""
    fmt = "{date_short_pretty} {time_secs}" if seconds else "{date_short_pretty} {time}"
    return f"<!date^{int(moment.timestamp())}^{fmt}|{utc_fallback(moment, seconds=seconds)}>"


def format_duration(seconds: float | None) -> str:
    """`0.4 s`, `12.1 s`, `1m 11s`, `2h 03m`, `3d 4h`; `—` when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def short_id(value: str, keep: int = 8) -> str:
    """A long id shortened for use as a label: `…855b316a`; short values unchanged."""
    value = value.strip()
    return value if len(value) <= keep + 4 else ELLIPSIS + value[-keep:]


def joined(items: Iterable[str], limit: int, sep: str = " · ", unseen: int = 0) -> str:
    """Escaped items joined, cut to about `limit` characters, ending "+N more" for what did not fit
    (`unseen` counts items the caller left out before calling)."""
    items = [one_line(i) for i in items if i and i.strip()]
    out: list[str] = []
    used = 0
    for index, item in enumerate(items):
        piece = safe(item, max(8, limit // 2))
        rest = len(items) - index - 1 + unseen
        tail = len(f"{sep}+{rest} more") if rest else 0
        if out and used + len(sep) + len(piece) + tail > limit:
            out.append(f"+{len(items) - index + unseen} more")
            return sep.join(out)
        used += len(piece) + (len(sep) if out else 0)
        out.append(piece)
    if unseen and out:
        out.append(f"+{unseen} more")
    return sep.join(out)
