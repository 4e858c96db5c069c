"""Gathers what the policy needs from Slack (cached), and asks it."""

from __future__ import annotations

import logging
import threading
from typing import Any

from cachetools import TTLCache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..policy import Asker, ChannelKind, Decision, Policy

log = logging.getLogger(__name__)
FACTS_TTL = 300.0


class Access:
    """Decides for a Slack request; channel facts and group members are cached for 5 minutes."""

    def __init__(self, policy: Policy, client: WebClient) -> None:
        self.policy = policy
        self._client = client
        self._channels: TTLCache[str, tuple[ChannelKind | None, bool | None]] = TTLCache(4096, FACTS_TTL)
        self._groups: TTLCache[str, frozenset[str]] = TTLCache(256, FACTS_TTL)
        self._lock = threading.Lock()

    def check(self, asker: Asker) -> Decision:
        """The policy's decision, after filling in the facts Slack can tell."""
        kind, shared = asker.channel_kind, asker.shared
        if asker.channel and (kind is None or shared is None):
            known_kind, known_shared = self.channel_facts(asker.channel)
            kind = kind or known_kind
            shared = shared if shared is not None else known_shared
        groups = self.groups_of(asker.user) if self.policy.needs_usergroups and asker.user else frozenset()
        if self.policy.home_team is None:
            self.policy.home_team = self._home_team()
        return self.policy.decide(Asker(asker.user, asker.channel, asker.entry, asker.public, asker.user_team,
                                        kind, shared, groups))

    def channel_facts(self, channel: str) -> tuple[ChannelKind | None, bool | None]:
        with self._lock:
            if channel in self._channels:
                return self._channels[channel]
        facts: tuple[ChannelKind | None, bool | None]
        try:
            info: dict[str, Any] = self._client.conversations_info(channel=channel)["channel"]
            kind: ChannelKind = ("im" if info.get("is_im") else "mpim" if info.get("is_mpim")
                                 else "private" if info.get("is_private") else "public")
            facts = (kind, bool(info.get("is_ext_shared")))
        except SlackApiError as error:  # not a member of a private channel, or a DM between others
            log.info("conversations.info %s: %s", channel, error.response.get("error"))
            facts = (None, None)
        with self._lock:
            self._channels[channel] = facts
        return facts

    def groups_of(self, user: str) -> frozenset[str]:
        member_of = set()
        for group in self.policy.allowed_usergroups:
            with self._lock:
                members = self._groups.get(group)
            if members is None:
                try:
                    members = frozenset(self._client.usergroups_users_list(usergroup=group).get("users") or [])
                except SlackApiError as error:
                    log.warning("cannot read user group %s (%s): its members are not allowed",
                                group, error.response.get("error"))
                    members = frozenset()
                with self._lock:
                    self._groups[group] = members
            if user in members:
                member_of.add(group)
        return frozenset(member_of)

    def _home_team(self) -> str | None:
        try:
            return str(self._client.auth_test().get("team_id") or "") or None
        except SlackApiError:
            return None


def denial_text(decision: Decision, contact: str) -> str:
    """What a denied user reads (privately): why, and who can change it."""
    return (f"🔒 I can't show QFlow executions here: {decision.reason}. "
            f"{contact[:1].upper() + contact[1:]} can change this ({decision.setting}).")
