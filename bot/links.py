"""Finding execution ids in text: bare UUIDs, pasted execution links, Slack's link forms.

One module owns it, for the slash command, unfurls, mentions, DMs and the shortcut alike.
A link counts only when the host a browser would open is a Qualys host: links are parsed
with a WHATWG URL parser (ada), as browsers parse them, never split by hand. Every pattern
here scans in linear time, and the text it is given is capped first.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote

from ada_url import URL

from .qflow.platforms import PLATFORMS

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(rf"(?<![0-9a-fA-F-]){UUID_PATTERN}(?![0-9a-fA-F-])")
# A URL runs to the next space or Slack delimiter (`<https://x|label>`), so matches never overlap.
_BARE_URL = re.compile(r"https?:[^\s<>|]+", re.IGNORECASE)
_AFTER_EXECUTION = re.compile(rf"execution[s]?(?:id|_id|-id|Id)?[/=:#]+({UUID_PATTERN})", re.IGNORECASE)
# Slack's link and mention forms. No part may cross a `<`, so each scan that starts at a `<` ends
# before the next one: an unclosed `<https://x|…` repeated costs linear time, not quadratic.
_SLACK_LINK = re.compile(r"<((?:https?|ftp)://[^|<>\s]+)(?:\|[^<>]*)?>")
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")

MAX_TEXT_CHARS = 40_000  # Slack's own limit for message text
MAX_URL_CHARS = 4_000
MAX_CANDIDATES = 50  # links (and bare ids) looked at per message: far more than any card limit
# Links read, kept by their text: in a storm the same few links are pasted by hundreds of people. At most
# MAX_URL_CHARS each, so the kept ones hold at most about 2 MB whatever is pasted.
PARSED_URLS = 256

# Every platform's UI host; a link on one of these (or a subdomain) may be an execution.
QUALYS_UI_HOSTS = tuple(p.ui_host for p in PLATFORMS.values())


def without_mentions(text: str) -> str:
    """Message text with `<@U…>` mentions (the app's own among them) blanked out."""
    return _MENTION.sub(" ", text[:MAX_TEXT_CHARS])


class ParsedUrl(NamedTuple):
    """The parts of a URL this app reads, as a browser reads them."""

    protocol: str
    hostname: str
    pathname: str
    search: str
    hash: str


def parse_url(url: str) -> ParsedUrl | None:
    """The URL as a browser reads it (WHATWG), or None when a browser would not open it (or it is longer
    than any link worth reading: never kept, so hostile texts cannot fill the memory)."""
    return None if len(url) > MAX_URL_CHARS else _read_url(url)


@functools.lru_cache(maxsize=PARSED_URLS)
def _read_url(url: str) -> ParsedUrl | None:
    """Read once per text and kept: each call into ada's C library hands the interpreter to another
    thread, and getting it back waits for that thread (measured with one busy thread beside it: 0.9 ms to
    read a link, against 15 µs alone; a link already read: 0.2 µs)."""
    try:
        parsed = URL(url)
    except ValueError:
        return None
    return ParsedUrl(parsed.protocol, parsed.hostname, parsed.pathname, parsed.search, parsed.hash)


def _execution_id_in_parts(where: str) -> str | None:
    decoded = unquote(where)
    preferred = _AFTER_EXECUTION.search(decoded)
    if preferred:
        return preferred.group(1).lower()
    match = _UUID.search(decoded)
    return match.group(0).lower() if match else None


def execution_id_in_url(url: str) -> str | None:
    """The execution UUID in a link's path, query or fragment: one right after "execution(s)" wins,
    else the first. The user name, password and host are never read."""
    parsed = parse_url(url)
    if parsed is None or parsed.protocol not in ("http:", "https:"):
        return None
    return _execution_id_in_parts(parsed.pathname + parsed.search + parsed.hash)


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,30}://", re.IGNORECASE)


def is_url(token: str) -> bool:
    return bool(_SCHEME.match(token))


def unwrap_slack_links(text: str) -> str:
    """`<https://x|label>` → `https://x`, as Slack writes links in message text."""
    return _SLACK_LINK.sub(lambda m: m.group(1), text[:MAX_TEXT_CHARS])


def execution_id_in_token(token: str) -> str | None:
    """The execution id a single command argument stands for (a UUID or a link), if any."""
    token = unwrap_slack_links(token[:MAX_URL_CHARS].strip()).strip("<>")
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
        domains = {d.strip().lower().strip(".") for d in (*QUALYS_UI_HOSTS, *extra_domains) if d and d.strip()}
        self.domains = tuple(sorted(domains))
        self._domain_set = frozenset(domains)

    def is_qualys_host(self, host: str | None) -> bool:
        """True for a Qualys host name (ASCII, as a WHATWG parser gives it), subdomains included."""
        host = (host or "").lower()
        if host.endswith("."):  # `qualys.com.` is the same host to a browser; `qualys.com..` is not
            host = host[:-1]
        labels = host.split(".")
        return bool(host) and any(".".join(labels[i:]) in self._domain_set for i in range(len(labels)))

    def execution_in_link(self, url: str) -> str | None:
        """The execution id in `url` when it is an http(s) link whose host, as a browser reads it, is Qualys."""
        parsed = parse_url(url.strip())
        if parsed is None or parsed.protocol not in ("http:", "https:") or not self.is_qualys_host(parsed.hostname):
            return None
        return _execution_id_in_parts(parsed.pathname + parsed.search + parsed.hash)

    def find(self, text: str) -> list[Found]:
        """Every execution in message text, in order of appearance, once each: ids in Qualys links
        and bare UUIDs. Links to other hosts (and UUIDs inside them) are left alone."""
        text = (text or "")[:MAX_TEXT_CHARS]
        hits: list[tuple[int, Found]] = []
        spans: list[tuple[int, int]] = []
        for match in itertools.islice(_BARE_URL.finditer(text), MAX_CANDIDATES):
            spans.append(match.span())
            url = match.group(0).rstrip(".,;:!?)]}'\"")
            execution_id = self.execution_in_link(url)
            if execution_id:
                hits.append((match.start(), Found(execution_id, url)))
        span_index = 0
        for match in itertools.islice(_UUID.finditer(text), MAX_CANDIDATES):  # both lists are in order: one pass skips UUIDs inside links
            while span_index < len(spans) and spans[span_index][1] <= match.start():
                span_index += 1
            if span_index < len(spans) and spans[span_index][0] <= match.start():
                continue
            hits.append((match.start(), Found(match.group(0).lower())))
        found: dict[str, Found] = {}
        for _, hit in sorted(hits, key=lambda h: h[0]):
            found.setdefault(hit.execution_id, hit)
        return list(found.values())
