"""Who may see execution details where: a pure decision, from facts the Slack layer gathers.

One service token serves the whole workspace, so the app itself decides. The rules, in order:
a denied channel; a channel shared with other organisations (Slack Connect) unless allowed, or
one whose sharing the app cannot see; a user from another workspace (or one whose workspace
nobody can tell); the channel allow-list (DMs with the app are exempt); the user allow-lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .config import Settings

ChannelKind = Literal["public", "private", "im", "mpim"]


@dataclass(frozen=True)
class Asker:
    """Who asks, where, and how the answer would be seen."""

    user: str | None
    channel: str | None
    entry: str  # command, click, unfurl, mention, dm, shortcut, share
    public: bool  # the answer is posted where others see it
    user_team: str | None = None
    channel_kind: ChannelKind | None = None  # None: unknown
    shared: bool | None = None  # shared with other organisations; None: unknown
    usergroups: frozenset[str] = field(default_factory=frozenset)
    single_workspace: bool | None = None  # only the installing workspace's people are in the channel; None: unknown


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    setting: str = ""


ALLOW = Decision(True)
UNKNOWN_CHANNEL = Decision(False, "I can't tell which channel this is, so I can't check where details may be shown",
                           "the channel rules")
UNKNOWN_HOME = Decision(False, "I couldn't confirm with Slack which workspace installed me, so I can't check that "
                        "you belong to it. Try again in a minute", "the installation")
UNKNOWN_TEAM = Decision(False, "I can't tell which workspace you belong to here, and execution details are only "
                        "for members of the workspace that installed the app", "the installation")
OTHER_TEAM = Decision(False, "execution details are only for members of the workspace that installed the app",
                      "the installation")


class Policy:
    def __init__(self, settings: Settings, home_team: str | None) -> None:
        self._s = settings
        self.home_team = home_team

    @property
    def allowed_usergroups(self) -> frozenset[str]:
        return self._s.allowed_usergroups

    @property
    def needs_usergroups(self) -> bool:
        return bool(self._s.allowed_usergroups)

    def decide(self, asker: Asker) -> Decision:
        """Every rule, in order; a rule whose fact is unknown refuses (it never passes by default)."""
        s = self._s
        if s.denied_channels and not asker.channel:
            return UNKNOWN_CHANNEL
        if asker.channel and asker.channel.upper() in s.denied_channels:
            return Decision(False, "this channel is on the app's deny list", "QFLOW_DENIED_CHANNELS")
        if not s.allow_shared_channels:
            if asker.shared:
                return Decision(False, "this channel is shared with other organisations (Slack Connect), and "
                                "execution details stay inside your workspace", "QFLOW_ALLOW_SHARED_CHANNELS")
            if asker.shared is None:
                return Decision(False, "I can't see whether this channel is shared outside your workspace (I'm not "
                                "a member of it), so I won't show execution details here. Invite me with "
                                "`/invite @QFlow`, or ask me in a direct message", "QFLOW_ALLOW_SHARED_CHANNELS")
        installation = self._installation(asker)
        if installation is not None:
            return installation
        if s.allowed_channels and asker.channel_kind != "im" and (asker.channel or "").upper() not in s.allowed_channels:
            return Decision(False, "the app answers only in some channels", "QFLOW_ALLOWED_CHANNELS")
        if s.allowed_users or s.allowed_usergroups:
            user = (asker.user or "").upper()
            if user not in s.allowed_users and not (asker.usergroups & s.allowed_usergroups):
                return Decision(False, "only some people may look up executions",
                                "QFLOW_ALLOWED_USERS / QFLOW_ALLOWED_USERGROUPS")
        return ALLOW

    def _installation(self, asker: Asker) -> Decision | None:
        """Members of the installing workspace only. Without the user's workspace, a channel known to be
        unshared vouches for them; without the installing workspace, nobody whose workspace is named passes."""
        if asker.user_team is None:
            if asker.single_workspace:
                return None  # nobody from outside is in this conversation
            return UNKNOWN_TEAM
        if self.home_team is None:
            return UNKNOWN_HOME
        if asker.user_team != self.home_team:
            return OTHER_TEAM
        return None
