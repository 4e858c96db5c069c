import pytest

from bot.config import ConfigError, load_settings

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-123-abc",
    "SLACK_SIGNING_SECRET": "sig-secret-value",
    "QUALYS_PLATFORM": "eu2",
    "QUALYS_TOKEN": "aaa.bbb.ccc",
}


def test_good_settings_and_platform_urls():
    s = load_settings(GOOD)
    assert s.mode == "http" and s.slack.port == 3000 and s.slack.host == "0.0.0.0"
    assert s.qualys_gateway_url == "https://gateway.qg2.apps.qualys.eu"
    assert s.qualys_ui_url == "https://qualysguard.qg2.apps.qualys.eu"
    assert s.slack_api_url == "https://slack.com/api/" and s.qualys.execution_method == "POST"
    assert "xoxb" not in repr(s) and "aaa.bbb" not in repr(s) and "sig-secret" not in repr(s)


def test_every_problem_is_named_at_once_without_echoing_secrets():
    env = {"SLACK_BOT_TOKEN": "xoxp-user-token-secret", "QUALYS_PLATFORM": "MARS1", "QUALYS_USERNAME": "svc",
           "PORT": "http", "QFLOW_EXECUTION_METHOD": "PUT", "QFLOW_OPEN_URL_TEMPLATE": "{ui_url}/{nope}"}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    message = str(info.value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "QUALYS_PLATFORM", "QUALYS_PASSWORD", "PORT",
                 "QFLOW_EXECUTION_METHOD", "QFLOW_OPEN_URL_TEMPLATE"):
        assert name in message
    assert len(info.value.problems) == 7
    assert "xoxp-user-token-secret" not in message


def test_base_url_wins_over_platform_and_implies_known_ui():
    s = load_settings({**GOOD, "QUALYS_BASE_URL": "https://gateway.qg3.apps.qualys.com/"})
    assert s.qualys_gateway_url == "https://gateway.qg3.apps.qualys.com"
    assert s.qualys_ui_url == "https://qualysguard.qg2.apps.qualys.eu"  # the platform still names the UI
    private = load_settings({k: v for k, v in GOOD.items() if k != "QUALYS_PLATFORM"}
                            | {"QUALYS_BASE_URL": "https://qualys.private.example"})
    assert private.qualys_ui_url is None and private.open_url("x", None) is None
    derived = load_settings({k: v for k, v in GOOD.items() if k != "QUALYS_PLATFORM"}
                            | {"QUALYS_BASE_URL": "https://gateway.qg1.apps.qualys.ca"})
    assert derived.qualys_ui_url == "https://qualysguard.qg1.apps.qualys.ca"


def test_socket_mode_needs_app_token_not_signing_secret():
    env = {k: v for k, v in GOOD.items() if k != "SLACK_SIGNING_SECRET"} | {"SLACK_APP_TOKEN": "xapp-1-abc"}
    assert load_settings(env).mode == "socket"
    with pytest.raises(ConfigError) as info:
        load_settings(env | {"SLACK_APP_TOKEN": "xoxb-wrong"})
    assert "SLACK_APP_TOKEN" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_settings(env, mode="socket") if False else load_settings({**env, "SLACK_APP_TOKEN": ""}, mode="socket")
    assert "SLACK_APP_TOKEN is not set" in str(info.value)


def test_token_choices():
    assert load_settings({**GOOD, "QUALYS_TOKEN": "Bearer aaa.bbb.ccc"}).qualys.token.get_secret_value() == "aaa.bbb.ccc"
    both = {**GOOD, "QUALYS_USERNAME": "u", "QUALYS_PASSWORD": "p"}
    with pytest.raises(ConfigError, match="both set"):
        load_settings(both)
    account = {k: v for k, v in both.items() if k != "QUALYS_TOKEN"}
    assert load_settings(account).qualys.username == "u"
    with pytest.raises(ConfigError, match="JWT"):
        load_settings({**GOOD, "QUALYS_TOKEN": "not a jwt"})


def test_open_url_template():
    s = load_settings({**GOOD, "QFLOW_OPEN_URL_TEMPLATE": "{ui_url}/qflow/#/executions/{execution_id}?wf={workflow_id}"})
    assert s.open_url("e1", "w1") == "https://qualysguard.qg2.apps.qualys.eu/qflow/#/executions/e1?wf=w1"
    assert load_settings(GOOD).open_url("e1", None) == "https://qualysguard.qg2.apps.qualys.eu/"
    assert s.open_url_is_run and not load_settings(GOOD).open_url_is_run
    # Only a real placeholder names the run: doubled braces are literal text.
    assert not load_settings({**GOOD, "QFLOW_OPEN_URL_TEMPLATE": "{ui_url}/{{execution_id}}"}).open_url_is_run
    with pytest.raises(ConfigError, match="http"):
        load_settings({**GOOD, "QFLOW_OPEN_URL_TEMPLATE": "javascript:{execution_id}"})


def test_preview_needs_nothing():
    assert load_settings({}, need_slack=False, need_qualys=False).qualys_gateway_url is None


def test_the_env_example_placeholders_are_named_as_such():
    with pytest.raises(ConfigError) as info:
        load_settings({**GOOD, "SLACK_BOT_TOKEN": "xoxb-your-bot-token", "SLACK_SIGNING_SECRET": "your-signing-secret"})
    assert "SLACK_BOT_TOKEN still holds the .env.example placeholder" in str(info.value)
    assert "SLACK_SIGNING_SECRET" in str(info.value)


def test_audit_log_target(tmp_path):
    assert load_settings({**GOOD, "QFLOW_AUDIT_LOG": str(tmp_path / "audit.jsonl")}).tuning.audit_log.endswith("audit.jsonl")
    with pytest.raises(ConfigError, match="QFLOW_AUDIT_LOG"):
        load_settings({**GOOD, "QFLOW_AUDIT_LOG": str(tmp_path / "missing" / "audit.jsonl")})
    with pytest.raises(ConfigError, match="QFLOW_AUDIT_LOG"):
        load_settings({**GOOD, "QFLOW_AUDIT_LOG": str(tmp_path)})
