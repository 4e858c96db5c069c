import os

from slack_sdk import WebClient

from bot.audit import AuditLog
from bot.config import load_settings
from bot.policy import Asker, Policy
from bot.render.refusals import denial_text
from bot.slack.access import Access
from tests.fakes.slack import BOT_TOKEN, FakeSlack

ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "QUALYS_PLATFORM": "US1", "QUALYS_TOKEN": "a.b.c"}


def test_channel_facts_and_group_members_are_read_once_and_decide():
    slack = FakeSlack().start()
    try:
        slack.channels["C0EXT"] = {"is_ext_shared": True}
        slack.invisible.add("G0SECRET")
        slack.usergroups["S0ONCALL"] = ["U0ONCALL"]
        settings = load_settings({**ENV, "QFLOW_ALLOWED_USERGROUPS": "S0ONCALL"})
        access = Access(Policy(settings, None), WebClient(token=BOT_TOKEN, base_url=slack.api_url),
                        audit=AuditLog(os.devnull), contact="the app's admin")
        home = "T0FAKE"
        assert access.check(Asker("U0ONCALL", "C0OPEN", "command", public=True, user_team=home)).allowed
        assert access.check(Asker("U0ONCALL", "C0OPEN", "click", public=True)).allowed  # an unshared channel vouches
        assert not access.check(Asker("U0NOBODY", "C0OPEN", "command", public=False, user_team=home)).allowed
        assert access.check(Asker("U0ONCALL", "C0EXT", "command", public=False, user_team=home)).setting == \
            "QFLOW_ALLOW_SHARED_CHANNELS"
        assert not access.check(Asker("U0ONCALL", "G0SECRET", "command", public=False, user_team=home)).allowed
        assert not access.check(Asker("U0ONCALL", "G0SECRET", "mention", public=True, user_team=home)).allowed
        # Where nothing tells the asker's workspace, the rule refuses instead of passing.
        assert access.check(Asker("U0ONCALL", "C0OPEN", "command", public=False, shared=None,
                                  single_workspace=False)).setting == "the installation"
        assert access.check(Asker("U0ONCALL", "C0OPEN", "command", False, user_team="T0ELSE")).setting == "the installation"
        calls = [r.meta["api"] for r in slack.requests]
        assert calls.count("conversations.info") == 3 and calls.count("usergroups.users.list") == 1
        assert calls.count("auth.test") == 1  # the installing workspace, asked once
    finally:
        slack.stop()


def test_denials_name_the_setting_and_who_to_ask():
    settings = load_settings({**ENV, "QFLOW_DENIED_CHANNELS": "C0NO"})
    decision = Policy(settings, "T1").decide(Asker("U1", "C0NO", "command", False, channel_kind="public", shared=False))
    text = denial_text(decision, "#secops-help")
    assert text.startswith("🔒 I can't show QFlow executions here: this channel is on the app's deny list.")
    assert "#secops-help can change this (QFLOW_DENIED_CHANNELS)" in text


def test_asking_for_the_installation_at_start_survives_slack_being_unreachable(caplog):
    from tests.redis_server import free_port

    settings = load_settings(ENV)
    access = Access(Policy(settings, None), WebClient(token=BOT_TOKEN, base_url=f"http://127.0.0.1:{free_port()}/api/"),
                    audit=AuditLog(os.devnull), contact="the app's admin")
    access.learn_installation()  # nothing listens there: logged, not raised
    assert access.policy.home is None
    assert "could not ask Slack for the installing workspace at start (URLError)" in caplog.text
    # The requests ask again, and refuse while Slack cannot say.
    assert access.check(Asker("U1", "C0OPEN", "command", public=True, user_team="T0FAKE")).rule is not None
