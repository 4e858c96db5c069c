"""What the app counts, for `GET /metrics` (Prometheus text format, the prometheus-client library).

Every label takes a value from a small set the app itself names (entry points, outcomes, endpoints,
Slack method names, Slack error codes of a known shape): never a user, channel, team or execution id,
never text from a request. Each running app has its own registry, so tests and tools never share one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .qflow.retry import header_count

_LABEL_WORD = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_SLACK_METHOD = re.compile(r"^[a-z]+(?:\.[a-z][A-Za-z]*){1,3}$|^response_url$")
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
QUALYS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0)


def label_word(value: object) -> str:
    """`value` when it is a plain lower-case word (a Slack method or error code, an outcome), else "other":
    a label can never carry an id or text someone sent."""
    return value if isinstance(value, str) and _LABEL_WORD.match(value) else "other"


def method_word(value: object) -> str:
    """A Slack Web API method name ("chat.postMessage") as a label, else "other"."""
    return value if isinstance(value, str) and len(value) <= 48 and _SLACK_METHOD.match(value) else "other"


class StoreLike(Protocol):
    backend: str

    @property
    def degraded(self) -> bool: ...


class Metrics:
    """The app's counters, gauges and histograms, in one registry."""

    def __init__(self) -> None:
        disable_created_metrics()  # no `_created` series beside each counter: half the scrape, no use here
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(namespace="qflow", registry=r)
        self._lookups = Counter("qflow_lookups", "Requests answered, by entry point and outcome "
                                "(card, not_found, denied, timeout…)", ["entry", "outcome"], registry=r)
        self._qualys = Counter("qflow_qualys_requests", "HTTP calls to the Qualys gateway, by endpoint and outcome",
                               ["endpoint", "outcome"], registry=r)
        self._qualys_seconds = Histogram("qflow_qualys_request_seconds", "Time of one call to the Qualys gateway "
                                         "(connect to the last byte)", ["endpoint"], buckets=QUALYS_BUCKETS, registry=r)
        self._cache = Counter("qflow_cache_lookups", "Execution lookups answered from the cache (hit) or "
                              "by Qualys (miss)", ["result"], registry=r)
        self._remaining = Gauge("qflow_qualys_ratelimit_remaining", "The last X-RateLimit-Remaining Qualys sent",
                                registry=r)
        self._limit = Gauge("qflow_qualys_ratelimit_limit", "The last X-RateLimit-Limit Qualys sent", registry=r)
        self._followed = Gauge("qflow_followed_cards", "Cards of running executions being kept current", registry=r)
        self._slack_errors = Counter("qflow_slack_api_errors", "Slack Web API calls that failed, by method and "
                                     "error", ["method", "error"], registry=r)
        self._acks = Histogram("qflow_ack_seconds", "Time from receiving a Slack request to acknowledging it",
                               ["mode"], buckets=ACK_BUCKETS, registry=r)
        for name in ("hit", "miss"):
            self._cache.labels(name)
        # Observed on every request's ack path: the series looked up once, not per request.
        self._ack_modes = {mode: self._acks.labels(mode) for mode in ("http", "socket")}
        self.last_qualys: tuple[str, float] | None = None  # the last call's outcome and when (App Home)

    # --- what the parts of the app report ---------------------------------

    def lookup(self, entry: str, outcome: str) -> None:
        """One request answered (the audit log's entry point and outcome)."""
        self._lookups.labels(label_word(entry), label_word(outcome)).inc()

    def qualys_call(self, endpoint: str, outcome: str, seconds: float, headers: Mapping[str, str] | None) -> None:
        """One HTTP call to Qualys, and the rate-limit headers of its answer (when it got one)."""
        self._qualys.labels(label_word(endpoint), label_word(outcome)).inc()
        self.last_qualys = (outcome, time.time())
        self._qualys_seconds.labels(label_word(endpoint)).observe(max(0.0, seconds))
        if headers is not None:
            remaining, limit = header_count(headers, "x-ratelimit-remaining"), header_count(headers, "x-ratelimit-limit")
            if remaining is not None:
                self._remaining.set(remaining)
            if limit is not None:
                self._limit.set(limit)

    def cache(self, hit: bool) -> None:
        self._cache.labels("hit" if hit else "miss").inc()

    def slack_error(self, method: str, error: str) -> None:
        """A Slack Web API call (or a response_url post) that failed."""
        self._slack_errors.labels(method_word(method), label_word(error)).inc()

    def ack(self, mode: str, seconds: float) -> None:
        series = self._ack_modes.get(mode) or self._acks.labels(label_word(mode))
        series.observe(max(0.0, seconds))

    def state(self, store: StoreLike) -> None:
        """The state store's backend and whether it stands in for a failed one, read at each scrape."""
        Gauge("qflow_state_degraded", "1 while the state store (Redis, or the SQLite file) fails and the "
              "process's memory stands in", ["backend"], registry=self.registry).labels(
            label_word(store.backend)).set_function(lambda: 1.0 if store.degraded else 0.0)

    def follow_count(self, count: Callable[[], int]) -> None:
        """Where the number of followed cards is read at each scrape."""
        self._followed.set_function(count)

    # --- the scrape ---------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The text format body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
