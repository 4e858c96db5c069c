"""Building the QFlow side from Settings (kept out of the client, which takes plain values)."""

from __future__ import annotations

import httpx

from .config import Settings
from .lookup import LOOKUP_BUDGET_SECONDS, ExecutionLookups
from .qflow import (
    QFlowClient,
    RetryPolicy,
    ServiceAccountToken,
    StaticToken,
    TokenProvider,
    build_http_client,
)
from .redact import Redactor


def build_qflow_client(settings: Settings, transport: httpx.BaseTransport | None = None) -> QFlowClient:
    """A QFlowClient for the configured gateway and service token."""
    if not settings.qualys_gateway_url:
        raise ValueError("no Qualys gateway configured")
    http = build_http_client(settings.request_timeout, transport)
    tokens: TokenProvider
    if settings.qualys_token:
        tokens = StaticToken(settings.qualys_token)
    else:
        tokens = ServiceAccountToken(
            settings.qualys_gateway_url, settings.qualys_username or "", settings.qualys_password or "", http
        )
    return QFlowClient(
        settings.qualys_gateway_url,
        tokens,
        http,
        execution_method=settings.execution_method,
        retry=RetryPolicy(max_attempts=settings.max_attempts, total_budget=lookup_budget(settings)),
        answer_seconds=settings.request_timeout,
    )


def lookup_budget(settings: Settings) -> float:
    """What one lookup may spend on Qualys in all: 25 s, or one whole answer when that is longer."""
    return max(LOOKUP_BUDGET_SECONDS, settings.request_timeout)


def redactor_for(settings: Settings) -> Redactor:
    """The operator's patterns and the app's own secrets, masked wherever a card is rendered."""
    return Redactor(settings.redact_patterns, settings.secrets)


def build_lookups(settings: Settings, client: QFlowClient | None = None) -> ExecutionLookups:
    return ExecutionLookups(
        client or build_qflow_client(settings),
        finished_ttl=settings.cache_finished_seconds,
        running_ttl=settings.cache_running_seconds,
        budget=lookup_budget(settings),
        max_bytes=settings.cache_mb * 1024 * 1024,
    )
