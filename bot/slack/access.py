"""Gathers what the policy needs from Slack (cached), and asks it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cachetools import TTLCache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..audit import AuditLog
from ..cache import SingleFlightCache
from ..policy import CANNOT_CHECK, Asker, ChannelKind, Decision, Home, Policy
from ..render import SlackMessage
from ..render.refusals import render_denial
from .payload import slack_id

log = logging.getLogger(__name__)
FACTS_TTL = 300.0
# conversations.info errors that are answers (the app may not see the channel), not passing faults.
_LASTING = frozenset({"channel_not_found", "missing_scope", "not_in_channel", "method_not_supported_for_channel_type"})

ChannelFacts = tuple[ChannelKind | None, bool | None, bool | None]  # kind, shared (Slack Connect), one workspace
UNKNOWN_FACTS: ChannelFacts = (None, None, None)


class Access:
    """Decides for a Slack request; channel facts and group members are cached for 5 minutes."""

    def __init__(self, policy: Policy, client: WebClient, *, audit: AuditLog, contact: str) -> None:
        self.policy = policy
        self._client = client
        self._audit = audit
        self._contact = contact
        self._channels: SingleFlightCache[str, tuple[ChannelFacts, bool]] = SingleFlightCache(
            4096, lambda value: FACTS_TTL if value[1] else 0.0)
        self._home: SingleFlightCache[str, Home | None] = SingleFlightCache(1, lambda home: 0.0)
        self._groups: TTLCache[str, frozenset[str]] = TTLCache(256, FACTS_TTL)
        self._lock = threading.Lock()

    def allowed(self, asker: Asker, execution_ids: list[str], deny_to: Callable[[SlackMessage], Any]) -> bool:
        """True when the policy lets `asker` see these executions; else audit the refusal and tell them why,
        privately, through `deny_to`."""
        decision = self.check(asker)
        if decision.allowed:
            return True
        ids: list[str | None] = [*execution_ids] or [None]
        for execution_id in ids:
            self._audit.record(entry=asker.entry, user=asker.user, channel=asker.channel, outcome="denied",
                               execution_id=execution_id)
        try:
            deny_to(render_denial(decision, self._contact))
        except Exception:
            log.info("could not tell %s why they were denied", asker.user)
        return False

    def check(self, asker: Asker) -> Decision:
        """The policy's decision, after filling in the facts Slack can tell. Any fault while asking
        Slack refuses (with a reason): a rule is never skipped because a fact could not be had."""
        try:
            return self._check(asker)
        except Exception as error:
            log.warning("could not gather the facts for an access check (%s): refused", type(error).__name__)
            return CANNOT_CHECK

    def _check(self, asker: Asker) -> Decision:
        kind, shared, single = asker.channel_kind, asker.shared, asker.single_workspace
        if asker.channel and (kind is None or shared is None or single is None):
            known_kind, known_shared, known_single = self.channel_facts(asker.channel)
            kind = kind or known_kind
            shared = shared if shared is not None else known_shared
            single = single if single is not None else known_single
        if shared:
            single = False
        home = self._installation()
        # An org-wide token reads a workspace's user groups only when told which workspace.
        team = asker.user_team if home and home.org_wide and (asker.user_team or "").startswith("T") else None
        groups = self.groups_of(asker.user, team) if self.policy.needs_usergroups and asker.user else frozenset()
        return self.policy.decide(Asker(asker.user, asker.channel, asker.entry, asker.public, asker.user_team,
                                        kind, shared, groups, single, asker.user_enterprise))

    def _installation(self) -> Home | None:
        if self.policy.home is None:  # the first requests share one auth.test
            self.policy.home, _ = self._home.get("home", self.home)  # None when Slack fails: asked again next time
        return self.policy.home

    def learn_installation(self) -> None:
        """Ask Slack for the installation now, at start: asked by a storm's first requests instead, each
        channel's first one waited for it after its conversations.info, and every lookup behind them.
        When Slack does not say, the first request that needs it asks again."""
        try:
            self._installation()
        except Exception as error:  # noqa: BLE001 - only an early start: the requests ask again
            log.warning("could not ask Slack for the installing workspace at start (%s)", type(error).__name__)

    def channel_facts(self, channel: str) -> ChannelFacts:
        """Kind, Slack Connect sharing and whether only one workspace is in the channel; unknown when
        Slack will not say. A passing fault is not remembered. The first requests from a channel share
        one conversations.info call."""
        (facts, _), _ = self._channels.get(channel, lambda: self._ask_channel(channel))
        return facts

    def _ask_channel(self, channel: str) -> tuple[ChannelFacts, bool]:
        """The channel's facts, and whether to remember them."""
        try:
            info: dict[str, Any] = self._client.conversations_info(channel=channel)["channel"]
        except SlackApiError as error:  # not a member of a private channel, a DM between others, or a fault
            reason = str(error.response.get("error"))
            log.info("conversations.info %s: %s", channel, reason)
            return UNKNOWN_FACTS, reason in _LASTING
        if not isinstance(info, dict):
            return UNKNOWN_FACTS, False
        kind: ChannelKind = ("im" if info.get("is_im") else "mpim" if info.get("is_mpim")
                             else "private" if info.get("is_private") else "public")
        ext = info.get("is_ext_shared")
        shared = True if ext is True or info.get("is_pending_ext_shared") is True else False if ext is False else None
        single = shared is False and not any(info.get(k) for k in ("is_shared", "is_org_shared"))
        return (kind, shared, single), True

    def groups_of(self, user: str, team: str | None = None) -> frozenset[str]:
        """The allowed user groups `user` is in (`team`: the workspace to read them in, for an org-wide token)."""
        member_of = set()
        for group in self.policy.allowed_usergroups:
            key = f"{team}:{group}" if team else group
            with self._lock:
                members = self._groups.get(key)
            if members is None:
                try:
                    users = self._client.usergroups_users_list(usergroup=group, team_id=team).get("users")
                except SlackApiError as error:  # not remembered: asked again next time
                    log.warning("cannot read user group %s (%s): its members are not allowed",
                                group, error.response.get("error"))
                    continue
                members = frozenset(u for u in users if isinstance(u, str)) if isinstance(users, list) else frozenset()
                with self._lock:
                    self._groups[key] = members
            if user in members:
                member_of.add(group)
        return frozenset(member_of)

    def home(self) -> Home | None:
        """The installation from auth.test: workspace, Enterprise Grid organisation, org-wide or not;
        None when Slack does not say (nothing is remembered then)."""
        try:
            answer = self._client.auth_test()
        except SlackApiError as error:
            log.warning("auth.test failed (%s): requests that need the installing workspace are refused",
                        error.response.get("error"))
            return None
        return home_of(answer.data if isinstance(answer.data, dict) else {})


def home_of(auth_test: Mapping[str, Any]) -> Home | None:
    """The installation an auth.test answer names, or None when it names neither workspace nor organisation."""
    team, enterprise = slack_id(auth_test, "team_id"), slack_id(auth_test, "enterprise_id")
    if not team and not enterprise:
        return None
    return Home(team, enterprise, org_wide=auth_test.get("is_enterprise_install") is True and bool(enterprise))
