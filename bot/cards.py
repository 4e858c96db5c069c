"""The card step, without Slack: lookup → redact → render → audit. It says what to show for a
request (a card, or an error that says what to do); where it goes is the Slack layer's business."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from .audit import AuditLog, outcome_of
from .cache import SingleFlightCache
from .logs import log_context
from .lookup import ExecutionLookups, Lookup
from .policy import Asker
from .qflow import Execution, QFlowError
from .redact import Redactor
from .render import CardState, SlackMessage, render_execution_card, render_lookup_error
from .render.messages import with_shared_by

log = logging.getLogger(__name__)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")

Note = Callable[[Execution], str | None]
# Rendered cards kept for reuse: in a storm hundreds of people are shown the same few executions.
RENDERED_CARDS = 256
RENDERED_SECONDS = 3600.0  # and for at most an hour (a finished run's fetch is kept that long)
OpenUrl = Callable[[str, str | None], str | None]


class Cards:
    """Execution cards for requests, through the cached lookups; every request is audited."""

    def __init__(self, lookups: ExecutionLookups | None, *, redactor: Redactor, audit: AuditLog | None,
                 open_url: OpenUrl, open_is_run: bool = False,
                 remember: Callable[[str, str, str], None] | None = None) -> None:
        self._lookups = lookups
        self._redactor = redactor
        self._audit = audit
        self._open_url = open_url
        self._open_is_run = open_is_run
        self._remember = remember  # (user, execution id, outcome): each person's recent lookups
        self._rendered: SingleFlightCache[tuple[Any, ...], tuple[Execution, SlackMessage]] = SingleFlightCache(
            RENDERED_CARDS, lambda _: RENDERED_SECONDS)

    def card(self, state: CardState, *, fresh: bool = False, note: Note | None = None,
             shared_by: str | None = None, asker: Asker | None = None,
             names_later: bool = False) -> tuple[SlackMessage, Lookup | None]:
        """The card for `state` (and its lookup), or an error message and None; never raises.
        With an `asker`, the request is written to the audit log. `names_later`: see ExecutionLookups.get."""
        started = time.perf_counter()
        lookup: Lookup | None = None
        failure: BaseException | None = None
        with log_context(execution_id=state.execution_id):
            try:
                lookup = self.lookup(state.execution_id, fresh=fresh, names_later=names_later)
                message = self.render(lookup, state, note(lookup.execution) if note else None)
            except QFlowError as error:
                log.info("lookup of %s failed: %s", state.execution_id, type(error).__name__)
                failure, message = error, render_lookup_error(error, state, redactor=self._redactor)
            except Exception as error:
                reference = uuid.uuid4().hex[:12]
                log.exception("lookup of %s crashed (reference %s)", state.execution_id, reference)
                failure, message = error, render_lookup_error(RuntimeError(), state, reference=reference)
        if asker and asker.user and self._remember:
            try:
                self._remember(asker.user, state.execution_id, outcome_of(failure))
            except Exception:
                log.info("could not remember a recent lookup")
        if asker and self._audit:
            self._audit.record(
                entry=asker.entry, user=asker.user, channel=asker.channel, execution_id=state.execution_id,
                outcome=outcome_of(failure), cache_hit=lookup.cache_hit if lookup else None,
                upstream_ms=None if lookup and lookup.cache_hit else (time.perf_counter() - started) * 1000,
            )
        if failure is not None:
            return message, None
        if shared_by and _USER_ID.match(shared_by):
            message = with_shared_by(message, shared_by)
        return message, lookup

    def lookup(self, execution_id: str, *, fresh: bool = False, max_age: float | None = None,
               names_later: bool = False) -> Lookup:
        """The execution (through the single-flight cache; `fresh` asks Qualys again, `max_age` accepts an
        older running one); raises QFlowError."""
        if self._lookups is None:
            raise RuntimeError("these cards look nothing up")
        return self._lookups.get(execution_id, fresh=fresh, max_age=max_age, names_later=names_later)

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def render(self, lookup: Lookup, state: CardState, note: str | None = None) -> SlackMessage:
        """The card for a lookup already made. Rendering is pure, so the card of the very execution object
        the cache holds (same fetch, same view, same note) is rendered once and reused (messages are
        never changed once made); people shown it at the same moment (a storm's first answers, all ready
        when Qualys answers) share that one render."""
        open_url = self._open_url(state.execution_id, lookup.execution.workflow)

        def make() -> tuple[Execution, SlackMessage]:
            return lookup.execution, render_execution_card(
                lookup.execution, state, fetched_at=lookup.fetched_at, note=note, redactor=self._redactor,
                open_url=open_url, open_is_run=self._open_is_run)

        (execution, message), _ = self._rendered.get((state, lookup.fetched_at, note, open_url), make,
                                                     usable=lambda kept: kept[0] is lookup.execution)
        return message if execution is lookup.execution else make()[1]  # shared another object's render

    def record(self, *, entry: str, user: str | None, channel: str | None, outcome: str,
               execution_id: str | None = None) -> None:
        """An audit line for a request answered without a lookup (help, usage, denied, no ids…)."""
        if self._audit:
            self._audit.record(entry=entry, user=user, channel=channel, outcome=outcome,
                               execution_id=execution_id)
