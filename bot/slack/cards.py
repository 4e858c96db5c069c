"""Turns Slack requests into answers: lookups run off the request thread, and every
request ends in exactly one message (a card or an error that says what to do)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from ..config import Settings
from ..lookup import ExecutionLookups
from ..qflow import QFlowError
from ..render import (
    BadButtonValue,
    CardState,
    SlackMessage,
    parse_state,
    render_execution_card,
    render_lookup_error,
)
from ..render.card import HIDE, NEXT, OPEN, PREVIOUS, REFRESH, SHARE, SHOW_ERRORS, SHOW_STEPS, md
from ..render.text import code

log = logging.getLogger(__name__)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")

Send = Callable[[SlackMessage], None]


def response_url_sender(url: str, **options: Any) -> Send:
    """Posts a message to a `response_url`, retrying Slack's 429s, 5xx and dropped connections."""
    client = WebhookClient(
        url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )

    def send(message: SlackMessage) -> None:
        response = client.send(text=message.text, blocks=message.blocks or None, **options)
        if response.status_code != 200:
            log.warning("response_url answered %s: %s", response.status_code, response.body[:200])

    return send


class CardService:
    """Looks executions up and answers with cards, on a bounded pool of workers."""

    def __init__(self, settings: Settings, lookups: ExecutionLookups) -> None:
        self._settings = settings
        self._lookups = lookups
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="qflow-lookup")

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    # --- entry points (called from listeners, after ack) -----------------------

    def answer_lookup(self, state: CardState, send: Send, *, fresh: bool = False) -> None:
        """Look `state.execution_id` up in the background and `send` the card or an error."""
        self._pool.submit(self._answer, state, send, fresh)

    def answer_click(self, action_id: str, value: str | None, response_url: str, user_id: str | None) -> None:
        """A button on a card: re-render in place, refresh, or share with the channel."""
        if action_id == OPEN:
            return
        try:
            state = parse_state(value)
        except BadButtonValue:
            send = response_url_sender(response_url, response_type="ephemeral", replace_original=False)
            self._pool.submit(self._answer_with, stale_button(), send, None)
            return
        if action_id == SHARE:
            self._pool.submit(self._share, state, response_url, user_id)
            return
        if action_id not in (SHOW_STEPS, SHOW_ERRORS, HIDE, PREVIOUS, NEXT, REFRESH):
            log.info("ignoring unknown action %s", action_id[:60])
            return
        send = response_url_sender(response_url, replace_original=True)
        self._pool.submit(self._answer, state, send, action_id == REFRESH)

    # --- work --------------------------------------------------------------------

    def card(self, state: CardState, *, fresh: bool = False, shared_by: str | None = None) -> SlackMessage:
        """The card for `state`, or an error message; never raises."""
        return self._card(state, fresh=fresh, shared_by=shared_by)[0]

    def _card(self, state: CardState, *, fresh: bool = False, shared_by: str | None = None) -> tuple[SlackMessage, bool]:
        try:
            lookup = self._lookups.get(state.execution_id, fresh=fresh)
            message = render_execution_card(
                lookup.execution,
                state,
                fetched_at=lookup.fetched_at,
                open_url=self._settings.open_url(state.execution_id, lookup.execution.workflow),
            )
        except QFlowError as error:
            log.info("lookup of %s failed: %s", state.execution_id, type(error).__name__)
            return render_lookup_error(error, state), False
        except Exception:
            reference = uuid.uuid4().hex[:12]
            log.exception("lookup of %s crashed (reference %s)", state.execution_id, reference)
            return render_lookup_error(RuntimeError(), state, reference=reference), False
        if shared_by and _USER_ID.match(shared_by):
            message = SlackMessage(message.text, message.blocks + [
                {"type": "context", "elements": [md(f"Shared by <@{shared_by}>").to_dict()]}
            ])
        return message, True

    def _answer(self, state: CardState, send: Send, fresh: bool) -> None:
        self._answer_with(self.card(state, fresh=fresh), send, state)

    def _answer_with(self, message: SlackMessage, send: Send, state: CardState | None) -> None:
        try:
            send(message)
        except Exception:
            log.exception("could not deliver the answer for %s", state.execution_id if state else "a click")

    def _share(self, state: CardState, response_url: str, user_id: str | None) -> None:
        public = CardState(state.execution_id, state.view, state.page, private=False)
        message, ok = self._card(public, shared_by=user_id)
        if not ok:  # an error is for the asker, not the channel
            self._answer_with(message, response_url_sender(response_url, replace_original=True), state)
            return
        try:
            response_url_sender(response_url, response_type="in_channel", replace_original=False)(message)
            # The private copy has done its job; leave only the shared one.
            response_url_sender(response_url, delete_original=True)(SlackMessage(text="Shared"))
        except Exception:
            log.exception("could not share %s", state.execution_id)


def looking_up(state: CardState) -> SlackMessage:
    """The instant acknowledgement shown while the lookup runs."""
    text = f"⏳ Looking up execution {code(state.execution_id, 40)}…"
    return SlackMessage(text, [{"type": "context", "elements": [md(text).to_dict()]}])


def stale_button() -> SlackMessage:
    """A click whose value is not one of ours (forged, or from an old version of the app)."""
    text = "⚠️ That button isn't one I can read (it may be from an older card). Run `/qflow execution <id>` again."
    text = text.replace("<id>", "&lt;id&gt;")
    return SlackMessage(text, [{"type": "section", "text": md(text).to_dict()}])
