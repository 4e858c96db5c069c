"""Hardening, tried against the real app process as an attacker would: fail closed when a fact is
unknown, forged payloads of any shape, junk and huge bodies at the HTTP front."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import AS_USUAL, FakeSlack
from tests.fakes.world import fakes, new_execution

SLACK_DOWN = Reply(200, json.dumps({"ok": False, "error": "fatal_error"}))


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[RunningApp, FakeSlack, FakeQualys]]:
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())
        with run_app(env) as app:
            yield app, slack, qualys
            assert app.stop() == 0, app.log_text
        assert "Traceback" not in app.log_text, app.log_text


def test_the_installing_workspace_is_known_before_the_first_request():
    with fakes() as (slack, qualys), run_app(app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())) as app:
        # At start: Bolt's token check, then the app's own question for its access rules.
        assert len(slack.api_calls("auth.test")) == 2
        url = slack.new_response_url()
        app.command(f"execution {new_execution(qualys)}", url)
        [card] = slack.wait_for_responses(url)
        assert card.data["blocks"][0]["type"] == "header"
        assert len(slack.api_calls("auth.test")) == 2  # the request did not ask again


def test_when_slack_cannot_name_the_installing_workspace_nobody_from_elsewhere_gets_a_card():
    with fakes() as (slack, qualys):
        # Bolt's token check at start passes; the app's own question at start fails, and so does the
        # first request's (the moment the policy needs the installing workspace).
        slack.fail_next("auth.test", AS_USUAL, SLACK_DOWN, SLACK_DOWN)
        with run_app(app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())) as app:
            execution_id = new_execution(qualys)
            app.event({"type": "app_mention", "user": "U0GUEST", "user_team": "T0ELSE", "channel": "C0FAILCLOSED",
                       "text": f"<@U0BOT> {execution_id}", "ts": "1700000500.1"}, "EvFAILCLOSED1")
            [told] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postEphemeral"
                                                  and r.data.get("channel") == "C0FAILCLOSED"] or None)
            assert told["user"] == "U0GUEST" and "confirm with Slack which workspace installed me" in told["text"]
            assert [r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0FAILCLOSED"] == []
            assert qualys.execution_calls(execution_id) == []
            assert len(slack.api_calls("auth.test")) == 3
            # Once Slack answers again, the rule is checked (not skipped, not stuck): the guest is still
            # refused, and a member of the workspace gets the card.
            url = slack.new_response_url()
            app.command(f"execution {execution_id}", url)
            [card] = slack.wait_for_responses(url)
            assert card.data["blocks"][0]["type"] == "header"
            assert app.stop() == 0, app.log_text
        assert "could not ask Slack" not in app.log_text  # Slack answered: its refusal is what is logged
        assert "auth.test failed (fatal_error)" in app.log_text


def test_a_slack_fault_while_checking_a_channel_refuses_instead_of_posting(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys)
    slack.fail_next("conversations.info", Reply(200, json.dumps({"ok": False, "error": "internal_error"})))
    app.event({"type": "app_mention", "user": "U0ASKER", "user_team": "T0FAKE", "channel": "C0FLAKY",
               "text": f"<@U0BOT> {execution_id}", "ts": "1700000501.1"}, "EvFAILCLOSED2")
    [told] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postEphemeral"
                                          and r.data.get("channel") == "C0FLAKY"] or None)
    assert "can't see whether this channel is shared" in told["text"]
    assert qualys.execution_calls(execution_id) == []
    # The fault is not remembered: the next mention there is checked again, and answered.
    app.event({"type": "app_mention", "user": "U0ASKER", "user_team": "T0FAKE", "channel": "C0FLAKY",
               "text": f"<@U0BOT> {execution_id}", "ts": "1700000502.1"}, "EvFAILCLOSED3")
    slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("api") == "chat.postMessage"
                                 and r.data.get("channel") == "C0FLAKY"] or None)


# --- the HTTP front refuses cheaply -------------------------------------------------------------


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def raw_post(app: RunningApp, headers: dict[str, str], body_chunks: Iterator[bytes]) -> str:
    """POST over a plain socket, streaming the body until the server stops reading; its status line."""
    assert app.url
    host, port = app.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:  # the server answered and closed while we were still sending: that is the point
            pass
        reply = b""
        try:
            while b"\r\n" not in reply:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except OSError:
            pass
    return reply.split(b"\r\n", 1)[0].decode(errors="replace")


JUNK = [b"", b"garbage", b"payload=%7B%7D", b'{"type": "event_callback"}', b"payload=" + b"%5B" * 5000,
        bytes(range(256)), b"\xff\xfe" * 100, b"token=x&command=/qflow&text=help"]


@pytest.mark.parametrize("body", JUNK)
@pytest.mark.parametrize("headers", [{}, {"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "1"},
                                     {"X-Slack-Signature": "nonsense", "X-Slack-Request-Timestamp": "x" * 50},
                                     {"X-Slack-Request-Timestamp": str(10**30)}])
def test_unsigned_or_badly_signed_requests_get_401_and_no_stack_trace(world, body, headers):
    app, _, _ = world
    response = app.http.post(app.url + "/slack/events", content=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
    assert response.status_code == 401


def test_signed_requests_bolt_cannot_read_get_400(world):
    app, _, _ = world
    for body, kind in [("payload=%5B" * 1 + "%5B" * 3000, "application/x-www-form-urlencoded"),
                       ("payload=not-json", "application/x-www-form-urlencoded"), ("[" * 5000, "application/json")]:
        assert app.post_signed(body, kind).status_code in (400, 401, 404), body[:40]


def test_bodies_larger_than_any_slack_payload_are_refused_without_being_buffered(world):
    app, _, _ = world
    before = rss_kib(app.process.pid)
    megabyte = b"x" * (1024 * 1024)
    declared = raw_post(app, {"Content-Length": str(64 * 1024 * 1024)}, (megabyte for _ in range(64)))
    chunked = raw_post(app, {"Transfer-Encoding": "chunked"},
                       (b"%x\r\n%s\r\n" % (len(megabyte), megabyte) for _ in range(64)))
    grown_mib = (rss_kib(app.process.pid) - before) / 1024
    assert "413" in declared and "411" in chunked, (declared, chunked)  # Slack always sends a length
    assert grown_mib < 16, f"RSS grew {grown_mib:.0f} MiB for 128 MiB of refused bodies"


# --- every input gets an answer: forged clicks of any shape, over HTTP ----------------------------

def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


shapes = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                      max_leaves=8)
button_values = st.one_of(
    shapes, shapes.map(json.dumps), st.integers(1, 3000).map(deep), st.integers(1, 3000).map(lambda n: "{" * n),
    st.integers(1, 5000).map(lambda n: "x" * n),
    st.builds(lambda p, v: json.dumps({"e": "0e71f117-648f-4ad2-a3a9-8f1b857a1b70", "v": v, "p": p, "x": p}),
              shapes, shapes),
)
ACTIONS = ["qflow_steps", "qflow_errors", "qflow_hide", "qflow_refresh", "qflow_share", "qflow_page_next",
           "qflow_page_previous", "qflow_unknown"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(ACTIONS), button_values, shapes, st.booleans())
def test_a_forged_click_of_any_shape_gets_one_clear_answer_never_a_500(world, action_id, value, junk, ephemeral):
    app, slack, _ = world
    url = slack.new_response_url()
    payload = {"type": "block_actions", "user": {"id": "U0ASKER", "team_id": "T0FAKE"}, "team": {"id": "T0FAKE"},
               "container": {"type": "message", "is_ephemeral": ephemeral, "channel_id": "C0CHAN",
                             "message_ts": "1.1"},
               "channel": {"id": "C0CHAN"}, "response_url": url, "junk": junk,
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                            "action_ts": "1.1"}]}
    response = app.post_signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    assert response.status_code == 200, response.text
    [answer] = slack.wait_for_responses(url)
    assert answer.data.get("text"), answer.data


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(shapes, shapes, shapes)
def test_payload_fields_of_the_wrong_type_never_make_a_500(world, user, container, actions):
    app, slack, _ = world
    payload = {"type": "block_actions", "user": user, "container": container, "channel": user,
               "response_url": slack.new_response_url(), "actions": actions}
    response = app.post_signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    assert response.status_code < 500, response.text


# --- logs at DEBUG hold no execution content ---------------------------------------------------------

CANARY = "canary-step-content-7731"
API_SECRET = "Sup3r-Secret-Canary-99"


@pytest.mark.parametrize("debug_libraries", ["false", "true"])
def test_debug_logs_hold_no_execution_content_unless_asked_and_never_a_secret(debug_libraries):
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), LOG_LEVEL="DEBUG",
                      QFLOW_DEBUG_LIBRARIES=debug_libraries)
        execution_id = new_execution(qualys, "failed-with-steps.json", workflowName=CANARY,
                                     variables=[f"db_password={API_SECRET}", f"note={CANARY}"],
                                     error=f"login failed: {{\"password\": \"{API_SECRET}\"}} {CANARY}")
        with run_app(env) as app:
            url = slack.new_response_url()
            app.command(f"execution {execution_id}", url)
            [card] = slack.wait_for_responses(url)
            assert CANARY in json.dumps(card.data)  # it was there to be logged
            assert app.stop() == 0
        assert API_SECRET not in app.log_text
        assert (CANARY in app.log_text) is (debug_libraries == "true"), app.log_text[-3000:]


# --- shutdown keeps the README's promise --------------------------------------------------------------


def test_sigterm_finishes_work_a_first_step_hands_to_a_second():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_MAX_MINUTES="0")
        execution_id = new_execution(qualys)
        gate = slack.holds["conversations.info"] = threading.Event()
        with run_app(env) as app:
            # The unfurl's first step (the access check) is under way when SIGTERM arrives; the
            # deliveries it hands on must still run.
            url = f"https://qualysguard.qualys.com/e/{execution_id}"
            app.event({"type": "link_shared", "channel": "C0STOP", "user": "U0ASKER", "message_ts": "1700000600.1",
                       "source": "conversations_history", "links": [{"domain": "qualysguard.qualys.com", "url": url}]},
                      "EvSTOP1")
            slack.wait_until_held("conversations.info")
            app.process.terminate()
            app.wait_for_log("received SIGTERM")
            gate.set()
            assert app.process.wait(timeout=30) == 0
        [unfurl] = [r for r in slack.api_calls("chat.unfurl") if r.data.get("channel") == "C0STOP"]
        assert url in json.dumps(unfurl.data)


def test_one_dripping_answer_never_delays_another_lookup(world):
    app, slack, qualys = world
    slow, quick = new_execution(qualys), new_execution(qualys)
    drip = Reply(200, json.dumps({"data": {"id": slow, "status": "Success", "pad": "x" * 2000}}), fault="drip")
    qualys.fail_next(f"/qflowapi/v1/executions/{slow}", drip, drip, drip)
    slow_url, quick_url = slack.new_response_url(), slack.new_response_url()
    app.command(f"execution {slow}", slow_url)
    qualys.wait_for(lambda reqs: [r for r in reqs if r.path.endswith(slow)])  # the slow answer has begun
    app.command(f"execution {quick}", quick_url)
    [quick_answer] = slack.wait_for_responses(quick_url)
    [slow_answer] = slack.wait_for_responses(slow_url)
    assert quick_answer.data["blocks"][0]["type"] == "header"
    assert "didn't answer in time" in slow_answer.data["text"] and slow_answer.at > quick_answer.at
