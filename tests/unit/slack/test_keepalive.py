"""Kept-alive connections to Slack: one connection for many calls, as slack_sdk's own clients would answer
(errors included), and a connection the server has closed is never reused. The app's own posts (post_json,
a JSON Web API call, a response_url) send what slack_sdk sends, retry as its handlers say, and answer as
it answers."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.request import Request

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.webhook import WebhookClient

from bot.render import SlackMessage
from bot.slack import destinations, http_answers, keepalive
from bot.slack.destinations import ResponseUrl
from bot.slack.keepalive import (
    MOST_ATTEMPTS,
    Connections,
    KeptAliveWebClient,
    KeptAliveWebhookClient,
    _closed_by_server,
    post_json,
)
from bot.slack.retries import AnyServerErrorRetryHandler, ClampedRateLimitRetryHandler, slack_retry_handlers
from tests.fakes._server import Reply, accept_each
from tests.fakes.slack import BOT_TOKEN, FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def test_web_api_calls_and_response_url_posts_share_one_kept_alive_connection(slack):
    connections = Connections()
    web = KeptAliveWebClient(token=BOT_TOKEN, base_url=slack.api_url, connections=connections)
    for n in range(3):
        assert web.chat_postMessage(channel="C0KEEP", text=f"card {n}")["ok"] is True
    urls = [slack.new_response_url() for _ in range(3)]
    for url in urls:
        response = KeptAliveWebhookClient(url, connections=connections).send(text="answer")
        assert (response.status_code, response.body) == (200, "ok")
    assert connections.opened == 1
    assert len({r.meta["peer"] for r in slack.requests}) == 1 and len(slack.requests) == 6
    assert [r.data["text"] for r in slack.api_calls("chat.postMessage")] == ["card 0", "card 1", "card 2"]


def test_errors_read_as_slack_sdk_reads_them_and_the_connection_is_kept(slack):
    connections = Connections()
    url = slack.new_response_url()
    slack.fail_next("response", Reply(404, "no_service", content_type="text/plain"))
    hook = KeptAliveWebhookClient(url, connections=connections)
    response = hook.send(text="answer")
    assert (response.status_code, response.body) == (404, "no_service")
    slack.fail_next("chat.postMessage", Reply(200, '{"ok": false, "error": "not_in_channel"}'))
    web = KeptAliveWebClient(token=BOT_TOKEN, base_url=slack.api_url, connections=connections)
    with pytest.raises(Exception, match="not_in_channel"):
        web.chat_postMessage(channel="C0KEEP", text="card")
    assert hook.send(text="again").status_code == 200
    assert connections.opened == 1


class _ClosingServer:
    """Answers one request per connection with a kept-alive answer, then closes that connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.closed = threading.Semaphore(0)
        self.connections = 0
        accept_each(self.listener, self._serve)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/response/1"

    def _serve(self, sock: socket.socket) -> None:
        self.connections += 1
        with sock:
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            while len(body) < length:
                body += sock.recv(65536)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
        self.closed.release()


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    server = _ClosingServer()
    connections = Connections()
    hook = KeptAliveWebhookClient(server.url, connections=connections, retry_handlers=slack_retry_handlers())
    try:
        for _ in range(3):
            assert hook.send(text="answer").status_code == 200
            assert server.closed.acquire(timeout=10)  # the server has closed it before the next call
        assert server.connections == 3 and connections.opened == 3
    finally:
        server.listener.close()


def test_only_http_and_https_urls_are_opened():
    for url in ("file:///etc/passwd", "ftp://example.com/x", "http:///nohost"):
        with pytest.raises(SlackRequestError):
            Connections().request(Request(url, data=b"{}"), timeout=1, context=None)


def test_an_idle_connection_with_something_to_read_is_taken_for_closed():
    ours, theirs = socket.socketpair()
    connection = http.client.HTTPConnection("127.0.0.1", 9)
    connection.sock = ours
    assert not _closed_by_server(connection)  # quiet: still usable
    theirs.close()
    assert _closed_by_server(connection)  # the other end has gone: EOF is readable
    connection.close()
    assert _closed_by_server(connection)  # no socket at all


