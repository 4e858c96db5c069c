"""Kept-alive connections to Slack: one connection for many calls, as slack_sdk's own clients would answer
(errors included), and a connection the server has closed is never reused."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from urllib.request import Request

import pytest
from slack_sdk.errors import SlackRequestError

from bot.slack.keepalive import Connections, KeptAliveWebClient, KeptAliveWebhookClient, _closed_by_server
from bot.slack.retries import slack_retry_handlers
from tests.fakes._server import Reply
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
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/response/1"

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
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
