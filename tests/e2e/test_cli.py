"""The command line as a new user meets it: a bad setup, `preview`, `doctor`, clean shutdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.harness import ROOT, app_env
from tests.fakes.qualys import make_jwt
from tests.fakes.world import fakes
from tests.slack_checks import all_text, assert_valid_message

SAMPLE = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


def run(args, env, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "QUALYS_", "QFLOW_"))}
    return {**env, **extra}


def test_bad_settings_stop_the_app_with_one_message_naming_each(tmp_path):
    result = run([], clean_env(SLACK_BOT_TOKEN="xoxp-wrong-kind-secret", QUALYS_PLATFORM="MARS", PORT="x"),
                 cwd=tmp_path)
    assert result.returncode == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "QUALYS_PLATFORM", "QUALYS_TOKEN", "PORT"):
        assert name in result.stderr
    assert "xoxp-wrong-kind-secret" not in result.stderr + result.stdout


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\nQUALYS_PLATFORM=MARS\n")
    result = run([], clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" not in result.stderr and "QUALYS_PLATFORM should be one of" in result.stderr


def test_only_the_working_directory_dotenv_is_read(tmp_path):
    (tmp_path / ".env").write_text("QUALYS_PLATFORM=MARS\n")  # a parent folder's, not the app's
    (tmp_path / "app").mkdir()
    result = run([], clean_env(), cwd=tmp_path / "app")
    assert result.returncode == 2 and "QUALYS_PLATFORM should be one of" not in result.stderr
    assert "QUALYS_PLATFORM or QUALYS_BASE_URL is not set" in result.stderr


def test_an_unreachable_slack_at_start_is_not_reported_as_a_refused_token():
    env = clean_env(SLACK_BOT_TOKEN="xoxb-1-good-looking", SLACK_SIGNING_SECRET="s" * 16, QUALYS_PLATFORM="US1",
                    QUALYS_TOKEN="a.b.c", SLACK_API_URL="http://127.0.0.1:9/api/", PORT="0")
    result = run([], env)
    assert result.returncode == 1
    assert "Could not reach Slack at http://127.0.0.1:9/api/" in result.stderr
    assert "did not accept SLACK_BOT_TOKEN" not in result.stderr


def test_doctor_reads_cleanly_when_nothing_is_reachable():
    env = clean_env(SLACK_BOT_TOKEN="xoxb-1-good-looking", SLACK_SIGNING_SECRET="s" * 16, QUALYS_TOKEN="a.b.c",
                    SLACK_API_URL="http://127.0.0.1:9/api/", QUALYS_BASE_URL="http://127.0.0.1:9",
                    QFLOW_TIMEOUT_SECONDS="1")
    result = run(["doctor"], env)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode != 0 and lines
    *checks, verdict = lines
    assert all(line.startswith(("✓", "✗", "-")) for line in checks), lines  # no raw library lines among them
    assert any("could not reach http://127.0.0.1:9" in line for line in checks), lines
    assert not any(line.count("could not reach") > 1 for line in checks), lines
    assert "run `scripts/run doctor` again" in verdict


def test_help_says_what_running_with_no_subcommand_does():
    for args in (["--help"], ["help"]):
        result = run(args, clean_env())
        assert result.returncode == 0 and "With no subcommand it serves Slack" in result.stdout, result.stderr


def test_preview_prints_the_unfurl_form_on_request():
    full = json.loads(run(["preview", "examples/failed-with-steps.json"], clean_env()).stdout)
    unfurl = json.loads(run(["preview", "examples/failed-with-steps.json", "--unfurl"], clean_env()).stdout)
    assert full["blocks"][0]["type"] == "header" and unfurl["blocks"][0]["type"] == "section"
    assert_valid_message(unfurl)
    names = {e["text"]["text"] for b in unfurl["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert "Share in channel" not in names and "Show steps" in names  # an unfurl is public already


def test_preview_offline_files(tmp_path):
    for name, steps in (("sample-response.json", False), ("failed-with-steps.json", True), ("running.json", False)):
        result = run(["preview", f"examples/{name}", *(["--steps"] if steps else [])], clean_env())
        assert result.returncode == 0, result.stderr
        payload = json.loads(result.stdout)
        assert set(payload) == {"text", "blocks"}
        assert_valid_message(payload)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"id": SAMPLE, "status": "Failed", "error": "<!channel> boom"}))
    payload = json.loads(run(["preview", str(bare), "--errors"], clean_env()).stdout)
    assert "&lt;!channel&gt; boom" in all_text(payload)
    bad = run(["preview", "nope.json"], clean_env())
    assert bad.returncode == 2 and "cannot read" in bad.stderr
    assert run(["preview", "banana"], clean_env()).returncode == 2


def test_preview_live_and_doctor_against_the_fakes():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())
        live = run(["preview", SAMPLE], env)
        assert live.returncode == 0, live.stderr
        assert json.loads(live.stdout)["blocks"][0]["text"]["text"] == "✅ Success · Remediate public S3 buckets"
        missing = run(["preview", "11111111-2222-4333-8444-555555555555"], env)
        assert missing.returncode == 1 and "No execution" in missing.stdout

        doctor = run(["doctor"], env)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "✓ Slack" in doctor.stdout and "✓ Qualys" in doctor.stdout and "All checks passed" in doctor.stdout
        assert "installed on workspace 'Fake Workspace'," in doctor.stdout
        assert run(["doctor", "--execution", SAMPLE], env).returncode == 0

        slack.enterprise_id = "E0FAKEORG"  # the same token, now an Enterprise Grid install…
        assert "of Enterprise Grid organisation E0FAKEORG (people of its other workspaces" in run(["doctor"], env).stdout
        slack.org_wide = True  # …and an org-wide one
        doctor = run(["doctor"], env)
        assert doctor.returncode == 0 and "installed org-wide on Enterprise Grid organisation E0FAKEORG" in doctor.stdout
        slack.enterprise_id, slack.org_wide = None, False

        broken = {**env, "SLACK_BOT_TOKEN": "xoxb-revoked-token", "QUALYS_TOKEN": make_jwt(0)}
        doctor = run(["doctor"], broken)
        assert doctor.returncode == 1
        assert "invalid_auth" in doctor.stdout and "QUALYS_TOKEN expired" in doctor.stdout
        assert "xoxb-revoked-token" not in doctor.stdout

        refused = {**env, "QUALYS_TOKEN": make_jwt(4102444800)}  # well-formed, unexpired, unknown to the gateway
        doctor = run(["doctor"], refused)
        assert doctor.returncode == 1 and "service token was refused (401)" in doctor.stdout


def test_doctor_checks_the_app_token_in_socket_mode():
    with fakes() as (slack, qualys):
        from tests.fakes.slack import APP_TOKEN

        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), SLACK_APP_TOKEN=APP_TOKEN)
        doctor = run(["doctor"], env)
        assert doctor.returncode == 0 and "app-level token can open Socket Mode connections" in doctor.stdout
        doctor = run(["doctor"], {**env, "SLACK_APP_TOKEN": "xapp-1-not-the-right-one"})
        assert doctor.returncode == 1 and "SLACK_APP_TOKEN was refused (invalid_auth)" in doctor.stdout
        assert "xapp-1-not-the-right-one" not in doctor.stdout


def test_doctor_logs_the_service_account_in():
    from tests.fakes.qualys import PASSWORD, USERNAME

    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_USERNAME=USERNAME, QUALYS_PASSWORD=PASSWORD)
        doctor = run(["doctor"], env)
        assert doctor.returncode == 0, doctor.stdout
        assert "✓ Qualys: the service account logged in" in doctor.stdout
        doctor = run(["doctor"], {**env, "QUALYS_PASSWORD": "wrong-one"})
        assert doctor.returncode == 1 and "could not log in" in doctor.stdout and "wrong-one" not in doctor.stdout


def test_preview_masks_operator_patterns_and_the_apps_own_secrets(tmp_path):
    execution = tmp_path / "secret.json"
    execution.write_text(json.dumps({"data": {"id": SAMPLE, "status": "Failed",
                                              "error": "ticket ACME-123456 used xoxb-own-token-for-preview"}}))
    env = clean_env(SLACK_BOT_TOKEN="xoxb-own-token-for-preview", QFLOW_REDACT_PATTERNS='["ACME-[0-9]{6}"]')
    result = run(["preview", str(execution), "--errors"], env)
    assert result.returncode == 0, result.stderr
    assert "ACME-123456" not in result.stdout and "xoxb-own-token-for-preview" not in result.stdout
    assert "ticket ••• used •••" in result.stdout


def test_doctor_reports_the_policy_and_missing_scopes():
    from bot.doctor import SCOPES

    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_ALLOWED_USERGROUPS="S0ONCALL")
        slack.scopes = list(SCOPES)
        doctor = run(["doctor"], env)
        assert doctor.returncode == 1 and "lacks usergroups:read" in doctor.stdout
        assert "✓ policy: 0 listed people and members of 1 user group(s)" in doctor.stdout
        slack.scopes = [*SCOPES, "usergroups:read"]
        doctor = run(["doctor"], env)
        assert doctor.returncode == 0 and "has every scope the app uses" in doctor.stdout