def test_a_webhook_client_per_answer_asks_logging_for_no_logger(monkeypatch):
    import logging

    asked: list[str] = []
    get_logger = logging.getLogger
    monkeypatch.setattr(logging, "getLogger", lambda name=None: (asked.append(name), get_logger(name))[1])
    KeptAliveWebhookClient("http://127.0.0.1:9/response/1")
    assert asked == []  # logging.getLogger takes logging's module-wide lock: once per answer in a storm


# --- the app's own posts: slack_sdk's request, retries and answers, without slack_sdk's request path ----------

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*failed* — ünïcode & <ok>"}}]
CALLS = [  # (method, the WebClient call) with JSON bodies, as the app makes them
    ("chat.postMessage", lambda c: c.chat_postMessage(channel="C0KEEP", text="card", blocks=BLOCKS, unfurl_links=False)),
    ("chat.update", lambda c: c.chat_update(channel="C0KEEP", ts="1.2", text="card", blocks=BLOCKS)),
    ("chat.unfurl", lambda c: c.chat_unfurl(channel="C0KEEP", ts="1.2", unfurls={"https://x/y": {"blocks": BLOCKS}})),
    ("chat.postEphemeral", lambda c: c.chat_postEphemeral(channel="C0KEEP", user="U0ASKER", text="t", blocks=BLOCKS)),
]
LOG = logging.getLogger("test")


def _sent(request: Any) -> tuple[Any, ...]:
    """What a request carried that Slack reads."""
    return (request.method, request.path, json.loads(request.body), request.headers.get("content-type"),
            request.headers.get("authorization"), request.headers.get("user-agent"))


@pytest.mark.parametrize(("method", "call"), CALLS, ids=[m for m, _ in CALLS])
def test_a_json_call_sends_what_slack_sdk_sends_and_answers_as_it_answers(slack, method, call):
    ours = KeptAliveWebClient(token=BOT_TOKEN, base_url=slack.api_url, connections=Connections())
    theirs = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    answers = [call(ours), call(theirs)]
    mine, reference = slack.api_calls(method)
    assert _sent(mine) == _sent(reference)
    stamped = ("ts", "message_ts")  # the fake stamps each message anew
    assert [{k: v for k, v in a.data.items() if k not in stamped} for a in answers] == \
        [{k: v for k, v in answers[1].data.items() if k not in stamped}] * 2
    assert [set(a.data) for a in answers] == [set(answers[1].data)] * 2
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].api_url == answers[1].api_url
    for reply in (Reply(200, '{"ok": false, "error": "not_in_channel"}'), Reply(200, "<html>oops</html>"),
                  Reply(404, '{"ok": false, "error": "unknown_method"}')):
        errors = []
        for client in (ours, theirs):
            slack.fail_next(method, reply)
            with pytest.raises(SlackApiError) as raised:
                call(client)
            errors.append(raised.value.response)
        assert (errors[0].status_code, errors[0].data) == (errors[1].status_code, errors[1].data)


def test_calls_it_cannot_send_as_json_alone_are_slack_sdks(slack):
    client = KeptAliveWebClient(token=BOT_TOKEN, base_url=slack.api_url, connections=Connections())
    section = SectionBlock(text="a block model, not a dict")
    assert client.chat_postMessage(channel="C0KEEP", text="t", blocks=[section])["ok"] is True
    assert slack.api_calls("chat.postMessage")[-1].data["blocks"] == [section.to_dict()]
    assert client.conversations_info(channel="C0KEEP")["ok"] is True  # a form body
    other = KeptAliveWebClient(token="xoxb-someone-elses", base_url=slack.api_url, connections=Connections())
    assert other.chat_postMessage(channel="C0KEEP", text="t", token=BOT_TOKEN)["ok"] is True  # a call's own token
    assert slack.api_calls("chat.postMessage")[-1].headers["authorization"] == f"Bearer {BOT_TOKEN}"


