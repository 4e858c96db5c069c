"""The one place that assembles the app: settings in, every object the app needs out, built once.

The running app, `doctor` and `preview` use these same builders, so what they check or show is what
the app does. Nothing else constructs a client, a cache, a pool, a scheduler or a Bolt app.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from slack_bolt import App
from slack_sdk import WebClient

from .audit import AuditLog
from .budget import RateBudget
from .cards import Cards
from .config import Settings, secret
from .fleet import FleetCache
from .links import LinkMatcher
from .lookup import LOOKUP_BUDGET_SECONDS, ExecutionLookups
from .metrics import Metrics
from .policy import Policy
from .qflow import (
    QFlowClient,
    RetryPolicy,
    ServiceAccountToken,
    StaticToken,
    TokenProvider,
    build_http_client,
)
from .qflow.auth import CallObserver, jwt_expiry
from .recent import RecentLookups
from .redact import Redactor
from .slack.access import Access
from .slack.answers import Answers
from .slack.app import build_app
from .slack.destinations import ResponseUrl
from .slack.follow import CardFollower
from .slack.home import HomeTab
from .slack.keepalive import KeptAliveWebClient
from .slack.observed import CountedWebClient
from .slack.retries import slack_retry_handlers
from .slack.subscriptions import Subscriptions
from .state import MemoryStore, Store
from .state.resilient import ResilientStore
from .work import SHUTDOWN_GRACE_SECONDS, WorkPool


def lookup_budget(settings: Settings) -> float:
    """What one lookup may spend on Qualys in all: 25 s, or one whole answer when that is longer."""
    return max(LOOKUP_BUDGET_SECONDS, settings.tuning.request_timeout)


def build_qflow_http(settings: Settings, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The HTTP client for the Qualys gateway (whole-answer deadlines, bounded pool)."""
    return build_http_client(settings.tuning.request_timeout, transport)


def build_token_provider(settings: Settings, http: httpx.Client, metrics: Metrics | None = None) -> TokenProvider:
    """The service token: a static JWT, or the service account's, renewed."""
    token = secret(settings.qualys.token)
    if token:
        return StaticToken(token)
    return ServiceAccountToken(settings.qualys_gateway_url or "", settings.qualys.username or "",
                               secret(settings.qualys.password) or "", http,
                               observe=metrics.qualys_call if metrics else None)


def build_qflow_client(settings: Settings, transport: httpx.BaseTransport | None = None,
                       metrics: Metrics | None = None, budget: RateBudget | None = None) -> QFlowClient:
    """A QFlowClient for the configured gateway and service token (its calls counted in `metrics`, their
    rate-limit headers read by `budget`)."""
    if not settings.qualys_gateway_url:
        raise ValueError("no Qualys gateway configured")
    http = build_qflow_http(settings, transport)
    return QFlowClient(
        settings.qualys_gateway_url,
        build_token_provider(settings, http, metrics),
        http,
        execution_method=settings.qualys.execution_method,
        retry=RetryPolicy(max_attempts=settings.tuning.max_attempts, total_budget=lookup_budget(settings)),
        answer_seconds=settings.tuning.request_timeout,
        observe=_observers(*(o for o in (metrics and metrics.qualys_call, budget and budget.observe) if o)),
    )


def _observers(*observers: CallObserver) -> CallObserver | None:
    """One call observer telling each of `observers`."""
    if not observers:
        return None

    def observe(*call: Any) -> None:
        for observer in observers:
            observer(*call)

    return observe


def build_lookups(settings: Settings, client: QFlowClient | None = None, metrics: Metrics | None = None,
                  budget: RateBudget | None = None, shared: Store | None = None) -> ExecutionLookups:
    """Cached, single-flight lookups bounded by the settings' memory and time budgets (and, with a
    `budget`, by a 429's wait, whichever replica got it)."""
    return ExecutionLookups(
        client or build_qflow_client(settings, metrics=metrics, budget=budget),
        finished_ttl=settings.tuning.cache_finished_seconds,
        running_ttl=settings.tuning.cache_running_seconds,
        budget=lookup_budget(settings),
        max_bytes=settings.tuning.cache_mb * 1024 * 1024,
        on_cache=metrics.cache if metrics else None,
        keep_running=settings.tuning.refresh_seconds,
        wait_left=budget.wait_left if budget else None,
        fleet=FleetCache(shared, wait_seconds=lookup_budget(settings)) if shared is not None else None,
        names_wait=settings.tuning.names_wait_seconds,
    )


def redactor_for(settings: Settings) -> Redactor:
    """The operator's patterns and the app's own secrets, masked wherever a card is rendered."""
    return Redactor(settings.tuning.redact_patterns, settings.secrets)


def build_cards(settings: Settings, lookups: ExecutionLookups | None, audit: AuditLog | None,
                remember: Callable[[str, str, str], None] | None = None) -> Cards:
    """The Slack-free card step (`lookups` None: nothing is looked up, as in `preview FILE`; `audit` None:
    nothing is audited, as in `preview`)."""
    return Cards(lookups, redactor=redactor_for(settings), audit=audit, open_url=settings.open_url,
                 open_is_run=settings.open_url_is_run, remember=remember)


def build_web_client(settings: Settings, token: str | None = None, metrics: Metrics | None = None) -> WebClient:
    """A Web API client for `SLACK_API_URL` that waits out 429s and retries 5xx, bounded (its failed
    calls counted in `metrics`)."""
    options: dict[str, Any] = {
        "token": token if token is not None else secret(settings.slack.bot_token),
        "base_url": settings.slack_api_url, "timeout": 10, "retry_handlers": slack_retry_handlers(),
    }
    return CountedWebClient(**options, on_error=metrics.slack_error) if metrics else KeptAliveWebClient(**options)


