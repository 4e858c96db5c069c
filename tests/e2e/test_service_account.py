"""A service account: the app logs in at /auth, reuses the JWT, and renews it once on a 401."""

from __future__ import annotations

from urllib.parse import parse_qs

from tests.e2e.harness import app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import PASSWORD, USERNAME
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import all_text, assert_valid_message


def lookup(app, slack, execution_id):
    url = slack.new_response_url()
    assert app.command(f"execution {execution_id}", url).status_code == 200
    [answer] = slack.wait_for_responses(url)
    assert_valid_message(answer.data)
    return answer.data


def test_login_reuse_renewal_and_auth_outage():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_USERNAME=USERNAME, QUALYS_PASSWORD=PASSWORD)
        with run_app(env) as app:
            first, second, third, fourth = (new_execution(qualys) for _ in range(4))
            assert lookup(app, slack, first)["blocks"][0]["text"]["text"].startswith("✅")
            logins = qualys.calls("/auth")
            assert len(logins) == 1
            assert parse_qs(logins[0].body.decode()) == {"username": [USERNAME], "password": [PASSWORD], "token": ["true"]}
            assert logins[0].headers["content-type"] == "application/x-www-form-urlencoded"

            lookup(app, slack, second)
            assert len(qualys.calls("/auth")) == 1  # reused until shortly before exp

            for token in list(qualys.valid_tokens):
                qualys.expire(token)  # the JWT expires mid-run
            assert lookup(app, slack, third)["blocks"][0]["text"]["text"].startswith("✅")
            assert len(qualys.calls("/auth")) == 2
            statuses = [r for r in qualys.execution_calls(third)]
            assert len(statuses) == 2  # one 401, one success with the new token

            for token in list(qualys.valid_tokens):
                qualys.expire(token)
            qualys.fail_next("/auth", Reply(503, "{}"), Reply(fault="reset"))  # an /auth outage, then back
            assert lookup(app, slack, fourth)["blocks"][0]["text"]["text"].startswith("✅")
            assert PASSWORD not in app.log_text


def test_wrong_password_is_an_admin_problem_not_the_users():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_USERNAME=USERNAME, QUALYS_PASSWORD="wrong-password")
        with run_app(env) as app:
            text = all_text(lookup(app, slack, new_execution(qualys)))
            assert "could not log in" in text and "isn't something you did" in text
            assert len(qualys.calls("/auth")) == 1  # refused credentials are not hammered
            assert "wrong-password" not in app.log_text
