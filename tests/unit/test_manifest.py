"""The Slack app manifest declares what the app listens to, and nothing Slack would refuse."""

from pathlib import Path

import yaml

from bot.doctor import SCOPES
from bot.links import LinkMatcher
from bot.qflow.platforms import PLATFORMS
from bot.slack.listeners.shortcuts import CALLBACK_ID

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text())


def test_command_interactivity_and_events_share_one_url():
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == "/qflow"
    settings = MANIFEST["settings"]
    for url in (command["url"], settings["interactivity"]["request_url"], settings["event_subscriptions"]["request_url"]):
        assert url.endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["org_deploy_enabled"] is True  # an Enterprise Grid organisation may install it org-wide


def test_events_scopes_and_shortcut_match_the_listeners():
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {"link_shared", "app_mention", "message.im",
                                                                            "app_home_opened"}
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert scopes == {"commands", "links:read", "links:write", "app_mentions:read", "chat:write", "im:history",
                      "channels:read", "groups:read", "im:read", "mpim:read", "usergroups:read"}
    assert scopes == {*SCOPES, "usergroups:read"}  # what `doctor` checks the bot token for
    [shortcut] = MANIFEST["features"]["shortcuts"]
    assert shortcut["callback_id"] == CALLBACK_ID and shortcut["type"] == "message"
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True


def test_unfurl_domains_are_at_most_five_and_cover_real_platform_hosts():
    domains = MANIFEST["features"]["unfurl_domains"]
    assert 1 <= len(domains) <= 5
    covered = {name for name, p in PLATFORMS.items()
               if any(p.ui_host == d or p.ui_host.endswith("." + d) for d in domains)}
    assert {"US1", "US2", "US3", "US4", "EU1", "EU2", "EU3", "IN1", "CA1"} <= covered
    matcher = LinkMatcher()
    for name in covered:  # what Slack sends for these domains, the app recognises
        assert matcher.is_qualys_host(PLATFORMS[name].ui_host)
