"""The Bolt app: its middleware (replays, redelivered events) and listeners; listeners get the
`answers` service from the context. Built by bot/wiring.py."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient

from ..config import Settings, secret
from ..logs import log_context
from ..state import Store
from .answers import Answers
from .listeners import register_listeners
from .payload import ID_CHARS, request_facts, text

log = logging.getLogger(__name__)
SIGNATURE_SECONDS = 600.0
EVENT_SECONDS = 3600.0  # Slack's retries come within minutes; a redelivery after a restart too


class QFlowApp(App):
    """Bolt's App; every line logged while it handles a request, and by the work it hands on, names the
    request (team, user, channel, entry point, event id: LOG_FORMAT=json shows them)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        with log_context(**request_facts(req.body)):
            return super().dispatch(req)


def build_app(settings: Settings, answers: Answers, client: WebClient, store: Store) -> App:
    """The Bolt app with every listener registered. Checks the bot token with auth.test. Handled event ids
    and request signatures are claimed in `store`: shared by replicas, kept across restarts."""
    app = QFlowApp(
        client=client,
        signing_secret=secret(settings.slack.signing_secret) or "",
        request_verification_enabled=settings.mode == "http",
        # Listeners only ack and hand work to the Answers pool, so acks never wait on Qualys.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt.App"),  # a library logger: quiet at DEBUG (bot/logs.py)
    )


    @app.middleware
    def refuse_replays(request: BoltRequest, body: dict[str, Any], next_: Any) -> BoltResponse | None:
        # A signed request captured and sent again verifies fine; the same signature twice is a replay.
        # Events are left to the event_id check below: Slack's own retry may repeat a signature.
        if body.get("type") == "event_callback":
            next_()
            return None
        signature = next(iter(request.headers.get("x-slack-signature") or []), None)
        timestamp = next(iter(request.headers.get("x-slack-request-timestamp") or []), None)
        # Bolt refuses timestamps older than 5 minutes: 10 minutes of signatures are enough.
        if signature and not store.claim(f"signature:{timestamp}:{signature}", SIGNATURE_SECONDS):
            log.warning("refused a replayed request")
            return BoltResponse(status=401, body="replayed request")
        next_()
        return None

    @app.middleware
    def drop_retried_events(body: dict[str, Any], next_: Any) -> BoltResponse | None:
        # Slack redelivers an event it thinks was lost; Bolt does not deduplicate, so an event_id
        # already handled is acknowledged and dropped here: nothing unfurls or answers twice.
        event_id = text(body, "event_id", limit=ID_CHARS) if body.get("type") == "event_callback" else None
        if event_id and not store.claim(f"event:{event_id}", EVENT_SECONDS):
            log.info("dropping a redelivered event %s", event_id)
            return BoltResponse(status=200, body="")
        next_()
        return None

    @app.middleware
    def provide_answers(context: BoltContext, next_: Any) -> None:
        context["answers"] = answers
        next_()

    @app.error
    def log_unhandled(error: Exception) -> None:
        log.exception("unhandled error in a listener", exc_info=error)

    register_listeners(app)
    return app
