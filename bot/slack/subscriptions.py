"""`/qflow subscribe`: a channel gets a card for each new run of a workflow that ends failed (or each
run that ends, with `all`), exactly once per run across restarts and replicas, with no backfill.

One poller per replica; each workflow is polled by one replica at a time (a lease), however many
channels subscribe, as often as the rate budget's background share allows (never more often than
QFLOW_SUBSCRIPTION_POLL_SECONDS), and not at all while the budget is at its reserve.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient

from ..budget import RateBudget, reserve_calls
from ..cards import Cards
from ..policy import Asker
from ..qflow import Execution, QFlowError
from ..qflow.models import FAILURE_KINDS
from ..render import CardState, SlackMessage
from ..render.subscriptions import (
    render_burst,
    render_subscribed,
    render_subscription_refused,
    render_subscriptions,
)
from ..state import Store
from .access import Access
from .destinations import ChannelMessage, send_safely

log = logging.getLogger(__name__)
Say = Callable[[SlackMessage], Any]
KIND, DUE = "subscription", "subscription-due"
CARDS_PER_BURST = 3  # cards posted for one poll's runs in a channel; the rest are listed in one message
POSTED_SECONDS = 35 * 86400.0  # longer than the API lists runs (30 days): a run is never posted twice


@dataclass
class Subscription:
    channel: str
    workflow_id: str
    workflow_name: str | None
    mode: str  # "failures" or "all"
    user: str | None
    since: float  # epoch seconds: runs started before are not posted (no backfill)

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.workflow_id}"

    def wants(self, run: Execution) -> bool:
        started = run.started.timestamp() if run.started else 0.0
        return run.is_finished and started >= self.since and (self.mode == "all" or run.kind in FAILURE_KINDS)


def _subscription(raw: str) -> Subscription | None:
    try:
        return Subscription(**json.loads(raw))
    except (ValueError, TypeError):
        return None


class Subscriptions:
    """Subscribing, listing, and the poller."""

    def __init__(self, *, store: Store, cards: Cards, access: Access, client: WebClient, budget: RateBudget,
                 list_runs: Callable[[str, datetime], list[Execution]],
                 find_workflows: Callable[[str], list[tuple[str, str]]], workflow_name: Callable[[str], str | None],
                 poll_seconds: float, reserve: str, watch_load: Callable[[], float] = lambda: 0.0,
                 clock: Callable[[], float] = time.time, run: bool = True) -> None:
        self._store, self._cards, self._access, self._client, self._budget = store, cards, access, client, budget
        self._list_runs, self._find, self._name = list_runs, find_workflows, workflow_name
        self._poll_seconds, self._reserve, self._watch_load = poll_seconds, reserve, watch_load
        self._clock = clock
        self._owner = uuid.uuid4().hex
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qflow-subscriptions", daemon=True)
        if run:
            self._thread.start()

    # --- commands -------------------------------------------------------------------------------

    def all(self) -> list[Subscription]:
        return [s for raw in self._store.items(KIND).values() if (s := _subscription(raw))]

    def _resolve(self, target: str, say: Say) -> tuple[str, str | None] | None:
        from ..links import execution_id_in_token  # the same UUID and link reading as executions

        workflow_id = execution_id_in_token(target)
        if workflow_id:
            return workflow_id, self._name(workflow_id)
        try:
            matches = self._find(target)
        except QFlowError as error:
            say(render_subscription_refused("lookup_failed", target, error=error.outcome))
            return None
        if len(matches) != 1:
            say(render_subscription_refused("no_such" if not matches else "several", target))
            return None
        return matches[0]

    def subscribe(self, target: str, mode: str, asker: Asker, say: Say) -> None:
        channel = asker.channel
        if not channel or not self._access.allowed(asker, [], say):
            return
        resolved = self._resolve(target, say)
        if resolved is None:
            return
        workflow_id, name = resolved
        subscription = Subscription(channel, workflow_id, name, mode, asker.user, self._clock())
        self._store.put(KIND, subscription.key, json.dumps(asdict(subscription)))
        self._cards.record(entry="subscribe", user=asker.user, channel=channel, outcome="subscribed")
        say(render_subscribed(workflow_id, name, mode, self.interval()))

    def unsubscribe(self, target: str, asker: Asker, say: Say) -> None:
        found = [s for s in self.all() if s.channel == asker.channel
                 and (target in (s.workflow_id, s.workflow_name) or target.lower() == s.workflow_id)]
        if not found:
            from ..links import execution_id_in_token

            wid = execution_id_in_token(target)
            found = [s for s in self.all() if s.channel == asker.channel and s.workflow_id == wid]
        if not found:
            say(render_subscription_refused("not_subscribed", target))
            return
        for subscription in found:
            self._store.delete(KIND, subscription.key)
        say(render_subscription_refused("unsubscribed", found[0].workflow_name or found[0].workflow_id))

    def listing(self, channel: str | None, say: Say) -> None:
        mine = [s for s in self.all() if s.channel == channel]
        interval = self.interval()
        say(render_subscriptions([(s.workflow_id, s.workflow_name, s.mode, s.user) for s in mine], interval,
                                 stretched=interval > self._poll_seconds))

    # --- how often -----------------------------------------------------------------------------

    def interval(self) -> float:
        """Seconds between two polls of a workflow: QFLOW_SUBSCRIPTION_POLL_SECONDS, or longer when the
        background share of the rate budget (the limit less the reserve, less what watches use) cannot
        afford polling every subscribed workflow that often."""
        workflows = len({s.workflow_id for s in self.all()})
        seen = self._budget.snapshot()
        if not workflows or not seen.limit:
            return self._poll_seconds
        window = float(seen.window or 3600)
        share = (seen.limit - reserve_calls(self._reserve, seen.limit)) / window - self._watch_load()
        if share <= 0:
            return max(self._poll_seconds, window)
        return max(self._poll_seconds, workflows / share)

    # --- the poller ----------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(min(1.0, self._poll_seconds / 2)):
            try:
                self.poll_due()
            except Exception:
                log.exception("polling the subscribed workflows failed; trying again")

    def poll_due(self) -> None:
        """Poll each subscribed workflow that is due and whose lease this replica gets."""
        subscriptions = self.all()
        now, interval = self._clock(), self.interval()
        for workflow_id in sorted({s.workflow_id for s in subscriptions}):
            due = self._store.get(DUE, workflow_id)
            if due and float(due) > now:
                continue
            if not self._budget.background_allowed():
                return
            if not self._store.lease(f"poll:{workflow_id}", self._owner, max(interval, 5.0)):
                continue
            try:
                self._store.put(DUE, workflow_id, str(now + interval), ttl=interval * 2 + 60)
                self._poll(workflow_id, [s for s in subscriptions if s.workflow_id == workflow_id])
            finally:
                self._store.release(f"poll:{workflow_id}", self._owner)

    def _poll(self, workflow_id: str, subscriptions: list[Subscription]) -> None:
        since = datetime.fromtimestamp(min(s.since for s in subscriptions), UTC)
        try:
            runs = self._list_runs(workflow_id, since)
        except QFlowError as error:
            log.info("polling workflow %s failed (%s): trying again at the next poll", workflow_id, error.outcome)
            return
        for subscription in subscriptions:
            new = [run for run in sorted(runs, key=lambda r: r.started or datetime.min.replace(tzinfo=UTC))
                   if subscription.wants(run) and self._store.claim(
                       f"posted:{subscription.channel}:{run.execution_id}", POSTED_SECONDS)]
            if new:
                self._post(subscription, new)

    def _post(self, subscription: Subscription, runs: list[Execution]) -> None:
        for run in runs[:CARDS_PER_BURST]:
            message, _ = self._cards.card(CardState(run.execution_id or "", private=False))
            send_safely(ChannelMessage(self._client, subscription.channel), message)
        if len(runs) > CARDS_PER_BURST:
            rest = [(r.execution_id or "", r.status) for r in runs[CARDS_PER_BURST:]]
            send_safely(ChannelMessage(self._client, subscription.channel),
                        render_burst(subscription.workflow_name or subscription.workflow_id, rest))
