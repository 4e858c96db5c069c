"""Secrets in API text are masked before anything is rendered.

Variables and tags are `key=value` pairs: a value is masked when its key or the value
itself looks secret. Free text (step errors, names, anything else) has secret-looking
values masked in place. Operators add their own patterns; the app's own configured
secrets are masked wherever they appear. Every pattern scans in linear time.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import BaseModel

MASK = "•••"
# Words that make a key secret: its value is masked whatever it looks like.
_SECRET_WORDS = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential"
    r"|authori[sz]ation|auth[_-]?(?:token|key|header|code)|cookie|session[_-]?(?:id|key|token)|signature"
    r"|account[_-]?key|shared[_-]?access[_-]?key|sas[_-]?token|connection[_-]?string|bearer"
)
# Keys whose values are secrets whatever they look like (`key=value` variables and tags).
SECRET_KEY = re.compile(rf"(?:{_SECRET_WORDS}|session)", re.IGNORECASE)
# Values that are secrets whatever their key.
SECRET_VALUES = [
    r"xox[abposre]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"xoxe\.xox[a-z]-[A-Za-z0-9-]{10,}",
    r"xapp-[A-Za-z0-9-]{10,}",
    r"(?<=hooks\.slack\.com/)(?:services|workflows|triggers)/[A-Za-z0-9/_-]{10,}",  # Slack webhooks
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b",  # AWS access key ids
    # AWS secret access keys: 40 base64 characters with upper, lower case and a digit (not a hex digest).
    r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[0-9])"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab
    r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
    r"\bnpm_[A-Za-z0-9]{36}\b",
    r"\bpypi-[A-Za-z0-9_-]{50,}",
    r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}",  # OpenAI-style keys
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",  # JWTs
    # Credentials after an HTTP auth scheme word, wherever they appear.
    r"\b(?i:bearer|basic|token|digest|negotiate|bot|ssws|apikey|sharedaccesssignature)\s+[A-Za-z0-9._~+/=%-]{12,}",
    # Private keys in any PEM flavour (RSA, EC, OPENSSH, ENCRYPTED, PGP … BLOCK), to their end or the text's.
    r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,20000}?"
    r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
    # The user name and password of a URL, up to its last `@` (scheme and host stay visible).
    r"(?<=://)[^/\s?#]{1,512}(?=@[^/\s?#@]{1,255}(?:[/?#\s\"'\\]|\Z))",
    # Query parameters that carry credentials under short names (Azure SAS `sig`, OAuth `code`, `key`).
    r"(?<=[?&;](?i:sig)=)[^&#\s\"'\\]+",
    r"(?<=[?&;](?i:code)=)[^&#\s\"'\\]+",
    r"(?<=[?&;](?i:key)=)[^&#\s\"'\\]+",
    r"(?<=[?&;](?i:x-amz-credential)=)[^&#\s\"'\\]+",
]
# `key=value`, `key: value`, `"key": "value"` (also JSON-escaped, `\"key\": \"value\"`, at any depth),
# HTTP headers and query parameters inside free text, where the key looks secret. A quoted value is
# masked to its closing quote (at the same escaping depth), an unquoted one to the end of its line
# or to the next `key=` / `key:`, so values with spaces and quotes are masked whole.
# Keys start only where a token starts, and every part is bounded, so the scan stays linear.
_SECRET_PAIR = re.compile(
    r"(?<![\w.-])(?P<key>(?:\\{0,8}[\"'])?[\w.-]{0,40}?(?:" + _SECRET_WORDS + r")[\w.-]{0,40}(?:\\{0,8}[\"'])?)"
    r"(?P<sep>\s{0,3}(?:=>|:=|[=:])\s{0,3})"
    r"(?P<value>"
    r"(?P<bs>\\{0,8})(?P<q>[\"'])(?:(?!(?<!\\)(?P=bs)(?P=q)).){0,4000}(?:(?<!\\)(?P=bs)(?P=q)(?=[\s,;&})\]\\]|\Z)|(?=[\r\n])|\Z)"
    r"|(?:(?![\s,;&][\s,;&]{0,3}[\w.-]{1,40}\s{0,3}[=:])[^\s\r\n])(?:(?![\s,;&][\s,;&]{0,3}[\w.-]{1,40}\s{0,3}[=:])"
    r"[^\r\n]){0,1000}"
    r")",
    re.IGNORECASE,
)


def _own_secret_forms(secret: str) -> set[str]:
    """A configured secret as it may appear in text: raw, JSON-escaped and percent-encoded."""
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}


# Masking is a pure function of the text, and a card's texts repeat: within one card (a step's name in
# several places), across its views (summary, steps, errors: a storm renders all three of every run at
# once) and across the refreshes of a followed card. Texts up to REMEMBERED_CHARS are masked once and
# the result kept (at most REMEMBERED_TEXTS of them, the least recently used forgotten first: a few MB
# at most): half the time of rendering a card went to masking texts already masked.
REMEMBERED_TEXTS = 1024
REMEMBERED_CHARS = 1000


class Redactor:
    """Masks secrets; one per process, built from Settings (operator patterns, own secrets). `remembered`:
    how many masked texts to keep for reuse (0 for text that never repeats, such as log lines)."""

    def __init__(self, extra_patterns: Sequence[str] = (), own_secrets: Iterable[str] = (), *,
                 remembered: int = REMEMBERED_TEXTS) -> None:
        forms = {form for s in own_secrets if len(s) >= 6 for form in _own_secret_forms(s)}
        literals = [re.escape(s) for s in sorted(forms, key=len, reverse=True)]
        self._values = re.compile("|".join([*literals, *SECRET_VALUES, *extra_patterns]))
        # functools' cache is safe to share between threads (two that miss one text at once both mask it).
        self._remembered = functools.lru_cache(maxsize=remembered)(self._mask) if remembered else self._mask

    def text(self, text: str) -> str:
        """Free text with every secret-looking value masked in place."""
        if not text:
            return text
        return self._remembered(text) if len(text) <= REMEMBERED_CHARS else self._mask(text)

    def _mask(self, text: str) -> str:
        text = self._values.sub(MASK, text)
        return _SECRET_PAIR.sub(_masked_pair, text)

    def value(self, key: str, value: str) -> str:
        """`value`, or the mask when the key says it is a secret; else its secrets masked."""
        return MASK if SECRET_KEY.search(key) else self.text(value)

    def pairs(self, items: Iterable[str]) -> list[str]:
        """`key=value` strings with secret values masked; the key stays visible."""
        out = []
        for item in items:
            key, sep, value = item.partition("=")
            out.append(f"{self.text(key)}={self.value(key, value)}" if sep else self.text(item))
        return out


def _masked_pair(match: re.Match[str]) -> str:
    quote_mark = match.group("q")
    if quote_mark and match.group("value").endswith(match.group("bs") + quote_mark) and \
            len(match.group("value")) > len(match.group("bs")) + 1:
        return match.group("key") + match.group("sep") + match.group("bs") + quote_mark + MASK + \
            match.group("bs") + quote_mark
    return match.group("key") + match.group("sep") + MASK


DEFAULT = Redactor()


# Nothing shows more than 700 characters of one API text, nor more than ~75 pairs:
# what lies beyond these bounds is never displayed, so it is masked unread.
TEXT_SCANNED = 1000  # the longest excerpt shown is 700 characters
PAIRS_SCANNED = 100


# `key=value` lists: the key stays visible, a secret-looking key masks its whole value.
PAIR_FIELDS = frozenset({"variables", "tags"})
MAX_DEPTH = 4


def _scanned(value: Any, redactor: Redactor) -> Any:
    return redactor.text(value[:TEXT_SCANNED]) if isinstance(value, str) else value


def _redacted(name: str, value: Any, redactor: Redactor, depth: int = 0) -> Any:
    """`value` (a field's, or an item of one) with every string in it masked, at any depth."""
    if isinstance(value, str):
        return _scanned(value, redactor)
    if isinstance(value, BaseModel):
        return _redacted_model(value, redactor)
    if depth >= MAX_DEPTH:
        return value if isinstance(value, int | float | bool) or value is None else MASK
    if isinstance(value, list):
        if name in PAIR_FIELDS:
            shown = redactor.pairs(str(i)[:TEXT_SCANNED] for i in value[:PAIRS_SCANNED])
            return shown + [MASK] * (len(value) - len(shown))
        return [_redacted(name, item, redactor, depth + 1) for item in value[:PAIRS_SCANNED]]
    if isinstance(value, dict):
        return {key: _redacted(str(key), item, redactor, depth + 1) for key, item in list(value.items())[:PAIRS_SCANNED]}
    return value


def _redacted_model(model: Any, redactor: Redactor, skip: frozenset[str] = frozenset()) -> Any:
    """A copy of a pydantic model with every field it declares (`model_fields`, so a field added later
    cannot escape) passed through the redactor."""
    return model.model_copy(update={name: _redacted(name, getattr(model, name), redactor)
                                    for name in type(model).model_fields if name not in skip})


def redact_step(step: Any, redactor: Redactor) -> Any:
    """A copy of a Step with its API text passed through the redactor."""
    return _redacted_model(step, redactor)


def redact_execution(execution: Any, redactor: Redactor) -> Any:
    """A copy of an Execution with every piece of its own API text passed through the redactor. Steps
    are left as they are: the renderer passes each step it shows through `redact_step`, so a page of a
    30,000-step execution costs ten steps' masking, not thirty thousand."""
    return _redacted_model(execution, redactor, skip=frozenset({"steps"}))
