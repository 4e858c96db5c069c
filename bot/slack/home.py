"""The App Home tab, published with views.publish when a person opens it (`app_home_opened`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..budget import RateBudget
from ..metrics import Metrics
from ..recent import RecentLookups
from ..render.home import Health, render_home
from .follow import CardFollower
from .subscriptions import Subscriptions

log = logging.getLogger(__name__)


class HomeTab:
    def __init__(self, *, client: WebClient, recent: RecentLookups, follower: CardFollower,
                 subscriptions: Subscriptions, budget: RateBudget, metrics: Metrics,
                 token_until: Callable[[], float | None], token_renewed: bool) -> None:
        self._client, self._recent, self._follower = client, recent, follower
        self._subscriptions, self._budget, self._metrics = subscriptions, budget, metrics
        self._token_until, self._token_renewed = token_until, token_renewed

    def _channels_of(self, user: str) -> set[str] | None:
        """The conversations `user` is in (one page, the app's view of them), or None when Slack will not say."""
        try:
            answer = self._client.users_conversations(user=user, types="public_channel,private_channel,mpim,im",
                                                      limit=200, exclude_archived=True)
        except SlackApiError as error:
            log.info("users.conversations for the Home tab: %s", error.response.get("error"))
            return None
        channels = answer.get("channels")
        return {c["id"] for c in channels if isinstance(c, dict) and isinstance(c.get("id"), str)} \
            if isinstance(channels, list) else None

    def publish(self, user: str) -> None:
        channels = self._channels_of(user)
        watches = [(f.state.execution_id, f.channel, f.since or 0.0) for f in self._follower.follows.all()
                   if f.watcher == user]
        subscriptions = [(s.workflow_id, s.workflow_name, s.mode, s.channel) for s in self._subscriptions.all()
                         if channels is not None and s.channel in channels]
        seen = self._budget.snapshot()
        last = self._metrics.last_qualys
        health = Health(last[0] if last else None, last[1] if last else None, self._token_until(),
                        self._token_renewed, seen.remaining, seen.limit)
        view = render_home(self._recent.of(user), watches, subscriptions, health, channels_known=channels is not None)
        try:
            self._client.views_publish(user_id=user, view=view)
        except SlackApiError as error:
            log.warning("could not publish the Home tab: %s", error.response.get("error"))
