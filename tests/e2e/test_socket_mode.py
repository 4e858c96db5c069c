"""Socket Mode: the real slack_sdk Socket Mode client against a loopback WebSocket stand-in."""

from __future__ import annotations

import json
import queue
import threading
import time

from websockets.sync.server import serve

from tests.e2e.harness import app_env, run_app
from tests.fakes.slack import APP_TOKEN, FakeSlack
from tests.fakes.world import stock_qualys
from tests.slack_checks import assert_valid_message

SAMPLE = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


def test_slash_command_over_socket_mode():
    slack, qualys = FakeSlack().start(), stock_qualys()
    acks: queue.Queue[dict] = queue.Queue()
    response_url = slack.new_response_url()
    envelope = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {"team_id": "T0FAKE", "channel_id": "C0CHAN", "user_id": "U0ASKER", "command": "/qflow",
                    "text": f"execution {SAMPLE}", "response_url": response_url, "trigger_id": "1.2.3",
                    "api_app_id": "A0APP"},
    }

    mention = {"type": "event_callback", "team_id": "T0FAKE", "api_app_id": "A0APP", "event_id": "EvSOCKET1",
               "event_time": 1, "event": {"type": "app_mention", "user": "U0ASKER", "channel": "C0SOCK",
                                          "ts": "1700000500.1", "text": f"<@U0BOT> {SAMPLE}"}}

    def slack_socket(connection):
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}))
        connection.send(json.dumps(envelope))
        for attempt in (0, 1):  # the same event, and Slack's retry of it
            connection.send(json.dumps({"envelope_id": f"env-mention-{attempt}", "type": "events_api",
                                        "accepts_response_payload": False, "retry_attempt": attempt,
                                        "retry_reason": "timeout" if attempt else "", "payload": mention}))
        for message in connection:
            data = json.loads(message)
            if data.get("envelope_id"):
                acks.put(data)

    with serve(slack_socket, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        slack.socket_url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link"
        try:
            env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), SLACK_APP_TOKEN=APP_TOKEN,
                          SLACK_SIGNING_SECRET="", PORT="0")  # PORT set: /healthz and /metrics are served
            with run_app(env, wait_for="connected to Slack in Socket Mode") as app:
                got = {a["envelope_id"]: a for a in (acks.get(timeout=15) for _ in range(3))}
                assert set(got) == {"env-1", "env-mention-0", "env-mention-1"}
                assert "Looking up" in got["env-1"]["payload"]["text"]
                [answer] = slack.wait_for_responses(response_url)
                assert_valid_message(answer.data)
                assert answer.data["blocks"][0]["text"]["text"] == "✅ Success · Remediate public S3 buckets"
                assert slack.api_calls("apps.connections.open")
                [card] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postMessage"
                                                      and r.data.get("channel") == "C0SOCK"] or None)
                assert card["thread_ts"] == "1700000500.1"

                health = app.http.get(app.url + "/healthz")
                assert (health.status_code, health.json()) == (200, {"status": "ok", "state": "sqlite", "degraded": False})
                scraped = app.http.get(app.url + "/metrics").text
                assert 'qflow_ack_seconds_count{mode="socket"} 3.0' in scraped
                assert 'qflow_lookups_total{entry="command",outcome="card"} 1.0' in scraped
                assert app.http.post(app.url + "/slack/events", content=b"{}").status_code == 404  # no HTTP events

                server.shutdown()  # Slack drops the connection and refuses new ones: no longer ready
                deadline = time.monotonic() + 15
                while app.http.get(app.url + "/healthz").status_code != 503:
                    assert time.monotonic() < deadline, "/healthz stayed 200 with no Socket Mode connection"
                    threading.Event().wait(0.05)
                assert app.http.get(app.url + "/healthz").json()["status"] == "unavailable"
                assert app.stop() == 0  # drains the work in flight: a duplicate would be posted by now
                assert len([r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0SOCK"]) == 1
        finally:
            server.shutdown()
            slack.stop()
            qualys.stop()
