"""Socket Mode: the real slack_sdk Socket Mode client against a loopback WebSocket stand-in."""

from __future__ import annotations

import json
import queue
import threading

from websockets.sync.server import serve

from tests.e2e.conftest import stock_qualys
from tests.e2e.harness import app_env, run_app
from tests.fakes.slack import APP_TOKEN, FakeSlack
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

    def slack_socket(connection):
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}))
        connection.send(json.dumps(envelope))
        for message in connection:
            data = json.loads(message)
            if data.get("envelope_id"):
                acks.put(data)

    with serve(slack_socket, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        slack.socket_url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link"
        try:
            env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), SLACK_APP_TOKEN=APP_TOKEN,
                          SLACK_SIGNING_SECRET="")
            with run_app(env, wait_for="connected to Slack in Socket Mode") as app:
                ack = acks.get(timeout=15)
                assert ack["envelope_id"] == "env-1" and "Looking up" in ack["payload"]["text"]
                [answer] = slack.wait_for_responses(response_url)
                assert_valid_message(answer.data)
                assert answer.data["blocks"][0]["text"]["text"] == "✅ Success · Remediate public S3 buckets"
                assert slack.api_calls("apps.connections.open")
                assert app.stop() == 0
        finally:
            server.shutdown()
            slack.stop()
            qualys.stop()
