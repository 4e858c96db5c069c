"""The Bolt app: its middleware (replays, redelivered events) and listeners; listeners get the
`answers` service from the context. Built by bot/wiring.py."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.listener_matcher import ListenerMatcher
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from slack_bolt.logger import get_bolt_app_logger
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from ..config import Settings, secret
from ..logs import deferred_log_context
from ..state import Store
from .answers import Answers
from .listeners import register_listeners
from .once import Claim, SeenHere, pend, request_scope
from .payload import ID_CHARS, request_facts, text

log = logging.getLogger(__name__)
SIGNATURE_SECONDS = 600.0
EVENT_SECONDS = 3600.0  # Slack's retries come within minutes; a redelivery after a restart too


class _PayloadMatcher(ListenerMatcher):
    """Bolt's own test of a listener's kind (this command, an action id, an event type), handed the payload
    directly. Bolt's matcher hands its test the same payload through its argument injection, which works
    out every argument any listener could ask for (each payload shape parsed again) on each call: with
    every listener's test tried in turn, a fifth of the ack's time."""

    def __init__(self, test: Callable[[dict[str, Any]], bool]) -> None:
        self._test = test

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        return bool(self._test(req.body))


class QFlowApp(App):
    """Bolt's App, lighter on the ack path (every request pays it, a storm hundreds at once); every line
    logged while it handles a request, and by the work it hands on, names the request (team, user,
    channel, entry point, event id: LOG_FORMAT=json shows them)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        # The request's facts are read only if a line is logged: most acks log none.
        with deferred_log_context(functools.partial(request_facts, req.body)), request_scope():
            return super().dispatch(req)

    def _init_context(self, req: BoltRequest) -> None:
        """Bolt's request context, with the app's one WebClient instead of a new one per request. (Bolt
        makes one per request so that a listener may change its token without touching other requests;
        no listener here uses the context's client, and the one middleware that changes its token, for
        workflow functions' tokens, is off: build_app.) A client per request was a tenth of an ack."""
        req.context["logger"] = get_bolt_app_logger(app_name=self.name, base_logger=self._base_logger)
        req.context["token"] = self._token
        req.context["client"] = self._client
        req.context["listener_runner"] = self.listener_runner

    def _register_listener(self, functions: Sequence[Callable[..., BoltResponse | None]],
                           primary_matcher: ListenerMatcher, *args: Any, **kwargs: Any) -> Any:
        """Each listener registered as Bolt registers it, its kind tested by a _PayloadMatcher."""
        if type(primary_matcher) is BuiltinListenerMatcher and primary_matcher.arg_names == ["body"]:
            primary_matcher = _PayloadMatcher(primary_matcher.func)  # type: ignore[arg-type]
        return super()._register_listener(functions, primary_matcher, *args, **kwargs)


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
        # For workflow functions and AI assistant threads, which this app has none of: the first would
        # change the shared client's token (QFlowApp._init_context), each costs every request a step.
        attaching_function_token_enabled=False,
        attaching_conversation_kwargs_enabled=False,
        logger=logging.getLogger("slack_bolt.App"),  # a library logger: quiet at DEBUG (bot/logs.py)
    )


    app.use(_Gatekeeper(store, answers))

    @app.error
    def log_unhandled(error: Exception) -> None:
        log.exception("unhandled error in a listener", exc_info=error)

    register_listeners(app)
    return app
