"""The Bolt app: its middleware (replays, redelivered events) and listeners; listeners get the
`answers` service from the context. Built by bot/wiring.py."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from ..config import Settings, secret
from ..logs import log_context
from ..state import Store
from .answers import Answers
from .listeners import register_listeners
from .once import Claim, SeenHere, pend, request_scope
from .payload import ID_CHARS, request_facts, text

log = logging.getLogger(__name__)
SIGNATURE_SECONDS = 600.0
EVENT_SECONDS = 3600.0  # Slack's retries come within minutes; a redelivery after a restart too


class QFlowApp(App):
    """Bolt's App; every line logged while it handles a request, and by the work it hands on, names the
    request (team, user, channel, entry point, event id: LOG_FORMAT=json shows them)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        with log_context(**request_facts(req.body)), request_scope():
            return super().dispatch(req)


class _Gatekeeper(Middleware):
    """Replays and redelivered events stopped, and the `answers` service handed to the listeners. A
    class, so Bolt calls it directly: a function middleware costs a build of every listener argument
    (each payload shape parsed) per request, on the ack path. The ack asks only this process's memory;
    the request's work claims it in the store before it starts (bot/slack/once.py)."""

    def __init__(self, store: Store, answers: Answers) -> None:
        self._store = store
        self._answers = answers
        self._seen = SeenHere()

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse | None]) -> BoltResponse | None:
        body = req.body
        if body.get("type") == "event_callback":
            # Slack redelivers an event it thinks was lost; Bolt does not deduplicate, so an event_id
            # already handled is acknowledged and dropped here: nothing unfurls or answers twice.
            # (Events are left out of the replay check: Slack's own retry may repeat a signature.)
            event_id = text(body, "event_id", limit=ID_CHARS)
            if not event_id:
                return self._handled(req, next, None)
            key, ttl = f"event:{event_id}", EVENT_SECONDS
            refused = functools.partial(log.info, "dropping a redelivered event %s", event_id)
            if not self._seen.first(key, ttl):
                refused()
                return BoltResponse(status=200, body="")
        else:
            # A signed request captured and sent again verifies fine; the same signature twice is a replay.
            signature = _header(req, "x-slack-signature")
            timestamp = _header(req, "x-slack-request-timestamp")
            if not signature:
                return self._handled(req, next, None)
            # The signature check refuses timestamps older than 5 minutes: 10 minutes of signatures are enough.
            key, ttl = f"signature:{timestamp}:{signature}", SIGNATURE_SECONDS
            refused = functools.partial(log.warning, "refused a replayed request")
            if not self._seen.first(key, ttl):
                refused()
                return BoltResponse(status=401, body="replayed request")
        return self._handled(req, next, Claim(self._store, key, ttl, refused))

    def _handled(self, req: BoltRequest, next: Callable[[], BoltResponse | None],
                 claim: Claim | None) -> BoltResponse | None:
        req.context["answers"] = self._answers
        if claim is not None:
            pend(claim)  # Bolt runs the listeners after the middleware returns, in QFlowApp.dispatch's scope
        return next()


def _header(req: BoltRequest, name: str) -> str | None:
    return next(iter(req.headers.get(name) or []), None)


def build_app(settings: Settings, answers: Answers, client: WebClient, store: Store) -> App:
    """The Bolt app with every listener registered. Checks the bot token with auth.test. Handled event ids
    and request signatures are claimed in `store`: shared by replicas, kept across restarts."""
    app = QFlowApp(
        client=client,
        signing_secret=secret(settings.slack.signing_secret) or "",
        # Over HTTP the signature is checked before Bolt sees the request (make_wsgi_app, which refuses to
        # serve Bolt without the secret), before any parse: Bolt checking it again would only cost the ack.
        request_verification_enabled=False,
        # Listeners only ack and hand work to the Answers pool, so acks never wait on Qualys.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt.App"),  # a library logger: quiet at DEBUG (bot/logs.py)
    )


    app.use(_Gatekeeper(store, answers))

    @app.error
    def log_unhandled(error: Exception) -> None:
        log.exception("unhandled error in a listener", exc_info=error)

    register_listeners(app)
    return app
