"""Secrets in API text are masked before anything is rendered.

Variables and tags are `key=value` pairs: a value is masked when its key or the value
itself looks secret. Free text (step errors, names, anything else) has secret-looking
values masked in place. Operators add their own patterns; the app's own configured
secrets are masked wherever they appear. Every pattern scans in linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

MASK = "•••"
# Keys whose values are secrets whatever they look like.
SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential"
    r"|authorization|session|cookie|signature)",
    re.IGNORECASE,
)
# Values that are secrets whatever their key.
SECRET_VALUES = [
    r"xox[abposre]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"xapp-[A-Za-z0-9-]{10,}",
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b",  # AWS access key ids
    # AWS secret access keys: 40 base64 characters with upper, lower case and a digit (not a hex digest).
    r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[0-9])"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",  # JWTs
    r"\b[Bb]earer\s+[A-Za-z0-9._~+/-]{12,}=*",
    r"\b[Bb]asic\s+[A-Za-z0-9+/]{12,}=*",
    r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]{0,10000}?(?:-----END [A-Z ]{0,40}PRIVATE KEY-----|$)",
    # The user:password of a URL (scheme and host stay visible).
    r"(?<=://)[^/\s:@]{1,256}:[^/\s@]{1,256}(?=@)",
    r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",  # GitHub tokens
]
# `key=value`, `key: value` and `"key": "value"` inside free text, where the key looks secret.
# Keys start only where a token starts, so the scan stays linear on long runs of word characters.
_SECRET_PAIR = re.compile(
    r"""(?<![\w.-])(?P<key>["']?[\w.-]{0,40}?(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"""
    r"""|private[_-]?key|credential|authorization)[\w.-]{0,40}["']?)(?P<sep>\s{0,3}[=:]\s{0,3}["']?)"""
    r"""(?P<value>[^\s"',;&}\]]{1,500})""",
    re.IGNORECASE,
)


class Redactor:
    """Masks secrets; one per process, built from Settings (operator patterns, own secrets)."""

    def __init__(self, extra_patterns: Sequence[str] = (), own_secrets: Iterable[str] = ()) -> None:
        literals = [re.escape(s) for s in sorted({s for s in own_secrets if len(s) >= 6}, key=len, reverse=True)]
        self._values = re.compile("|".join([*literals, *SECRET_VALUES, *extra_patterns]))

    def text(self, text: str) -> str:
        """Free text with every secret-looking value masked in place."""
        if not text:
            return text
        text = self._values.sub(MASK, text)
        return _SECRET_PAIR.sub(lambda m: m.group("key") + m.group("sep") + MASK, text)

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


DEFAULT = Redactor()


# Nothing shows more than 700 characters of one API text, nor more than ~75 pairs:
# what lies beyond these bounds is never displayed, so it is masked unread.
TEXT_SCANNED = 1000  # the longest excerpt shown is 700 characters
PAIRS_SCANNED = 100


def redact_execution(execution: Any, redactor: Redactor) -> Any:
    """A copy of an Execution with every piece of API text passed through the redactor."""

    def text(value: Any) -> Any:
        return redactor.text(value[:TEXT_SCANNED]) if isinstance(value, str) else value

    def pairs(items: list[str]) -> list[str]:
        return redactor.pairs(i[:TEXT_SCANNED] for i in items[:PAIRS_SCANNED]) + [MASK] * (len(items) - PAIRS_SCANNED)

    c = execution.categories
    categories = c.model_copy(update={
        name: [text(v) for v in getattr(c, name)[:PAIRS_SCANNED]]
        for name in ("services", "accounts", "regions", "resource_groups", "projects", "solutions", "apps",
                     "cloud_providers")
    })
    steps = None if execution.steps is None else [
        step.model_copy(update={k: text(getattr(step, k)) for k in
                                ("name", "node_id", "node_type", "status", "error_text", "note_text")})
        for step in execution.steps
    ]
    return execution.model_copy(update={
        **{k: text(getattr(execution, k)) for k in ("workflow_name", "status", "execution_type", "source",
                                                    "error_text", "parent_execution_id")},
        "variables": pairs(execution.variables),
        "tags": pairs(execution.tags),
        "linked_execution_ids": [text(v) for v in execution.linked_execution_ids[:PAIRS_SCANNED]],
        "categories": categories,
        "steps": steps,
    })
