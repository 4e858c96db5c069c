import pytest

from bot.config import load_settings
from bot.policy import Asker, Home, Policy
from bot.render.refusals import reason_of

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "QUALYS_PLATFORM": "US1", "QUALYS_TOKEN": "a.b.c"}


def policy(**env):
    return Policy(load_settings({**BASE, **env}), Home("T0HOME"))


def grid_policy(org_wide=True, **env):
    return Policy(load_settings({**BASE, **env}), Home("E0ORG" if org_wide else "T0HOME", "E0ORG", org_wide))


def ask(user="U0ME", channel="C0CHAN", public=False, **kw):
    kw.setdefault("channel_kind", "public")
    kw.setdefault("shared", False)
    kw.setdefault("user_team", "T0HOME")
    return Asker(user, channel, "command", public, **kw)


def test_everyone_in_the_workspace_by_default():
    assert policy().decide(ask()).allowed
    assert policy().decide(ask(public=True)).allowed


def test_other_workspaces_are_refused():
    decision = policy().decide(ask(user_team="T0OTHER"))
    assert not decision.allowed and "installed the app" in reason_of(decision)
    assert policy().decide(ask(user_team="T0HOME")).allowed


def test_slack_connect_channels_get_nothing_unless_allowed():
    assert policy().decide(ask(shared=True)).setting == "QFLOW_ALLOW_SHARED_CHANNELS"
    assert policy(QFLOW_ALLOW_SHARED_CHANNELS="true").decide(ask(shared=True)).allowed


def test_unknown_sharing_refuses_posting_and_private_answers_alike():
    for public in (False, True):
        decision = policy().decide(ask(shared=None, channel_kind=None, public=public))
        assert not decision.allowed and "/invite @QFlow" in reason_of(decision)
    assert policy(QFLOW_ALLOW_SHARED_CHANNELS="true").decide(ask(shared=None, channel_kind=None)).allowed


def test_channel_lists():
    p = policy(QFLOW_ALLOWED_CHANNELS="C0GOOD", QFLOW_DENIED_CHANNELS="C0BAD")
    assert p.decide(ask(channel="C0GOOD")).allowed
    assert p.decide(ask(channel="C0OTHER")).setting == "QFLOW_ALLOWED_CHANNELS"
    assert p.decide(ask(channel="D0MYDM", channel_kind="im")).allowed  # DMs with the app
    assert policy(QFLOW_DENIED_CHANNELS="C0BAD").decide(ask(channel="C0BAD")).setting == "QFLOW_DENIED_CHANNELS"


@pytest.mark.parametrize("user,groups,allowed", [
    ("U0LISTED", frozenset(), True), ("U0OTHER", frozenset({"S0ONCALL"}), True),
    ("U0OTHER", frozenset({"S0ELSE"}), False), (None, frozenset(), False),
])
def test_user_and_group_allow_lists(user, groups, allowed):
    p = policy(QFLOW_ALLOWED_USERS="U0LISTED", QFLOW_ALLOWED_USERGROUPS="S0ONCALL")
    assert p.decide(ask(user=user, usergroups=groups)).allowed is allowed


def test_the_deny_list_wins_over_the_allow_lists():
    p = policy(QFLOW_ALLOWED_USERS="U0ME", QFLOW_DENIED_CHANNELS="C0CHAN")
    assert not p.decide(ask()).allowed


# --- Enterprise Grid: the organisation's people are members, whichever workspace -------------------


@pytest.mark.parametrize("org_wide", [True, False])
def test_grid_people_of_the_organisation_are_members_whichever_workspace(org_wide):
    p = grid_policy(org_wide)
    assert p.decide(ask(user_team="T0ELSEWHERE", user_enterprise="E0ORG")).allowed
    assert p.decide(ask(user_team="E0ORG")).allowed  # a payload naming the user's team by its organisation
    other = p.decide(ask(user_team="T0OTHERORG", user_enterprise="E0OTHER"))
    assert not other.allowed and other.setting == "the installation"
    assert not p.decide(ask(user_team="E0OTHER")).allowed


def test_grid_another_organisation_still_follows_the_shared_channel_rule():
    p = grid_policy()
    assert p.decide(ask(user_team="T0X", user_enterprise="E0OTHER", shared=True)).setting == "QFLOW_ALLOW_SHARED_CHANNELS"
    allowed = grid_policy(QFLOW_ALLOW_SHARED_CHANNELS="true")
    assert not allowed.decide(ask(user_team="T0X", user_enterprise="E0OTHER", shared=True)).allowed
    assert allowed.decide(ask(user_team="T0X", user_enterprise="E0ORG", shared=True)).allowed


