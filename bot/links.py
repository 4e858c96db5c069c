"""Finding execution ids in text: bare UUIDs and pasted execution links."""

from __future__ import annotations

import re
from urllib.parse import unquote

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(rf"(?<![0-9a-fA-F-]){UUID_PATTERN}(?![0-9a-fA-F-])")
# Slack's link forms in message text: <https://x|label> and <https://x>.
_SLACK_LINK = re.compile(r"<((?:https?|ftp)://[^|>\s]+)(?:\|[^>]*)?>")
_AFTER_EXECUTION = re.compile(rf"execution[s]?(?:id|_id|-id|Id)?[/=:#]+({UUID_PATTERN})", re.IGNORECASE)


def unwrap_slack_links(text: str) -> str:
    """`<https://x|label>` → `https://x`, as Slack writes links in message text."""
    return _SLACK_LINK.sub(lambda m: m.group(1), text)


def execution_id_in_url(url: str) -> str | None:
    """The execution UUID in a link: one right after "execution(s)" wins, else the first."""
    decoded = unquote(url)
    preferred = _AFTER_EXECUTION.search(decoded)
    if preferred:
        return preferred.group(1).lower()
    match = _UUID.search(decoded)
    return match.group(0).lower() if match else None


def is_url(token: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", token, re.IGNORECASE))


def execution_id_in_token(token: str) -> str | None:
    """The execution id a single command argument stands for (a UUID or a link), if any."""
    token = unwrap_slack_links(token.strip()).strip("<>")
    if is_url(token):
        return execution_id_in_url(token)
    return token.lower() if _UUID.fullmatch(token) else None