MEMORY_STATE = ":memory:"


def _require(client: QFlowClient | None) -> QFlowClient:
    if client is None:
        raise ValueError("no Qualys gateway configured")
    return client


def build_store(settings: Settings) -> ResilientStore:
    """The state store: Redis when REDIS_URL is set, else the SQLite file; either way, the process's
    memory stands in while it fails. Raises StateError for a file that cannot be used at all."""
    redis_url = secret(settings.state.redis_url)
    if redis_url:
        from .state.redis_store import RedisStore

        return ResilientStore(RedisStore(redis_url))
    if settings.state.state_file == MEMORY_STATE:
        return ResilientStore(MemoryStore())  # one process, nothing kept across restarts
    from .state.sqlite import SqliteStore

    return ResilientStore(SqliteStore(settings.state.state_file))


@dataclass
class Wired:
    """Everything the running app is made of."""

    settings: Settings
    metrics: Metrics
    store: Store
    subscriptions: Subscriptions
    lookups: ExecutionLookups
    cards: Cards
    web: WebClient
    access: Access
    pool: WorkPool
    follower: CardFollower
    answers: Answers
    bolt: App

    def health(self) -> dict[str, object]:
        """What /healthz adds to its status: where state is kept, and whether a stand-in holds it now."""
        return {"state": self.store.backend, "degraded": self.store.degraded}

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop following cards, finish every acknowledged request (within the grace period), then stop."""
        self.follower.stop()
        self.subscriptions.stop()
        self.pool.drain(SHUTDOWN_GRACE_SECONDS if wait else 0.0)
        self.store.close()


def build(settings: Settings, *, web: WebClient | None = None, lookups: ExecutionLookups | None = None,
          store: Store | None = None, clock: Callable[[], float] = time.time) -> Wired:
    """The whole app from its settings. Bolt checks the bot token (auth.test) here: an error means Slack
    did not accept it, and nothing is left running."""
    metrics = Metrics()
    store = store or build_store(settings)
    metrics.state(store)
    # Redis: a connection for each thread that may call at once, opened now rather than by a storm's first calls.
    store.warm_up(settings.tuning.workers + settings.tuning.http_threads + 2)
    # Each worker opens its state-file connection (or takes a Redis one) at start: opened by a storm's first
    # claims instead, the first of them took up to 23 ms, every other claim waiting behind it.
    pool = WorkPool(settings.tuning.workers, "qflow-lookup", prepare=lambda: store.get("warm", "up"))
    budget = RateBudget(store, settings.tuning.rate_reserve, defer=pool.submit)
    web = web or build_web_client(settings, metrics=metrics)
    # With Redis, every replica shares the execution cache and its single flight; so do the worker processes
    # of one host (WEB_CONCURRENCY) through the SQLite file. One process keeps it in memory only.
    qflow = build_qflow_client(settings, metrics=metrics, budget=budget) if settings.qualys_gateway_url else None
    shared = store if store.backend == "redis" or settings.tuning.web_concurrency > 1 else None
    lookups = lookups or build_lookups(settings, qflow, metrics=metrics, budget=budget, shared=shared)
    audit = AuditLog(settings.tuning.audit_log, counted=metrics.lookup)
    recent = RecentLookups(store, defer=pool.submit)
    cards = build_cards(settings, lookups, audit, remember=recent.add)
    access = Access(Policy(settings, home=None), web, audit=audit, contact=settings.policy.policy_contact)
    response_url = functools.partial(ResponseUrl, on_error=metrics.slack_error)
    follower = CardFollower(cards, pool.submit, store=store, client=web, response_url=response_url,
                            may_call=budget.background_allowed, watch_hours=settings.tuning.watch_max_hours,
                            refresh_seconds=settings.tuning.refresh_seconds,
                            refresh_max_minutes=settings.tuning.refresh_max_minutes, clock=clock)
    metrics.follow_count(lambda: len(follower.follows))
    subscriptions = Subscriptions(
        store=store, cards=cards, access=access, client=web, budget=budget,
        list_runs=lambda workflow, since: _require(qflow).list_executions(workflow, since=since),
        find_workflows=lambda name: _require(qflow).find_workflows(name),
        workflow_name=lambda workflow: lookups.workflow_name(workflow),
        poll_seconds=settings.tuning.subscription_poll_seconds, reserve=settings.tuning.rate_reserve,
        watch_load=lambda: follower.follows.slots.watch_count() / settings.tuning.refresh_seconds)
    static_token = secret(settings.qualys.token)
    home = HomeTab(client=web, recent=recent, follower=follower, subscriptions=subscriptions, budget=budget,
                   metrics=metrics, token_until=lambda: jwt_expiry(static_token) if static_token else None,
                   token_renewed=not static_token)
    answers = Answers(settings, client=web, cards=cards, follower=follower, access=access, pool=pool,
                      subscriptions=subscriptions, home=home,
                      matcher=LinkMatcher(settings.qualys_link_domains),
                      response_url=response_url)
    try:
        bolt = build_app(settings, answers, web, store)
    except Exception:
        follower.stop()
        subscriptions.stop()
        pool.drain(0.0)
        store.close()
        raise
    access.learn_installation()  # after Bolt's auth.test, which refuses a bad token with its own words
    return Wired(settings, metrics, store, subscriptions, lookups, cards, web, access, pool, follower, answers, bolt)
