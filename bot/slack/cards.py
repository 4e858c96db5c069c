"""Turns Slack requests into answers: lookups run off the request thread, every request ends
in exactly one answer (a card or an error that says what to do), and cards of running
executions follow them until they finish."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..audit import AuditLog, outcome_of
from ..config import Settings
from ..links import Found, LinkMatcher, without_mentions
from ..lookup import ExecutionLookups, Lookup
from ..policy import CANNOT_CHECK, Asker, Policy
from ..qflow import Execution, QFlowError
from ..render import (
    BadButtonValue,
    CardState,
    SlackMessage,
    parse_state,
    render_execution_card,
    render_lookup_error,
)
from ..render.blocks import HIDE, NEXT, OPEN, PREVIOUS, REFRESH, SHARE, SHOW_ERRORS, SHOW_STEPS
from ..render.messages import render_found_nothing, render_too_many, stale_button, with_shared_by
from ..render.refusals import render_denial, render_post_refused
from ..services import redactor_for
from ..work import SHUTDOWN_GRACE_SECONDS, WorkPool
from .access import Access
from .destinations import ChannelMessage, Destination, ResponseUrl, Unfurl
from .follow import Follow, Follows
from .payload import items, slack_id, text

log = logging.getLogger(__name__)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
RESPONSE_URL_LIFETIME = 29 * 60.0  # Slack honours a response_url for 30 minutes
COMPOSER = "COMPOSER"  # the channel Slack names for a link still being typed
VIEW_ACTIONS = frozenset({SHOW_STEPS, SHOW_ERRORS, HIDE, PREVIOUS, NEXT, REFRESH})


def ephemeral_key(channel: str | None, user: str | None, execution_id: str) -> str:
    """Names a private answer, which has no ts we can know: one per user, channel and execution."""
    return f"eph:{channel}:{user}:{execution_id}"


class CardService:
    """Looks executions up and answers with cards, on a bounded pool of workers."""

    def __init__(self, settings: Settings, lookups: ExecutionLookups, client: WebClient | None = None,
                 *, clock: Callable[[], float] = time.monotonic, audit: AuditLog | None = None) -> None:
        self._settings = settings
        self._lookups = lookups
        self._client: WebClient | None = None
        self.access: Access | None = None
        self._clock = clock
        self.matcher = LinkMatcher(settings.qualys_link_domains)
        self.redactor = redactor_for(settings)
        self.audit = audit or AuditLog(settings.audit_log)
        if client is not None:
            self.attach_client(client)
        self._pool = WorkPool(settings.workers, "qflow-lookup")
        self.follows = Follows(self._follow_tick, self._submit, settings.refresh_seconds, clock=clock)

    def attach_client(self, client: WebClient) -> None:
        self._client = client
        self.access = Access(Policy(self._settings, home_team=None), client)

    def shutdown(self, wait: bool = True) -> None:
        """Stop following cards, finish every acknowledged request (within the grace period), then stop."""
        self.follows.stop()
        self._pool.drain(SHUTDOWN_GRACE_SECONDS if wait else 0.0)

    def _submit(self, job: Callable[..., Any], *args: Any) -> None:
        self._pool.submit(job, *args)

    @property
    def client(self) -> WebClient:
        assert self._client is not None, "attach_client() first"
        return self._client

    # --- entry points (called from listeners, after ack) -----------------------

    def answer_command(self, state: CardState, response_url: str, asker: Asker) -> None:
        """The slash command's card, privately, replacing the "Looking up…" ack."""
        key = ephemeral_key(asker.channel, asker.user, state.execution_id)
        destination = ResponseUrl(response_url, key=key, response_type="ephemeral", replace_original=True)

        def answer() -> None:
            if self.allowed(asker, [state.execution_id], destination.send):
                self.deliver(state, destination, follow=True, asker=asker)

        self._submit(answer)

    def answer_unfurl(self, event: Mapping[str, Any], shared: bool | None = None) -> None:
        """Cards for the execution links in a `link_shared` event, at most `max_cards`."""
        self._submit(self._answer_unfurl, event, shared)

    def _answer_unfurl(self, event: Mapping[str, Any], shared: bool | None) -> None:
        found: list[tuple[str, str]] = []
        for link in items(event, "links"):
            url = text(link, "url") or ""
            execution_id = self.matcher.execution_in_link(url)
            if execution_id and all(url != seen for seen, _ in found):
                found.append((url, execution_id))
        if not found:
            return
        source = text(event, "source")
        channel, user = slack_id(event, "channel"), slack_id(event, "user")
        if source == "composer" or channel == COMPOSER:
            # A link still in the message box: Slack names no channel ("COMPOSER"), so no channel rule can
            # be checked, and a preview may stay on the message once it is posted. Slack sends link_shared
            # again for the posted message, with its channel: the card is unfurled then, after the checks.
            for _, execution_id in found:
                self.audit.record(entry="unfurl", user=user, channel=channel, outcome="preview_skipped",
                                  execution_id=execution_id)
            return
        asker = Asker(user, channel, "unfurl", public=True, shared=shared)
        if len(found) > self._settings.max_cards:
            log.info("unfurling %d of %d execution links in one message (QFLOW_MAX_CARDS)",
                     self._settings.max_cards, len(found))
        if not self.allowed(asker, [e for _, e in found], self._ephemeral_sender(channel, user)):
            return
        for url, execution_id in found[: self._settings.max_cards]:
            destination = Unfurl(self.client, url, channel=channel, ts=text(event, "message_ts"),
                                 unfurl_id=text(event, "unfurl_id"), source=source)
            state = CardState(execution_id, private=False, compact=True)
            self._submit(self.deliver, state, destination, False, True, None, asker)

    def answer_message(self, words: str, thread_ts: str | None, asker: Asker, *, mention: bool = False) -> None:
        """A mention (answered in its thread) or a DM: a card per execution found, bounded."""

        def answer() -> None:
            found = self.matcher.find(without_mentions(words) if mention else words)
            self._answer_found(found, thread_ts, asker)

        self._submit(answer)

    def answer_shortcut(self, words: str, response_url: str, asker: Asker) -> None:
        """The message shortcut: every execution in the message, privately, with Share in channel."""
        limit = min(self._settings.max_cards, ResponseUrl.MAX_USES - 1)

        def answer() -> None:
            found = self.matcher.find(words)
            self._answer_shortcut(found[:limit], found[limit:], response_url, asker)

        self._submit(answer)

    def answer_click(self, action_id: str, value: str | None, *, response_url: str | None,
                     container: Mapping[str, Any], channel: str | None, user: str | None,
                     user_team: str | None = None) -> None:
        """A button on a card: re-render in place, refresh, or share with the channel. The policy is
        checked for the clicking user, whoever asked first."""
        if action_id == OPEN:
            return
        private = ResponseUrl(response_url, response_type="ephemeral", replace_original=False) if response_url else None
        deny_to = private.send if private else self._ephemeral_sender(channel, user)
        try:
            state = parse_state(value)
        except BadButtonValue:
            self.audit.record(entry="click", user=user, channel=channel, outcome="stale_button")
            self._submit(deny_to, stale_button())
            return
        public = not container.get("is_ephemeral")
        if action_id == SHARE and response_url:
            asker = Asker(user, channel, "share", public=True, user_team=user_team)
            self._submit(self._share, state, response_url, asker)
            return
        if action_id not in VIEW_ACTIONS:  # ours by its prefix, yet unknown: forged or from an old version
            self.audit.record(entry="click", user=user, channel=channel, outcome="stale_button")
            self._submit(deny_to, stale_button())
            return
        destination: Destination
        if container.get("is_app_unfurl") and container.get("app_unfurl_url"):
            destination = Unfurl(self.client, str(container["app_unfurl_url"]),
                                 channel=container.get("channel_id"), ts=container.get("message_ts"))
        elif response_url:
            key = (ephemeral_key(channel, user, state.execution_id) if container.get("is_ephemeral")
                   else f"msg:{container.get('channel_id')}:{container.get('message_ts')}")
            destination = ResponseUrl(response_url, key=key, replace_original=True)
        else:
            return
        asker = Asker(user, channel, "click", public=public, user_team=user_team)

        def answer() -> None:
            if not self.allowed(asker, [state.execution_id], deny_to):
                return
            followed = self.follows.find(destination.key) if destination.key else None
            if followed:  # keep following, now showing what the reader chose, through the newest channel
                followed.state = state
                followed.destination = destination
            self.deliver(state, destination, action_id == REFRESH, False, followed, asker)

        self._submit(answer)

    # --- access -------------------------------------------------------------------

    def allowed(self, asker: Asker, execution_ids: list[str], deny_to: Callable[[SlackMessage], Any]) -> bool:
        """True when the policy lets `asker` see these executions; else tell them why, privately."""
        decision = self.access.check(asker) if self.access else CANNOT_CHECK
        if decision.allowed:
            return True
        for execution_id in execution_ids or [None]:  # type: ignore[list-item]
            self.audit.record(entry=asker.entry, user=asker.user, channel=asker.channel, outcome="denied",
                              execution_id=execution_id)
        try:
            deny_to(render_denial(decision, self._settings.policy_contact))
        except Exception:
            log.info("could not tell %s why they were denied", asker.user)
        return False

    def _ephemeral_sender(self, channel: str | None, user: str | None) -> Callable[[SlackMessage], Any]:
        def send(message: SlackMessage) -> None:
            if not channel or not user:
                return
            try:
                self.client.chat_postEphemeral(channel=channel, user=user, text=message.text, blocks=message.blocks)
            except SlackApiError as error:
                log.info("could not post privately to %s: %s", user, error.response.get("error"))

        return send

    # --- work --------------------------------------------------------------------

    def card(self, state: CardState, *, fresh: bool = False, note: Callable[[Execution], str | None] | None = None,
             shared_by: str | None = None, asker: Asker | None = None) -> tuple[SlackMessage, Lookup | None]:
        """The card for `state` (and its lookup), or an error message and None; never raises.
        With an `asker`, the request is written to the audit log."""
        started = time.perf_counter()
        lookup: Lookup | None = None
        failure: BaseException | None = None
        try:
            lookup = self._lookups.get(state.execution_id, fresh=fresh)
            message = self.render(lookup, state, note(lookup.execution) if note else None)
        except QFlowError as error:
            log.info("lookup of %s failed: %s", state.execution_id, type(error).__name__)
            failure, message = error, render_lookup_error(error, state, redactor=self.redactor)
        except Exception as error:
            reference = uuid.uuid4().hex[:12]
            log.exception("lookup of %s crashed (reference %s)", state.execution_id, reference)
            failure, message = error, render_lookup_error(RuntimeError(), state, reference=reference)
        if asker:
            self.audit.record(
                entry=asker.entry, user=asker.user, channel=asker.channel, execution_id=state.execution_id,
                outcome=outcome_of(failure), cache_hit=lookup.cache_hit if lookup else None,
                upstream_ms=None if lookup and lookup.cache_hit else (time.perf_counter() - started) * 1000,
            )
        if failure is not None:
            return message, None
        if shared_by and _USER_ID.match(shared_by):
            message = with_shared_by(message, shared_by)
        return message, lookup

    def render(self, lookup: Lookup, state: CardState, note: str | None = None) -> SlackMessage:
        return render_execution_card(
            lookup.execution, state, fetched_at=lookup.fetched_at, note=note, redactor=self.redactor,
            open_url=self._settings.open_url(state.execution_id, lookup.execution.workflow),
        )

    def deliver(self, state: CardState, destination: Destination, fresh: bool = False, follow: bool = False,
                followed: Follow | None = None, asker: Asker | None = None) -> bool:
        """Send the card for `state`; when asked and the run is still going, keep it up to date
        (`followed`: the card is already followed, and its note stays)."""
        seconds = self._follow_seconds(destination) if follow else 0.0
        left = followed.deadline - self._clock() if followed else seconds
        following = (lambda e: None if e.is_finished else self._following_note(left)) if left > 0 else None
        message, lookup = self.card(state, fresh=fresh, note=following, asker=asker)
        delivered = self._send(destination, message)
        if delivered and seconds > 0 and lookup and not lookup.execution.is_finished:
            added = self.follows.add(state, destination, seconds)
            if added:
                added.signature = _signature(lookup.execution)
        return delivered

    def _send(self, destination: Destination, message: SlackMessage) -> bool:
        try:
            return destination.send(message)
        except (SlackApiError, OSError, ValueError) as error:
            log.warning("could not deliver a card: %s", type(error).__name__)
            return False
        except Exception:
            log.exception("could not deliver a card")
            return False

    def _follow_seconds(self, destination: Destination) -> float:
        seconds = self._settings.refresh_max_minutes * 60
        if isinstance(destination, ResponseUrl):
            seconds = min(seconds, RESPONSE_URL_LIFETIME)
        return seconds if destination.key else 0.0

    def _following_note(self, seconds: float) -> str:
        every = f"{self._settings.refresh_seconds:g} s"
        return f"Following this run: checking every {every} for up to {_minutes(seconds)}."

    def _follow_tick(self, follow: Follow) -> bool:
        """One refresh of a followed card; True to keep following."""
        expired = self._clock() >= follow.deadline
        try:
            lookup = self._lookups.get(follow.state.execution_id, fresh=True)
        except QFlowError as error:
            log.info("following %s: lookup failed (%s)", follow.state.execution_id, type(error).__name__)
            return not expired
        execution = lookup.execution
        finished = execution.is_finished
        if not finished and not expired:
            signature = _signature(execution)
            if signature == follow.signature or follow.destination.updates_left <= 1:
                return True  # nothing new to show, or keep the last send for the final state
            follow.signature = signature
        if finished:
            note = None
        elif expired:
            note = (f"Stopped following after {_minutes(self._follow_seconds(follow.destination))}: "
                    "press Refresh for the latest.")
        else:
            note = self._following_note(follow.deadline - self._clock())
        self._send(follow.destination, self.render(lookup, follow.state, note))
        return not (finished or expired)

    def _answer_found(self, found: list[Found], thread_ts: str | None, asker: Asker) -> None:
        channel = asker.channel or ""
        if not found:
            self.audit.record(entry=asker.entry, user=asker.user, channel=asker.channel, outcome="no_ids")
            self._post_or_explain(render_found_nothing(), channel, thread_ts, asker.user)
            return
        deny_to = (ChannelMessage(self.client, channel, thread_ts).send if asker.channel_kind == "im"
                   else self._ephemeral_sender(channel, asker.user))
        if not self.allowed(asker, [f.execution_id for f in found], deny_to):
            return
        limit = self._settings.max_cards
        for item in found[:limit]:
            destination = ChannelMessage(self.client, channel, thread_ts)
            if not self.deliver(CardState(item.execution_id, private=False), destination, follow=True, asker=asker):
                self._explain_refusal(destination.refusal, channel, asker.user)
                return
        if len(found) > limit:
            self._post_or_explain(render_too_many(found[limit:], limit), channel, thread_ts, asker.user)

    def _answer_shortcut(self, shown: list[Found], rest: list[Found], response_url: str, asker: Asker) -> None:
        destination = ResponseUrl(response_url)
        if not shown:
            self.audit.record(entry=asker.entry, user=asker.user, channel=asker.channel, outcome="no_ids")
            destination.send(render_found_nothing(shortcut=True), response_type="ephemeral")
            return
        deny = lambda m: destination.send(m, response_type="ephemeral")  # noqa: E731
        if not self.allowed(asker, [f.execution_id for f in shown + rest], deny):
            return
        for item in shown:
            message, _ = self.card(CardState(item.execution_id, private=True), asker=asker)
            destination.send(message, response_type="ephemeral", replace_original=False)
        if rest:
            destination.send(render_too_many(rest, len(shown)), response_type="ephemeral", replace_original=False)

    def _post_or_explain(self, message: SlackMessage, channel: str, thread_ts: str | None, user: str | None) -> None:
        destination = ChannelMessage(self.client, channel, thread_ts)
        if not self._send(destination, message):
            self._explain_refusal(destination.refusal, channel, user)

    def _explain_refusal(self, refusal: str | None, channel: str, user: str | None) -> None:
        """Tell the asker, privately, why no card appeared (where Slack lets us)."""
        if not user or not refusal:
            return
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=render_post_refused(refusal))
        except SlackApiError as error:
            log.info("could not explain a refusal to the asker: %s", error.response.get("error"))

    def _share(self, state: CardState, response_url: str, asker: Asker) -> None:
        destination = ResponseUrl(response_url)
        deny = lambda m: destination.send(m, response_type="ephemeral", replace_original=False)  # noqa: E731
        if not self.allowed(asker, [state.execution_id], deny):
            return
        public = CardState(state.execution_id, state.view, state.page, private=False)
        message, lookup = self.card(public, shared_by=asker.user, asker=asker)
        if lookup is None:  # an error is for the asker, not the channel
            self._send(destination, message)
            return
        try:
            if destination.send(message, response_type="in_channel", replace_original=False):
                # The private copy has done its job; leave only the shared one.
                destination.send(SlackMessage(text="Shared"), delete_original=True)
        except Exception:
            log.exception("could not share %s", state.execution_id)


def _minutes(seconds: float) -> str:
    """`29 min`, or `40 s` under a minute."""
    return f"{round(seconds / 60)} min" if seconds >= 60 else f"{max(1, round(seconds))} s"


def _signature(execution: Execution) -> tuple[object, ...]:
    """What a followed card shows that can change while a run goes on."""
    steps = execution.steps or []
    return (execution.status, len(steps), tuple((s.status, s.error_text) for s in steps))