def _handlers(sleeps: list[float]) -> list[RetryHandler]:
    fixed = FixedValueRetryIntervalCalculator(0.0)
    return [ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=fixed),
            ClampedRateLimitRetryHandler(max_retry_count=3, sleep=sleeps.append),
            AnyServerErrorRetryHandler(max_retry_count=2, interval_calculator=fixed)]


def test_posts_are_retried_by_slack_sdks_handlers(slack):
    url, sleeps = slack.new_response_url(), []
    slack.fail_next("response", Reply(429, "slow down", headers={"Retry-After": "2"}), Reply(502, "proxy"))
    status, _, body = post_json(url, b'{"text": "t"}', {}, _handlers(sleeps), timeout=5, logger=LOG,
                                connections=Connections())
    assert (status, body) == (200, b"ok") and len(slack.responses(url)) == 1
    assert len(sleeps) == 1 and 2 <= sleeps[0] < 3  # Retry-After, and a second of jitter at most
    slack.fail_next("response", *[Reply(503, "down")] * 3)
    status, _, body = post_json(url, b"{}", {}, _handlers(sleeps), timeout=5, logger=LOG, connections=Connections())
    assert (status, body) == (503, b"down")  # two retries, then the last answer
    assert len([r for r in slack.requests if r.meta.get("fault")]) == 5


def test_a_post_that_never_gets_an_answer_raises_after_its_retries():
    attempts = []
    listener = socket.create_server(("127.0.0.1", 0))

    def refuse(sock: socket.socket) -> None:
        attempts.append(1)
        sock.close()  # no answer: a dropped connection

    accept_each(listener, refuse)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/response/1"
    try:
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected, OSError)):
            post_json(url, b"{}", {}, _handlers([]), timeout=5, logger=LOG, connections=Connections())
        assert len(attempts) == 3  # the first and two retries
    finally:
        listener.close()


class _Forever(RetryHandler):
    def _can_retry(self, **_: Any) -> bool:
        return True

    def prepare_for_next_attempt(self, *, state: Any, **_: Any) -> None:
        state.next_attempt_requested = True  # and never counts the attempt: a handler that never stops


def test_a_handler_that_never_stops_is_stopped(slack):
    url = slack.new_response_url()
    slack.fail_next("response", *[Reply(500, "no")] * (MOST_ATTEMPTS + 5))
    status, _, _ = post_json(url, b"{}", {}, [_Forever(max_retry_count=10**9)], timeout=5, logger=LOG,
                             connections=Connections())
    assert status == 500 and len(slack.requests) == MOST_ATTEMPTS


@pytest.mark.parametrize("first", [{"response_type": "ephemeral"}, {"response_type": "in_channel"},
                                   {"replace_original": True}])
def test_a_response_url_gets_what_slack_sdks_webhook_client_sends(slack, first):
    message = SlackMessage(text="card", blocks=BLOCKS)
    ours, theirs = slack.new_response_url(), slack.new_response_url()
    assert ResponseUrl(ours, **first).send(message)
    WebhookClient(theirs).send(text=message.text, blocks=message.blocks, **first)
    mine, reference = slack.responses(ours)[0], slack.responses(theirs)[0]
    assert _sent(mine)[2:] == _sent(reference)[2:]
    assert ResponseUrl(ours, **first).send(SlackMessage(text="no blocks", blocks=[]))
    assert "blocks" not in slack.responses(ours)[1].data


def test_a_response_url_that_refuses_or_cannot_be_reached_is_reported(slack):
    seen: list[tuple[str, str]] = []
    url = slack.new_response_url()
    slack.fail_next("response", Reply(404, "expired_url", content_type="text/plain"))
    assert ResponseUrl(url, on_error=lambda *e: seen.append(e)).send(SlackMessage(text="t", blocks=[])) is False
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(OSError):
        ResponseUrl(f"http://127.0.0.1:{port}/response/1", on_error=lambda *e: seen.append(e)).send(
            SlackMessage(text="t", blocks=[]))
    assert seen == [("response_url", "http_404"), ("response_url", "unreachable")]


