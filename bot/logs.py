"""Logging that can never print a configured secret."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable

MASK = "***"


def scrubber(secrets: Iterable[str]) -> Callable[[str], str]:
    """A function that replaces every secret value (longest first) with ***."""
    ordered = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, MASK)
        return text

    return scrub


class ScrubbingFormatter(logging.Formatter):
    """Formats as usual, then replaces every configured secret value with ***."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._scrub = scrubber(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._scrub(super().format(record))


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-request lines from httpx and waitress's queue notices are noise at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