def test_grid_a_workspace_named_without_its_organisation_passes_only_in_a_channel_of_the_organisation():
    p, shared_ok = grid_policy(), grid_policy(QFLOW_ALLOW_SHARED_CHANNELS="true")
    assert p.decide(ask(user_team="T0ELSEWHERE", shared=False)).allowed
    assert p.decide(ask(user_team=None, shared=False)).allowed
    decision = shared_ok.decide(ask(user_team="T0ELSEWHERE", shared=True))
    assert not decision.allowed and decision.setting == "the installation"


def test_without_grid_an_organisation_id_is_another_organisation():
    assert not policy().decide(ask(user_team=None, user_enterprise="E0ORG", single_workspace=False)).allowed
    assert not policy().decide(ask(user_team="T0OTHER", shared=False)).allowed


# --- fail closed: a rule whose fact is unknown refuses ------------------------------------------


def test_an_unknown_installing_workspace_refuses_anyone_whose_workspace_is_named():
    unknown_home = Policy(load_settings(BASE), None)
    for team in ("T0HOME", "T0OTHER"):
        decision = unknown_home.decide(ask(user_team=team, public=True))
        assert not decision.allowed and "confirm" in reason_of(decision) and decision.setting == "the installation"


def test_an_unknown_user_workspace_passes_only_where_the_channel_vouches_for_everyone_in_it():
    assert policy().decide(ask(user_team=None, single_workspace=True)).allowed
    for single in (None, False):
        decision = policy().decide(ask(user_team=None, single_workspace=single))
        assert not decision.allowed and decision.setting == "the installation"


def test_an_unknown_channel_is_refused_when_a_channel_list_is_set():
    assert policy(QFLOW_DENIED_CHANNELS="C0BAD").decide(ask(channel=None)).setting == "the channel rules"
    assert policy(QFLOW_ALLOWED_CHANNELS="C0GOOD").decide(ask(channel=None, channel_kind=None)).setting == \
        "QFLOW_ALLOWED_CHANNELS"


# --- generated: an unknown fact never allows what some value of it would refuse -----------------------

import itertools  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TEAMS, CHANNELS, KINDS = ("T0HOME", "T0OTHER"), ("C0GOOD", "C0BAD", "C0X", "D0DM"), ("public", "private", "im", "mpim")
ORGS = ("E0ORG", "E0OTHER")
HOMES = (Home("T0HOME"), Home("T0HOME", "E0ORG"), Home("E0ORG", "E0ORG", True))
maybe = lambda values: st.one_of(st.none(), st.sampled_from(values))  # noqa: E731
settings_env = st.fixed_dictionaries({}, optional={
    "QFLOW_DENIED_CHANNELS": st.just("C0BAD"), "QFLOW_ALLOWED_CHANNELS": st.just("C0GOOD"),
    "QFLOW_ALLOW_SHARED_CHANNELS": st.sampled_from(["true", "false"]), "QFLOW_ALLOWED_USERS": st.just("U0ME"),
    "QFLOW_ALLOWED_USERGROUPS": st.just("S0ONCALL")})


def completions(home, asker):
    """Every world the unknown facts could stand for: a channel with one workspace in it holds no
    outsider, and one not shared outside a Grid organisation holds only its people."""
    for known_home, team, org, channel, kind, shared, single in itertools.product(
            [home] if home else HOMES, [asker.user_team] if asker.user_team else TEAMS,
            [asker.user_enterprise] if asker.user_enterprise else (*ORGS, None),
            [asker.channel] if asker.channel else CHANNELS, [asker.channel_kind] if asker.channel_kind else KINDS,
            [asker.shared] if asker.shared is not None else (True, False),
            [asker.single_workspace] if asker.single_workspace is not None else (True, False)):
        if (single and (shared or team != known_home.team)) or (shared and single):
            continue
        if org and not known_home.enterprise and org == "E0ORG":
            continue  # no Grid organisation of ours: the asker's is another
        if not shared and known_home.enterprise and org != known_home.enterprise:
            continue  # a channel not shared outside the organisation holds no one from elsewhere
        yield known_home, Asker(asker.user, channel, asker.entry, asker.public, team, kind, shared,
                                asker.usergroups, single, org)


@given(settings_env, st.one_of(st.none(), st.sampled_from(HOMES)), st.sampled_from(["U0ME", "U0YOU"]), maybe(TEAMS),
       maybe(ORGS), maybe(CHANNELS), maybe(KINDS), st.one_of(st.none(), st.booleans()),
       st.one_of(st.none(), st.booleans()), st.booleans(), st.sets(st.sampled_from(["S0ONCALL", "S0ELSE"])))
def test_an_unknown_fact_never_allows_what_a_known_one_would_refuse(env, home, user, team, org, channel, kind, shared,
                                                                   single, public, groups):
    settings = load_settings({**BASE, **env})
    asker = Asker(user, channel, "command", public, team, kind, shared, frozenset(groups), single, org)
    if not Policy(settings, home).decide(asker).allowed:
        return
    for known_home, world in completions(home, asker):
        assert Policy(settings, known_home).decide(world).allowed, (asker, known_home, world)