def test_behind_a_proxy_posts_take_slack_sdks_path(slack, monkeypatch):
    monkeypatch.setattr(destinations, "env_proxy", lambda: "http://proxy.invalid:3128")
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(KeptAliveWebhookClient, "send_dict",
                        lambda self, body: (sent.append(body), keepalive.WebhookResponse(
                            url=self.url, status_code=200, body="ok", headers={}))[1])
    url = slack.new_response_url()
    assert ResponseUrl(url, response_type="ephemeral").send(SlackMessage(text="t", blocks=BLOCKS))
    assert sent == [{"text": "t", "blocks": BLOCKS, "response_type": "ephemeral"}] and slack.requests == []
    client = KeptAliveWebClient(token=BOT_TOKEN, base_url=slack.api_url, proxy="http://proxy.invalid:3128")
    with pytest.raises(Exception):  # noqa: B017 - urllib's proxy path, which cannot reach the invalid proxy
        client.chat_postMessage(channel="C0KEEP", text="t")
    assert slack.requests == []


def test_a_charset_python_lacks_reads_as_utf8():
    message = http.client.HTTPMessage()
    message["Content-Type"] = "application/json; charset=no-such-charset"
    assert http_answers.text_of(message, "ünï".encode()) == "ünï"
    message.replace_header("Content-Type", "text/plain; charset=latin-1")
    assert http_answers.text_of(message, "é".encode("latin-1")) == "é"


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                       max_leaves=8)


@given(st.text(), st.lists(st.dictionaries(st.text(max_size=8), JSONISH, max_size=4), max_size=4),
       st.dictionaries(st.sampled_from(["response_type", "replace_original", "delete_original", "thread_ts"]),
                       JSONISH, max_size=3))
@example("\u2028 \"quoted\" \\ <@U1> ✅", [{"type": "section"}], {"response_type": "ephemeral"})
@example("", [], {})
def test_a_response_url_body_is_the_json_of_its_fields_and_blocks(text, blocks, options):
    message = SlackMessage(text=text, blocks=blocks)
    fields = {"text": text, **options}
    expected = {**fields, **({"blocks": blocks} if blocks else {})}
    assert json.loads(destinations.webhook_body(message, fields)) == expected
    assert message.blocks_json() is message.blocks_json() and json.loads(message.blocks_json()) == blocks
    assert message == SlackMessage(text=text, blocks=blocks)  # the cache is not part of the message


@given(st.dictionaries(st.text(max_size=6), JSONISH, max_size=4), st.text(max_size=6), JSONISH)
def test_a_value_spliced_into_encoded_json_is_as_if_encoded_with_it(fields, key, value):
    fields.pop(key, None)
    assert json.loads(destinations.with_json(json.dumps(fields), key, json.dumps(value))) == {**fields, key: value}
    assert destinations.with_json(json.dumps(fields), key, None) == json.dumps(fields)


@pytest.mark.parametrize("where", [{"channel": "C0KEEP", "ts": "1.2"}, {"unfurl_id": "Uf1", "source": "composer"}])
def test_an_unfurl_sends_what_slack_sdks_chat_unfurl_sends(slack, where):
    client = KeptAliveWebClient(token=BOT_TOKEN, base_url=slack.api_url, connections=Connections())
    url = "https://qualysguard.qualys.com/qflow/#/executions/\u00e9\"x"
    assert destinations.Unfurl(client, url, **where).send(SlackMessage(text="t", blocks=BLOCKS))
    WebClient(token=BOT_TOKEN, base_url=slack.api_url).chat_unfurl(unfurls={url: {"blocks": BLOCKS}}, **where)
    mine, reference = slack.api_calls("chat.unfurl")
    assert _sent(mine) == _sent(reference)
