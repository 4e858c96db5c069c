"""Logging that can never print a configured secret, nor a secret-looking value from anywhere.

Every line (tracebacks included) passes through the same redactor as the cards. Library loggers
(slack_sdk, slack_bolt, httpx, waitress…) print request and response bodies at DEBUG, so they stay
at INFO (httpx and httpcore at WARNING) whatever LOG_LEVEL says, unless QFLOW_DEBUG_LIBRARIES asks.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Sequence

from .redact import Redactor

MASK = "***"
LIBRARY_LOGGERS = ("slack_sdk", "slack_bolt", "waitress", "urllib3", "websocket", "websockets", "asyncio")
QUIET_LIBRARY_LOGGERS = ("httpx", "httpcore")  # a line per request at INFO


def scrubber(secrets: Iterable[str]) -> Callable[[str], str]:
    """A function that replaces every secret value (longest first) with ***."""
    ordered = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, MASK)
        return text

    return scrub


class ScrubbingFormatter(logging.Formatter):
    """Formats as usual, then replaces every configured secret value with *** and masks whatever
    the redactor recognises (tokens, keys, passwords in any shape)."""

    MAX_LINE_CHARS = 20_000

    def __init__(self, fmt: str, secrets: Iterable[str], patterns: Sequence[str] = ()) -> None:
        super().__init__(fmt)
        secrets = tuple(secrets)
        self._scrub = scrubber(secrets)
        self._redactor = Redactor(patterns, secrets)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if len(text) > self.MAX_LINE_CHARS:
            text = text[: self.MAX_LINE_CHARS] + f" …({len(text) - self.MAX_LINE_CHARS} more characters)"
        return self._redactor.text(self._scrub(text))


def configure_logging(level: str, secrets: Iterable[str] = (), *, patterns: Sequence[str] = (),
                      debug_libraries: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets, patterns))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if debug_libraries:
        for name in (*LIBRARY_LOGGERS, *QUIET_LIBRARY_LOGGERS):
            logging.getLogger(name).setLevel(logging.NOTSET)
        return
    floor = max(logging.getLevelName(level), logging.INFO)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(floor)
    for name in QUIET_LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(max(floor, logging.WARNING))
