"""Logging that can never print a configured secret, nor a secret-looking value from anywhere.

Every line (tracebacks included) passes through the same redactor as the cards. Library loggers
(slack_sdk, slack_bolt, httpx, granian…) print request and response bodies at DEBUG, so they stay
at INFO (httpx and httpcore at WARNING) whatever LOG_LEVEL says, unless QFLOW_DEBUG_LIBRARIES asks.

`LOG_FORMAT=json` prints one JSON object per line: time, level, logger, message (and `error`, the
traceback), with the request's team, user, channel, entry point, execution id and event id when the
line is written while answering one (`log_context`; the work pool carries it to its workers).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any

from .redact import Redactor

CONTEXT_FIELDS = ("team", "user", "channel", "entry", "execution_id", "event_id")
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "qflow_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Lines logged inside carry these fields (JSON format); empty values are left out. Inside a
    request's deferred fields, these are deferred too: merging them now would work those out."""
    kept, around = _kept(fields), _context.get()
    token = _context.set(_Deferred(around, lambda: kept) if isinstance(around, _Deferred) else {**around, **kept})
    try:
        yield
    finally:
        _context.reset(token)


class _Deferred(Mapping[str, str]):
    """Fields worked out the first time a line (or a nested context) reads them, over those around them."""

    def __init__(self, around: Mapping[str, str], compute: Callable[[], Mapping[str, str | None]]) -> None:
        self._around, self._compute = around, compute
        self._fields: Mapping[str, str] | None = None

    def _resolved(self) -> Mapping[str, str]:
        if self._fields is None:  # two threads may both compute it: the same fields, once kept
            self._fields = {**self._around, **_kept(self._compute())}
        return self._fields

    def __getitem__(self, key: str) -> str:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


def _kept(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if v and k in CONTEXT_FIELDS}


@contextmanager
def deferred_log_context(compute: Callable[[], Mapping[str, str | None]]) -> Iterator[None]:
    """As log_context(**compute()), with compute() called only when a line logged inside (or by the work
    handed on from inside) first needs its fields: a request whose handling logs nothing never pays it."""
    token = _context.set(_Deferred(_context.get(), compute))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, str]:
    return _context.get()

MASK = "***"
# slack_sdk's clients compare their own logger's level (not the level it inherits) with DEBUG before they
# format each request's whole body into a debug line: their loggers get the level themselves.
LIBRARY_LOGGERS = ("slack_sdk", "slack_sdk.web.base_client", "slack_sdk.webhook.client", "slack_bolt", "_granian",
                   "urllib3", "websocket", "websockets", "asyncio")
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
        self._redactor = Redactor(patterns, secrets, remembered=0)  # every line is new

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if len(text) > self.MAX_LINE_CHARS:
            text = text[: self.MAX_LINE_CHARS] + f" …({len(text) - self.MAX_LINE_CHARS} more characters)"
        return self._redactor.text(self._scrub(text))


class JsonFormatter(ScrubbingFormatter):
    """One JSON object per line; every text field is scrubbed before it is encoded."""

    def __init__(self, secrets: Iterable[str], patterns: Sequence[str] = ()) -> None:
        super().__init__("%(message)s", secrets, patterns)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._clean(record.getMessage()),
        }
        line.update(_context.get())
        if record.exc_info:
            line["error"] = self._clean(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))

    def _clean(self, text: str) -> str:
        if len(text) > self.MAX_LINE_CHARS:
            text = text[: self.MAX_LINE_CHARS] + f" …({len(text) - self.MAX_LINE_CHARS} more characters)"
        return self._redactor.text(self._scrub(text))


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    logging.getLogger("bot").critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    logging.getLogger("bot").error("uncaught %s in thread %s", args.exc_type.__name__,
                                   args.thread.name if args.thread else "?",
                                   exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))


def configure_logging(level: str, secrets: Iterable[str] = (), *, patterns: Sequence[str] = (),
                      debug_libraries: bool = False, json_lines: bool = False) -> None:
    """Every line through the scrubbing formatter (JSON lines when asked); warnings and uncaught
    exceptions, in any thread, go through it too instead of printing raw tracebacks."""
    handler = logging.StreamHandler(sys.stderr)
    secrets = tuple(secrets)
    handler.setFormatter(JsonFormatter(secrets, patterns) if json_lines else
                         ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets, patterns))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
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
