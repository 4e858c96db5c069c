"""LOG_FORMAT=json: every line the real app prints is one JSON object, and lines written while answering
a request name it (team, user, channel, entry point, execution id, event id)."""

from __future__ import annotations

import json

from tests.e2e.harness import app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import error_body
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET
from tests.fakes.world import fakes, new_execution

MISSING = "11111111-2222-4333-8444-555555555555"


def test_every_line_is_a_json_object_and_names_its_request():
    with fakes() as (slack, qualys):
        token = qualys.issue_token()
        env = app_env(slack, qualys, QUALYS_TOKEN=token, LOG_FORMAT="json", LOG_LEVEL="DEBUG")
        with run_app(env) as app:
            # A command whose execution does not exist (logged: the lookup failed).
            url = slack.new_response_url()
            app.command(f"execution {MISSING}", url)
            slack.wait_for_responses(url)
            # A mention, delivered twice (logged: the redelivery is dropped).
            found = new_execution(qualys)
            qualys.fail_next(f"/qflowapi/v1/executions/{found}", Reply(503, error_body(503, "x", "busy")))
            event = {"type": "app_mention", "user": "U0MENTION", "channel": "C0JSON", "ts": "1700000700.1",
                     "text": f"<@U0BOT> {found}"}
            app.event(event, "EvJSON1")
            app.event(event, "EvJSON1", retry_num=1)
            slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("api") == "chat.postMessage"
                                         and r.data.get("channel") == "C0JSON"] or None)
            assert app.stop() == 0
        lines = [json.loads(line) for line in app.log]  # any line that is not JSON fails here
        assert lines and all(isinstance(line, dict) for line in lines)
        logged = [line for line in lines if "level" in line]  # the rest are audit lines (also JSON)
        assert all({"time", "level", "logger", "message"} <= set(line) for line in logged)
        assert {line["level"] for line in logged} >= {"INFO"}

        [failed] = [line for line in logged if line["message"].startswith(f"lookup of {MISSING} failed")]
        assert failed.get("execution_id") == MISSING and failed.get("entry") == "command", failed
        assert (failed["team"], failed["user"], failed["channel"]) == ("T0FAKE", "U0ASKER", "C0CHAN")

        [retried] = [line for line in logged if "failed (ServerError); retry" in line["message"]]
        assert (retried["entry"], retried["event_id"], retried["user"], retried["channel"], retried["execution_id"]) \
            == ("mention", "EvJSON1", "U0MENTION", "C0JSON", found)
        [dropped] = [line for line in logged if line["message"].startswith("dropping a redelivered event")]
        assert dropped["event_id"] == "EvJSON1" and dropped["entry"] == "mention"

        text = "\n".join(app.log)
        for secret in (token, BOT_TOKEN, SIGNING_SECRET):
            assert secret not in text


def test_a_setting_error_is_a_json_line_too():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), LOG_FORMAT="json", PORT="http")
        with run_app(env, wait_for=None) as app:
            assert app.process.wait(timeout=30) == 2
            app.wait_for_log("PORT")
        [line] = [json.loads(line) for line in app.log]
        assert line["level"] == "ERROR" and "PORT" in line["message"]
