"""Secrets in API text (variables, tags) are masked before anything is rendered."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "•••"
# Keys whose values are secrets whatever they look like.
SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|apikey|private[_-]?key|credential|authorization|session|cookie)",
    re.IGNORECASE,
)
# Values that are secrets whatever their key.
SECRET_VALUE = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|xapp-[A-Za-z0-9-]{10,}"
    r"|\b(AKIA|ASIA)[A-Z0-9]{16}\b"  # AWS access key ids
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWTs
    r"|[Bb]earer\s+[A-Za-z0-9._~+/-]{12,}=*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    # URLs with a password; the scheme starts at a word boundary and is short, so the scan stays linear.
    r"|(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^/\s:@]{1,256}:[^/\s@]{1,256}@)"
)


def redact_value(key: str, value: str) -> str:
    """`value`, or the mask when the key or the value says it is a secret."""
    if SECRET_KEY.search(key) or SECRET_VALUE.search(value):
        return MASK
    return value


def redact_pairs(items: Iterable[str]) -> list[str]:
    """`key=value` strings with secret values masked; the key stays visible."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if sep:
            out.append(f"{key}={redact_value(key, value)}")
        else:
            out.append(MASK if SECRET_VALUE.search(item) else item)
    return out
