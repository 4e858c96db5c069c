"""The Bolt app: one per process, built from Settings; listeners get `qflow` from the context."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from ..config import Settings
from .cards import CardService
from .listeners import register_listeners

log = logging.getLogger(__name__)


def build_web_client(settings: Settings) -> WebClient:
    """A Web API client for `SLACK_API_URL` that waits out 429s and retries 5xx, bounded."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(settings: Settings, cards: CardService, client: WebClient | None = None) -> App:
    """The Bolt app with every listener registered. Checks the bot token with auth.test."""
    app = App(
        client=client or build_web_client(settings),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=settings.mode == "http",
        # Listeners only ack and hand work to the CardService pool, so acks never wait on Qualys.
        process_before_response=True,
        logger=logging.getLogger("bot.slack.bolt"),
    )

    @app.middleware
    def provide_card_service(context: BoltContext, next: Any) -> None:  # noqa: A002 - Bolt's name
        context["qflow"] = cards
        next()

    @app.error
    def log_unhandled(error: Exception) -> None:
        log.exception("unhandled error in a listener", exc_info=error)

    register_listeners(app)
    return app
