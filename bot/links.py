"""Finding execution ids in text: bare UUIDs, pasted execution links, Slack's link forms.

One module owns it, for the slash command, unfurls, mentions, DMs and the shortcut alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .qflow.platforms import PLATFORMS

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(rf"(?<![0-9a-fA-F-]){UUID_PATTERN}(?![0-9a-fA-F-])")
# Slack's link forms in message text: <https://x|label> and <https://x>.
_SLACK_LINK = re.compile(r"<((?:https?|ftp)://[^|>\s]+)(?:\|[^>]*)?>")
_BARE_URL = re.compile(r"https?://[^\s<>|]+", re.IGNORECASE)
_AFTER_EXECUTION = re.compile(rf"execution[s]?(?:id|_id|-id|Id)?[/=:#]+({UUID_PATTERN})", re.IGNORECASE)

# Every platform's UI host; a link on one of these (or a subdomain) may be an execution.
QUALYS_UI_HOSTS = tuple(p.ui_host for p in PLATFORMS.values())


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


@dataclass(frozen=True)
class Found:
    """An execution id, and the Qualys link it came from (None for a bare id)."""

    execution_id: str
    url: str | None = None


class LinkMatcher:
    """Knows which hosts are Qualys: every platform's UI plus operator-added domains."""

    def __init__(self, extra_domains: Iterable[str] = ()) -> None:
        domains = {d.strip().lower().lstrip(".") for d in (*QUALYS_UI_HOSTS, *extra_domains) if d and d.strip()}
        self.domains = tuple(sorted(domains))

    def is_qualys_host(self, host: str | None) -> bool:
        host = (host or "").lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def execution_in_link(self, url: str) -> str | None:
        """The execution id in `url` when it is an http(s) link on a Qualys host."""
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not self.is_qualys_host(host):
            return None
        return execution_id_in_url(url)

    def find(self, text: str) -> list[Found]:
        """Every execution in message text, in order of appearance, once each: ids in Qualys links
        and bare UUIDs. Links to other hosts (and UUIDs inside them) are left alone."""
        text = unwrap_slack_links(text or "")
        hits: list[tuple[int, Found]] = []
        spans: list[tuple[int, int]] = []
        for match in _BARE_URL.finditer(text):
            spans.append(match.span())
            url = match.group(0).rstrip(".,;:!?)]}'\"")
            execution_id = self.execution_in_link(url)
            if execution_id:
                hits.append((match.start(), Found(execution_id, url)))
        for match in _UUID.finditer(text):
            if not any(start <= match.start() < end for start, end in spans):
                hits.append((match.start(), Found(match.group(0).lower())))
        found: dict[str, Found] = {}
        for _, hit in sorted(hits, key=lambda h: h[0]):
            found.setdefault(hit.execution_id, hit)
        return list(found.values())
