"""Who may see execution details where: a pure decision, from facts the Slack layer gathers.

One service token serves the whole workspace, so the app itself decides. The rules, in order:
a denied channel; a channel shared with other organisations (Slack Connect) unless allowed, or
one whose sharing the app cannot see; a user from outside the installation (or one whose workspace
nobody can tell); the channel allow-list (DMs with the app are exempt); the user allow-lists.

The installation is the workspace the bot token belongs to, or, in an Enterprise Grid organisation,
the whole organisation: its people (`enterprise_id`) are members whichever workspace they are in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
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
    user_enterprise: str | None = None  # the asker's Enterprise Grid organisation, when the request names it


@dataclass(frozen=True)
class Home:
    """The installation, as auth.test names it: its workspace and, in Enterprise Grid, its organisation
    (`org_wide`: installed for the whole organisation)."""

    team: str | None
    enterprise: str | None = None
    org_wide: bool = False


class Rule(StrEnum):
    """Which rule refused (the words people read are in render/refusals.py)."""

    DENIED_CHANNEL = "denied_channel"
    SLACK_CONNECT = "slack_connect"
    SHARING_UNKNOWN = "sharing_unknown"
    CHANNEL_UNKNOWN = "channel_unknown"
    HOME_UNKNOWN = "home_unknown"
    TEAM_UNKNOWN = "team_unknown"
    OTHER_TEAM = "other_team"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    USER_NOT_ALLOWED = "user_not_allowed"
    CANNOT_CHECK = "cannot_check"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: Rule | None = None
    setting: str = ""


ALLOW = Decision(True)
UNKNOWN_CHANNEL = Decision(False, Rule.CHANNEL_UNKNOWN, "the channel rules")
UNKNOWN_HOME = Decision(False, Rule.HOME_UNKNOWN, "the installation")
UNKNOWN_TEAM = Decision(False, Rule.TEAM_UNKNOWN, "the installation")
OTHER_TEAM = Decision(False, Rule.OTHER_TEAM, "the installation")
CANNOT_CHECK = Decision(False, Rule.CANNOT_CHECK, "the access rules")


class Policy:
    def __init__(self, settings: Settings, home: Home | None) -> None:
        self._s = settings.policy
        self.home = home

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
            return Decision(False, Rule.DENIED_CHANNEL, "QFLOW_DENIED_CHANNELS")
        if not s.allow_shared_channels:
            if asker.shared:
                return Decision(False, Rule.SLACK_CONNECT, "QFLOW_ALLOW_SHARED_CHANNELS")
            if asker.shared is None:
                return Decision(False, Rule.SHARING_UNKNOWN, "QFLOW_ALLOW_SHARED_CHANNELS")
        installation = self._installation(asker)
        if installation is not None:
            return installation
        if s.allowed_channels and asker.channel_kind != "im" and (asker.channel or "").upper() not in s.allowed_channels:
            return Decision(False, Rule.CHANNEL_NOT_ALLOWED, "QFLOW_ALLOWED_CHANNELS")
        if s.allowed_users or s.allowed_usergroups:
            user = (asker.user or "").upper()
            if user not in s.allowed_users and not (asker.usergroups & s.allowed_usergroups):
                return Decision(False, Rule.USER_NOT_ALLOWED, "QFLOW_ALLOWED_USERS / QFLOW_ALLOWED_USERGROUPS")
        return ALLOW

    def _installation(self, asker: Asker) -> Decision | None:
        """Members of the installation only: its workspace, or its whole Enterprise Grid organisation.
        Without the user's workspace, a channel known to hold only the installation's people vouches
        for them; without the installation, nobody whose workspace is named passes."""
        home = self.home
        # Slack names a Grid user's team by its organisation (E…) in some payloads (mentions across orgs).
        enterprise = asker.user_enterprise or (asker.user_team if (asker.user_team or "").startswith("E") else None)
        if asker.user_team is None and enterprise is None:
            if asker.single_workspace or (home and home.enterprise and asker.shared is False):
                return None  # nobody from outside is in this conversation
            return UNKNOWN_TEAM
        if home is None:
            return UNKNOWN_HOME
        if home.enterprise and enterprise:
            return None if enterprise == home.enterprise else OTHER_TEAM
        if asker.user_team and asker.user_team in (home.team, home.enterprise):
            return None
        if home.enterprise:  # another workspace, perhaps of this organisation
            # A channel not shared outside the organisation holds no one else; otherwise nothing says which.
            return None if asker.shared is False else UNKNOWN_TEAM
        return OTHER_TEAM
