"""In-process scenarios, as bolt-python tests itself: a signed request dispatched to the Bolt app the
app's own wiring builds, talking over real HTTP to the loopback fakes of Slack's Web API and Qualys.
Faster and clearer than a subprocess where the process itself is not what is tested."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from slack_bolt import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.config import load_settings
from bot.policy import Asker
from bot.render import SlackMessage
from bot.state import MemoryStore
from bot.wiring import Wired, build
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import all_text, assert_valid_message, buttons


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[Wired, FakeSlack, FakeQualys]]:
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with fakes() as (slack, qualys):
        settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": slack.api_url, "QUALYS_BASE_URL": qualys.url,
                                  "QUALYS_TOKEN": qualys.issue_token(), "QFLOW_AUDIT_LOG": str(audit),
                                  "QFLOW_REFRESH_MAX_MINUTES": "0"})
        wired = build(settings, web=WebClient(token=BOT_TOKEN, base_url=slack.api_url), store=MemoryStore())
        yield wired, slack, qualys
        wired.shutdown()


def dispatch(wired: Wired, body: str, content_type: str = "application/x-www-form-urlencoded") -> int:
    timestamp = str(int(time.time()))
    headers = {"content-type": [content_type], "x-slack-request-timestamp": [timestamp],
               "x-slack-signature": [SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)]}
    return wired.bolt.dispatch(BoltRequest(body=body, headers=headers)).status


def command(wired: Wired, text: str, response_url: str) -> int:
    return dispatch(wired, urlencode({"command": "/qflow", "text": text, "user_id": "U0ASKER", "channel_id": "C0CHAN",
                                      "team_id": "T0FAKE", "response_url": response_url, "trigger_id": "1"}))


def click(wired: Wired, button: dict, response_url: str) -> int:
    payload = {"type": "block_actions", "user": {"id": "U0ASKER", "team_id": "T0FAKE"}, "team": {"id": "T0FAKE"},
               "container": {"type": "message", "is_ephemeral": True, "channel_id": "C0CHAN", "message_ts": "1.1"},
               "channel": {"id": "C0CHAN"}, "response_url": response_url, "trigger_id": "1",
               "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "b",
                            "value": button.get("value"), "action_ts": "1.1"}]}
    return dispatch(wired, urlencode({"payload": json.dumps(payload)}))


def test_a_command_gets_its_card_and_a_click_expands_the_steps(world):
    wired, slack, qualys = world
    execution_id = new_execution(qualys, "failed-with-steps.json")
    url = slack.new_response_url()
    assert command(wired, f"execution {execution_id}", url) == 200
    [card] = slack.wait_for_responses(url)
    assert_valid_message(card.data)
    assert card.data["blocks"][0]["type"] == "header" and "Remediate public S3 buckets" in all_text(card.data)
    steps_url = slack.new_response_url()
    assert click(wired, buttons(card.data)["Show steps"], steps_url) == 200
    [steps] = slack.wait_for_responses(steps_url)
    assert "*Steps*" in all_text(steps.data) and len(qualys.execution_calls(execution_id)) == 1  # the cache


def test_a_forged_button_gets_the_stale_button_answer_and_fetches_nothing(world):
    wired, slack, qualys = world
    url = slack.new_response_url()
    assert click(wired, {"action_id": "qflow_steps", "value": "[" * 900 + "]" * 900}, url) == 200
    [answer] = slack.wait_for_responses(url)
    assert "isn't one I can read" in answer.data["text"]


def test_help_is_answered_in_the_ack_itself(world):
    wired, slack, _ = world
    timestamp = str(int(time.time()))
    body = urlencode({"command": "/qflow", "text": "help", "user_id": "U0ASKER", "channel_id": "C0CHAN",
                      "team_id": "T0FAKE", "response_url": slack.new_response_url()})
    headers = {"content-type": ["application/x-www-form-urlencoded"], "x-slack-request-timestamp": [timestamp],
               "x-slack-signature": [SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)]}
    response = wired.bolt.dispatch(BoltRequest(body=body, headers=headers))
    assert response.status == 200 and "execution &lt;id&gt;" in json.loads(response.body)["text"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_worker_processes_on_one_host_share_a_lookup_through_the_state_file(tmp_path, workers):
    """WEB_CONCURRENCY workers (each the whole app) share the SQLite file's execution cache; one process
    alone keeps it in memory (a second app on the same file then asks Qualys itself)."""
    with fakes() as (slack, qualys):
        settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": slack.api_url, "QUALYS_BASE_URL": qualys.url,
                                  "QUALYS_TOKEN": qualys.issue_token(), "WEB_CONCURRENCY": workers,
                                  "QFLOW_STATE_FILE": str(tmp_path / "state.sqlite3"), "QFLOW_AUDIT_LOG": "-"})
        apps = [build(settings, web=WebClient(token=BOT_TOKEN, base_url=slack.api_url)) for _ in range(2)]
        execution = new_execution(qualys, "failed-with-steps.json")
        try:
            for wired in apps:
                assert wired.lookups.get(execution).execution.id == execution
        finally:
            for wired in apps:
                wired.shutdown()
        assert len(qualys.execution_calls(execution)) == (1 if workers == "2" else 2)


def test_slack_s_requests_are_served_only_with_the_signing_secret_and_checked_once_before_bolt(world):
    import io
    from wsgiref.util import setup_testing_defaults

    from bot.slack.server import make_wsgi_app

    wired, slack, _ = world
    with pytest.raises(ValueError, match="signing secret"):
        make_wsgi_app(wired.bolt, lambda: True)
    serve = make_wsgi_app(wired.bolt, lambda: True, SIGNING_SECRET)
    body = urlencode({"command": "/qflow", "text": "help", "user_id": "U0ASKER", "channel_id": "C0CHAN",
                      "team_id": "T0FAKE", "response_url": slack.new_response_url()}).encode()

    def post(secret: str) -> str:
        timestamp = str(int(time.time()))
        environ: dict = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "wsgi.input": io.BytesIO(body),
                         "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded",
                         "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp, "HTTP_X_SLACK_SIGNATURE":
                         SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body.decode())}
        setup_testing_defaults(environ)
        statuses: list[str] = []
        b"".join(serve(environ, lambda status, headers: statuses.append(status)))
        return statuses[0]

    assert post("not-the-secret") == "401 Unauthorized"  # Bolt itself no longer checks: this is the check
    assert post(SIGNING_SECRET) == "200 OK"


def test_a_watch_confirmed_to_its_asker_no_longer_holds_its_slot(tmp_path):
    """The asker is told "Watching" once the watch's slot is given back: told earlier, the next watch they
    start at once counted this one twice (its card and its slot) and was refused below the limit."""
    with fakes() as (slack, qualys):
        settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": slack.api_url, "QUALYS_BASE_URL": qualys.url,
                                  "QUALYS_TOKEN": qualys.issue_token(), "QFLOW_MAX_WATCHES": "2"})
        wired = build(settings, web=WebClient(token=BOT_TOKEN, base_url=slack.api_url), store=MemoryStore())
        try:
            first, second = (new_execution(qualys, "running.json") for _ in range(2))
            asker = Asker("U0WATCHER", "C0WATCH", "watch", public=True)
            told: list[str] = []

            def say(message: SlackMessage) -> None:  # the asker, starting the next watch as soon as told
                told.append(message.text)
                if len(told) == 1:
                    wired.answers._watching.start(second, asker, say)

            wired.answers._watching.start(first, asker, say)
            assert len(told) == 2 and all("Watching" in text and "QFLOW_MAX_WATCHES" not in text for text in told), told
        finally:
            wired.shutdown(wait=False)


def test_a_request_replayed_at_another_replica_is_acknowledged_and_never_answered(tmp_path, caplog):
    """The ack asks only its own process's memory; the work claims the request in the shared state file
    first, so a replay that reaches another replica gets an ack and nothing else."""
    with fakes() as (slack, qualys):
        settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": slack.api_url, "QUALYS_BASE_URL": qualys.url,
                                  "QUALYS_TOKEN": qualys.issue_token(), "WEB_CONCURRENCY": "2",
                                  "QFLOW_STATE_FILE": str(tmp_path / "state.sqlite3"), "QFLOW_AUDIT_LOG": "-"})
        one, two = (build(settings, web=WebClient(token=BOT_TOKEN, base_url=slack.api_url)) for _ in range(2))
        execution, url = new_execution(qualys), slack.new_response_url()
        body = urlencode({"command": "/qflow", "text": f"execution {execution}", "user_id": "U0ASKER",
                          "channel_id": "C0CHAN", "team_id": "T0FAKE", "response_url": url, "trigger_id": "1"})
        timestamp = str(int(time.time()))
        headers = {"content-type": ["application/x-www-form-urlencoded"], "x-slack-request-timestamp": [timestamp],
                   "x-slack-signature": [SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp,
                                                                                               body=body)]}
        try:
            assert one.bolt.dispatch(BoltRequest(body=body, headers=headers)).status == 200
            assert one.pool.drain(10)  # answered
            assert two.bolt.dispatch(BoltRequest(body=body, headers=headers)).status == 200  # the replay
            assert two.pool.drain(10)
            assert one.bolt.dispatch(BoltRequest(body=body, headers=headers)).status == 401  # seen here: refused
        finally:
            for wired in (one, two):
                wired.shutdown(wait=False)
        assert len(slack.responses(url)) == 1 and len(qualys.execution_calls(execution)) == 1
        assert [r.message for r in caplog.records if "replayed" in r.message] == ["refused a replayed request"] * 2
