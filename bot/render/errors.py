"""What each QFlow error means to people, in one table: the user's words, the admin's advice in
`doctor`, and whether the card offers Try again. (The audit outcome and whether the client retries
are attributes of the error classes, in `qflow/errors.py`.) A new error is one row here."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..qflow import errors as qflow_errors
from ..redact import Redactor
from .text import safe


@dataclass(frozen=True)
class ErrorWords:
    """`user(error, eid, redactor)`: the card's text (`eid` already as inline code);
    `admin(error, gateway)`: doctor's advice; `try_again`: the card has a Try again button."""

    user: Callable[[Any, str, Redactor], str]
    admin: Callable[[Any, str], str]
    try_again: bool = False


def wait_words(seconds: float) -> str:
    """`40 s`, `3 min`, `an hour`: a wait in words, whatever number it was given."""
    if math.isnan(seconds) or seconds >= 3600:  # NaN or an hour and more
        return "an hour"
    seconds = max(1, math.ceil(seconds))
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


def _rate_limited(e: qflow_errors.RateLimited, eid: str, _: Redactor) -> str:
    wait = f" in about {wait_words(e.retry_after)}" if e.retry_after else " in a minute"
    return (f"⏳ The Qualys API is busy (this subscription's rate limit is used up), so I couldn't look up "
            f"{eid} yet. Try again{wait}.")


def _unreachable_admin(e: qflow_errors.QFlowError, gateway: str) -> str:
    why = "it did not answer in time" if isinstance(e, qflow_errors.QFlowTimeout) else "the connection failed"
    cause = f", {type(e.__cause__).__name__}" if e.__cause__ else ""
    return f"could not reach {gateway} ({why}{cause}): check QUALYS_BASE_URL/QUALYS_PLATFORM and the network"


ERROR_WORDS: dict[type[BaseException], ErrorWords] = {
    qflow_errors.Unauthorized: ErrorWords(
        lambda e, eid, r: "🔒 Qualys refused this app's service token, so I couldn't look up "
        f"{eid}. This isn't something you did: ask the app's admin to renew the QFlow service token "
        "(`QUALYS_TOKEN`, or the service account behind `QUALYS_USERNAME`) and run `qflow-bot doctor`.",
        lambda e, gw: "the service token was refused (401): renew QUALYS_TOKEN, or check the service account"),
    qflow_errors.AuthenticationFailed: ErrorWords(
        lambda e, eid, r: "🔒 The app's Qualys service account could not log in "
        f"(HTTP {e.status_code}), so I couldn't look up {eid}. This isn't something you did: "
        "ask the app's admin to check `QUALYS_USERNAME` and `QUALYS_PASSWORD` and run `qflow-bot doctor`.",
        lambda e, gw: f"the service account could not log in (HTTP {e.status_code}): check QUALYS_USERNAME and "
        "QUALYS_PASSWORD"),
    qflow_errors.Forbidden: ErrorWords(
        lambda e, eid, r: f"🚫 The app's Qualys service account isn't allowed to read {eid}. It needs one of the "
        "QFlow permissions *LIST ALL*, *LIST WF BY TAGS* or *LIST MY* (and, for LIST WF BY TAGS, the "
        "workflow's tags): ask your Qualys admin to grant one.",
        lambda e, gw: "the service account lacks a QFlow permission: grant one of LIST ALL, LIST WF BY TAGS, LIST MY"),
    qflow_errors.ExecutionNotFound: ErrorWords(
        lambda e, eid, r: f"🔍 No execution {eid} was found. Check the id; note that the QFlow API only returns "
        "executions from the last 30 days, so an older run is not available here.",
        lambda e, gw: "the execution was not found (or is older than 30 days); the token works"),
    qflow_errors.RateLimited: ErrorWords(_rate_limited, lambda e, gw: "the API rate limit is used up right now: try again later",
                            try_again=True),
    qflow_errors.QFlowTimeout: ErrorWords(
        lambda e, eid, r: f"⌛ Qualys didn't answer in time while I looked up {eid}, even after retrying. "
        "Try again in a minute.", _unreachable_admin, try_again=True),
    qflow_errors.QFlowConnectionError: ErrorWords(
        lambda e, eid, r: f"🔌 I couldn't reach Qualys to look up {eid}, even after retrying. Try again in a minute; "
        "if it keeps happening, ask the app's admin to check `QUALYS_BASE_URL`/`QUALYS_PLATFORM`.",
        _unreachable_admin, try_again=True),
    qflow_errors.ServerError: ErrorWords(
        lambda e, eid, r: f"⚠️ Qualys had a problem answering for {eid} (HTTP {e.status_code}), even after "
        "retrying. Try again in a minute.",
        lambda e, gw: f"the executions API failed: {e}", try_again=True),
    qflow_errors.InvalidResponse: ErrorWords(
        lambda e, eid, r: f"⚠️ Qualys answered for {eid} with something that isn't the expected JSON "
        f"({safe(r.text(e.detail[:200]), 80)}). This usually means a proxy or a wrong gateway URL: try again, "
        "and if it keeps happening ask the app's admin to check `QUALYS_BASE_URL`.",
        lambda e, gw: f"{gw} did not answer like the QFlow API ({e.detail}): check QUALYS_BASE_URL is the API "
        "gateway, not the web UI", try_again=True),
    qflow_errors.QFlowStatusError: ErrorWords(
        lambda e, eid, r: f"⚠️ Qualys refused the lookup of {eid} (HTTP {e.status_code}).",
        lambda e, gw: f"the executions API failed: {e}"),
    qflow_errors.QFlowError: ErrorWords(
        lambda e, eid, r: f"⚠️ The lookup of {eid} failed: {safe(r.text(str(e)[:400]), 200)}.",
        lambda e, gw: f"the executions API failed: {e}"),
    BaseException: ErrorWords(
        lambda e, eid, r: f"⚠️ Something went wrong while I looked up {eid}. It has been logged; try again.",
        lambda e, gw: f"the check failed: {type(e).__name__}", try_again=True),
}


def words_for(error: BaseException) -> ErrorWords:
    """The row of the most specific class of `error` in the table."""
    return next(ERROR_WORDS[kind] for kind in type(error).__mro__ if kind in ERROR_WORDS)


__all__ = ["ERROR_WORDS", "ErrorWords", "wait_words", "words_for"]
