"""Turns Slack requests into answers: the entry points the listeners call after their ack (commands,
clicks, unfurls, mentions, DMs, the shortcut). Every request ends in exactly one answer (a card or an
error that says what to do), worked on the pool, never on the request's thread."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..cards import Cards
from ..config import Settings
from ..links import Found, LinkMatcher, without_mentions
from ..policy import Asker
from ..render import BadButtonValue, CardState, SlackMessage, parse_state
from ..render.blocks import HIDE, NEXT, OPEN, PREVIOUS, REFRESH, SHARE, SHOW_ERRORS, SHOW_STEPS, UNWATCH
from ..render.messages import render_found_nothing, render_too_many, stale_button
from ..render.refusals import render_post_refused
from ..work import WorkPool, resumable
from .access import Access
from .destinations import ChannelMessage, Destination, ResponseUrl, Unfurl, ephemeral_sender, send_safely
from .follow import CardFollower
from .home import HomeTab
from .once import gated
from .payload import ID_CHARS, items, slack_id, text
from .subscriptions import Subscriptions
from .watching import Watching, ephemeral_reply

log = logging.getLogger(__name__)
COMPOSER = "COMPOSER"  # the channel Slack names for a link still being typed
VIEW_ACTIONS = frozenset({SHOW_STEPS, SHOW_ERRORS, HIDE, PREVIOUS, NEXT, REFRESH})


def ephemeral_key(channel: str | None, user: str | None, execution_id: str) -> str:
    """Names a private answer, which has no ts we can know: one per user, channel and execution."""
    return f"eph:{channel}:{user}:{execution_id}"


class Answers:
    """What the listeners hand each request to: it answers on the worker pool."""

    def __init__(self, settings: Settings, *, client: WebClient, cards: Cards, follower: CardFollower,
                 access: Access, pool: WorkPool, matcher: LinkMatcher,
                 response_url: Callable[..., ResponseUrl] = ResponseUrl, watching: Watching | None = None,
                 subscriptions: Subscriptions | None = None, home: HomeTab | None = None) -> None:
        self._home = home
        self._settings = settings
        self._client = client
        self._cards = cards
        self._follower = follower
        self._access = access
        self._pool = pool
        self._matcher = matcher
        self._response_url = response_url
        self._subscriptions = subscriptions
        self._watching = watching or Watching(cards=cards, follower=follower, access=access, client=client,
                                              most=settings.tuning.max_watches,
                                              refresh_seconds=settings.tuning.refresh_seconds)

    def _submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Run `job` on the pool once the request's claim holds (bot/slack/once.py). Jobs wrapped in
        `resumable` (nothing done before their lookups must not be done twice) do not hold a thread while
        they wait for a fetch another job started: they run again when it ends."""
        self._pool.submit(gated(job), *args)

    def record_command(self, *, user: str | None, channel: str | None, outcome: str) -> None:
        """Audit a command answered in its ack (help, usage, a malformed id)."""
        self._cards.record(entry="command", user=user, channel=channel, outcome=outcome)

    # --- entry points (called from listeners, after ack) -----------------------

    def answer_command(self, state: CardState, response_url: str, asker: Asker) -> None:
        """The slash command's card, privately, replacing the "Looking up…" ack."""
        key = ephemeral_key(asker.channel, asker.user, state.execution_id)
        destination = self._response_url(response_url, key=key, response_type="ephemeral", replace_original=True)

        def answer() -> None:
            if self._access.allowed(asker, [state.execution_id], destination.send):
                self._follower.deliver(state, destination, follow=True, asker=asker)

        self._submit(resumable(answer))

    def answer_watch(self, verb: str, execution_id: str | None, response_url: str, asker: Asker) -> None:
        """`/qflow watch <id>`, `unwatch <id>` or `watches`, answered privately after the ack."""
        say = ephemeral_reply(self._response_url, response_url)
        if verb == "watch" and execution_id:
            self._submit(self._watching.start, execution_id, asker, say)
        elif verb == "unwatch" and execution_id:
            self._submit(self._watching.stop, execution_id, asker, say)
        else:
            self._submit(self._watching.listing, asker.channel, say)

    def answer_subscription(self, verb: str, target: str | None, mode: str, response_url: str, asker: Asker) -> None:
        """`/qflow subscribe <workflow> [failures|all]`, `unsubscribe <workflow>` or `subscriptions`."""
        say = ephemeral_reply(self._response_url, response_url)
        subscriptions = self._subscriptions
        if subscriptions is None:
            self._submit(say, SlackMessage(text="Subscriptions are not available in this app."))
        elif verb == "subscribe" and target:
            self._submit(subscriptions.subscribe, target, mode, asker, say)
        elif verb == "unsubscribe" and target:
            self._submit(subscriptions.unsubscribe, target, asker, say)
        else:
            self._submit(subscriptions.listing, asker.channel, say)

    def publish_home(self, user: str) -> None:
        """The person's App Home tab, published after the ack."""
        if self._home is not None:
            self._submit(self._home.publish, user)

    def answer_unfurl(self, event: Mapping[str, Any], shared: bool | None = None) -> None:
        """Cards for the execution links in a `link_shared` event, at most `max_cards`."""
        self._submit(resumable(self._answer_unfurl), event, shared)

    def _answer_unfurl(self, event: Mapping[str, Any], shared: bool | None) -> None:
        found: list[tuple[str, str]] = []
        for link in items(event, "links"):
            url = text(link, "url") or ""
            execution_id = self._matcher.execution_in_link(url)
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
                self._cards.record(entry="unfurl", user=user, channel=channel, outcome="preview_skipped",
                                  execution_id=execution_id)
            return
        asker = Asker(user, channel, "unfurl", public=True, shared=shared)
        if len(found) > self._settings.tuning.max_cards:
            log.info("unfurling %d of %d execution links in one message (QFLOW_MAX_CARDS)",
                     self._settings.tuning.max_cards, len(found))
        if not self._access.allowed(asker, [e for _, e in found], ephemeral_sender(self._client, channel, user)):
            return
        for url, execution_id in found[: self._settings.tuning.max_cards]:
            destination = Unfurl(self._client, url, channel=channel, ts=text(event, "message_ts"),
                                 unfurl_id=text(event, "unfurl_id"), source=source)
            state = CardState(execution_id, private=False, compact=True)
            self._submit(resumable(functools.partial(self._follower.deliver, state, destination, follow=True, asker=asker)))

    def answer_message(self, words: str, thread_ts: str | None, asker: Asker, *, mention: bool = False) -> None:
        """A mention (answered in its thread) or a DM: a card per execution found, bounded."""

        def answer() -> None:
            found = self._matcher.find(without_mentions(words) if mention else words)
            self._answer_found(found, thread_ts, asker)

        self._submit(answer)

    def answer_shortcut(self, words: str, response_url: str, asker: Asker) -> None:
        """The message shortcut: every execution in the message, privately, with Share in channel."""
        limit = min(self._settings.tuning.max_cards, ResponseUrl.MAX_USES - 1)

        def answer() -> None:
            found = self._matcher.find(words)
            self._answer_shortcut(found[:limit], found[limit:], response_url, asker)

        self._submit(answer)

    def answer_click(self, action_id: str, value: str | None, *, response_url: str | None,
                     container: Mapping[str, Any], channel: str | None, user: str | None,
                     user_team: str | None = None) -> None:
        """A button on a card: re-render in place, refresh, or share with the channel. The policy is
        checked for the clicking user, whoever asked first."""
        if action_id == OPEN:
            return
        private = (self._response_url(response_url, response_type="ephemeral", replace_original=False)
                   if response_url else None)
        deny_to = private.send if private else ephemeral_sender(self._client, channel, user)
        try:
            state = parse_state(value)
        except BadButtonValue:
            self._cards.record(entry="click", user=user, channel=channel, outcome="stale_button")
            self._submit(deny_to, stale_button())
            return
        public = not container.get("is_ephemeral")
        if action_id == SHARE and response_url:
            asker = Asker(user, channel, "share", public=True, user_team=user_team)
            self._submit(self._share, state, response_url, asker)
            return
        if action_id == UNWATCH:
            key = f"msg:{slack_id(container, 'channel_id')}:{text(container, 'message_ts', limit=ID_CHARS)}"
            asker = Asker(user, channel, "click", public=True, user_team=user_team)
            self._submit(self._watching.stop_card, key, asker, deny_to)
            return
        if action_id not in VIEW_ACTIONS:  # ours by its prefix, yet unknown: forged or from an old version
            self._cards.record(entry="click", user=user, channel=channel, outcome="stale_button")
            self._submit(deny_to, stale_button())
            return
        destination: Destination
        unfurl_url, message_ts = text(container, "app_unfurl_url"), text(container, "message_ts", limit=ID_CHARS)
        if container.get("is_app_unfurl") and unfurl_url:
            destination = Unfurl(self._client, unfurl_url, channel=slack_id(container, "channel_id"), ts=message_ts)
        elif response_url:
            key = (ephemeral_key(channel, user, state.execution_id) if container.get("is_ephemeral")
                   else f"msg:{slack_id(container, 'channel_id')}:{message_ts}")
            destination = self._response_url(response_url, key=key, replace_original=True)
        else:
            return
        asker = Asker(user, channel, "click", public=public, user_team=user_team)

        def answer() -> None:
            if not self._access.allowed(asker, [state.execution_id], deny_to):
                return
            # A followed card goes on being followed, now showing what the reader chose.
            followed = self._follower.find(destination.key) if destination.key else None
            self._follower.deliver(state, destination, fresh=action_id == REFRESH, followed=followed, asker=asker)

        self._submit(resumable(answer))

    def _answer_found(self, found: list[Found], thread_ts: str | None, asker: Asker) -> None:
        channel = asker.channel or ""
        if not found:
            self._cards.record(entry=asker.entry, user=asker.user, channel=asker.channel, outcome="no_ids")
            self._post_or_explain(render_found_nothing(), channel, thread_ts, asker.user)
            return
        deny_to = (ChannelMessage(self._client, channel, thread_ts).send if asker.channel_kind == "im"
                   else ephemeral_sender(self._client, channel, asker.user))
        if not self._access.allowed(asker, [f.execution_id for f in found], deny_to):
            return
        limit = self._settings.tuning.max_cards
        for item in found[:limit]:
            destination = ChannelMessage(self._client, channel, thread_ts)
            if not self._follower.deliver(CardState(item.execution_id, private=False), destination, follow=True,
                                          asker=asker):
                self._explain_refusal(destination.refusal, channel, asker.user)
                return
        if len(found) > limit:
            self._post_or_explain(render_too_many(found[limit:], limit), channel, thread_ts, asker.user)

    def _answer_shortcut(self, shown: list[Found], rest: list[Found], response_url: str, asker: Asker) -> None:
        destination = self._response_url(response_url)
        if not shown:
            self._cards.record(entry=asker.entry, user=asker.user, channel=asker.channel, outcome="no_ids")
            destination.send(render_found_nothing(shortcut=True), response_type="ephemeral")
            return
        deny = lambda m: destination.send(m, response_type="ephemeral")  # noqa: E731
        if not self._access.allowed(asker, [f.execution_id for f in shown + rest], deny):
            return
        for item in shown:
            message, _ = self._cards.card(CardState(item.execution_id, private=True), asker=asker)
            destination.send(message, response_type="ephemeral", replace_original=False)
        if rest:
            destination.send(render_too_many(rest, len(shown)), response_type="ephemeral", replace_original=False)

    def _post_or_explain(self, message: SlackMessage, channel: str, thread_ts: str | None, user: str | None) -> None:
        destination = ChannelMessage(self._client, channel, thread_ts)
        if not send_safely(destination, message):
            self._explain_refusal(destination.refusal, channel, user)

    def _explain_refusal(self, refusal: str | None, channel: str, user: str | None) -> None:
        """Tell the asker, privately, why no card appeared (where Slack lets us)."""
        if not user or not refusal:
            return
        try:
            self._client.chat_postEphemeral(channel=channel, user=user, text=render_post_refused(refusal))
        except SlackApiError as error:
            log.info("could not explain a refusal to the asker: %s", error.response.get("error"))

    def _share(self, state: CardState, response_url: str, asker: Asker) -> None:
        """Post the card in the channel for everyone (kept current while the run goes on), then remove the
        private copy. Where the app cannot post (not in the channel), the response_url shares it instead."""
        destination = self._response_url(response_url)
        deny = lambda m: destination.send(m, response_type="ephemeral", replace_original=False)  # noqa: E731
        if not self._access.allowed(asker, [state.execution_id], deny):
            return
        public = CardState(state.execution_id, state.view, state.page, private=False)
        told: list[SlackMessage] = []

        def tell_sharer(message: SlackMessage) -> None:
            told.append(message)
            deny(message)

        try:
            if asker.channel and self._follower.deliver(public, ChannelMessage(self._client, asker.channel),
                                                        follow=True, asker=asker, shared_by=asker.user,
                                                        errors_to=tell_sharer):
                destination.send(SlackMessage(text="Shared"), delete_original=True)
                return
            if told:
                return  # the lookup failed: the sharer was told why
            message, lookup = self._cards.card(public, shared_by=asker.user)
            if lookup is None:  # an error is for the asker, not the channel
                send_safely(destination, message)
                return
            if destination.send(message, response_type="in_channel", replace_original=False):
                # The private copy has done its job; leave only the shared one.
                destination.send(SlackMessage(text="Shared"), delete_original=True)
        except Exception:
            log.exception("could not share %s", state.execution_id)
