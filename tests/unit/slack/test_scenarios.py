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
                                  "QFLOW_REFRESH_MAX_MINUTES": "0", "QFLOW_NAMES_WAIT_SECONDS": "10"})
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
                                  "QFLOW_STATE_FILE": str(tmp_path / "state.sqlite3"), "QFLOW_AUDIT_LOG": "-",
                                  "QFLOW_NAMES_WAIT_SECONDS": "10"})
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
                                  "QFLOW_STATE_FILE": str(tmp_path / "state.sqlite3"), "QFLOW_AUDIT_LOG": "-",
                                  "QFLOW_NAMES_WAIT_SECONDS": "10"})
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


def test_each_request_finds_its_listener_without_bolt_building_every_argument_per_listener(world, monkeypatch):
    """Bolt's matchers build every listener argument (each payload shape parsed) to hand their test the
    body: QFlowApp's hand it the body. The listener's own arguments are still built once, as Bolt does."""
    import slack_bolt.listener.custom_listener as listener_module
    import slack_bolt.listener_matcher.builtins as matcher_module

    from tests.e2e.harness import event_body, link_shared

    built: dict[str, int] = {"matcher": 0, "listener": 0}

    def counting(where: str, real):
        def build(**kwargs):
            built[where] += 1
            return real(**kwargs)
        return build

    monkeypatch.setattr(matcher_module, "build_required_kwargs", counting("matcher", matcher_module.build_required_kwargs))
    monkeypatch.setattr(listener_module, "build_required_kwargs",
                        counting("listener", listener_module.build_required_kwargs))
    wired, slack, qualys = world
    execution_id = new_execution(qualys, "failed-with-steps.json")
    url = f"https://qualysguard.qualys.com/qflow/#/executions/{execution_id}"
    ts = f"{time.time():.6f}"
    # link_shared: its listener comes after the command's and the buttons', each tried first
    assert dispatch(wired, event_body(link_shared("C0CHAN", ts, url), f"Ev{ts}"), "application/json") == 200
    slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("api") == "chat.unfurl" and r.data.get("ts") == ts])
    assert built == {"matcher": 0, "listener": 1}


def test_a_function_token_in_a_request_never_becomes_the_app_s_token(world):
    """Requests share the app's client (QFlowApp._init_context), so Bolt's middleware that would swap a
    workflow function's token into it is off: a signed request carrying one changes nothing."""
    from slack_bolt import App

    wired, slack, _ = world
    payload = {"type": "block_actions", "user": {"id": "U0ASKER", "team_id": "T0FAKE"}, "team": {"id": "T0FAKE"},
               "function_data": {"execution_id": "Fx1"}, "bot_access_token": "xwfp-forged", "container": {"type": "message", "channel_id": "C0CHAN"},
               "channel": {"id": "C0CHAN"}, "response_url": slack.new_response_url(),
               "actions": [{"type": "button", "action_id": "qflow_open", "block_id": "b", "action_ts": "1.1"}]}
    assert dispatch(wired, urlencode({"payload": json.dumps(payload)})) == 200
    assert wired.bolt.client.token == BOT_TOKEN
    # and the request's context holds what Bolt's own would (a Bolt upgrade adding to it fails here)
    ours, bolts = BoltRequest(body="{}", headers={}), BoltRequest(body="{}", headers={})
    wired.bolt._init_context(ours)
    App._init_context(wired.bolt, bolts)
    assert set(ours.context) == set(bolts.context) and ours.context.client is wired.bolt.client
