"""The HTTP server (bot/slack/httpd.py) over real sockets: stopping while a request is being answered,
bodies that never arrive, bodies too large, and what the WSGI app is handed."""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.slack.httpd import MAX_BODY_BYTES, HttpServer


def echo_environ(seen: list[dict]):
    def app(environ, start_response):
        seen.append({**environ, "body": environ["wsgi.input"].read()})
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    return app


@contextmanager
def serving(app, threads: int = 2, **options) -> Iterator[HttpServer]:
    server = HttpServer(app, "127.0.0.1", 0, threads, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop(5)


def raw(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send `request` as is and read until the server closes or has sent a whole small answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith((b"ok", b"Timeout", b"Large", b"Required")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def get(port: int, path: str = "/") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_request_in_flight_when_the_stop_begins_is_answered_before_the_stop_returns(caplog):
    entered, release = threading.Event(), threading.Event()

    def slow(environ, start_response):
        entered.set()
        assert release.wait(10)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = HttpServer(slow, "127.0.0.1", 0, 2)
    server.start()
    answers: list[tuple[int, bytes]] = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        answers.append((response.status, response.read()))
        connection.close()

    client = threading.Thread(target=ask, daemon=True)
    client.start()
    assert entered.wait(10)
    caplog.set_level(logging.DEBUG)
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: stopped.append(server.stop(10)), daemon=True)
    stopper.start()
    stopper.join(0.2)
    assert not stopped  # still waiting for the request in flight
    release.set()
    stopper.join(10)
    client.join(10)
    assert stopped == [True] and answers == [(200, b"ok")]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text


def test_bodies_that_never_arrive_hold_no_thread_and_get_408():
    seen: list[dict] = []
    with serving(echo_environ(seen), threads=2, body_seconds=0.5) as server:
        stalled = []
        for _ in range(4):  # more than the threads: had they waited for these bodies, nothing would answer
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            stalled.append(sock)
        assert get(server.port) == 200
        for sock in stalled:
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            sock.close()
    assert [e["REQUEST_METHOD"] for e in seen] == ["GET"]  # the app never saw the stalled ones


def test_a_client_gone_before_its_body_ended_is_no_error(caplog):
    seen: list[dict] = []
    with serving(echo_environ(seen)) as server:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\npayload=")
            sock.close()
        assert get(server.port) == 200  # and every request before it has been dealt with (one loop, in order)
    assert [e["REQUEST_METHOD"] for e in seen] == ["GET"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_a_body_larger_than_any_slack_payload_is_refused_with_413_and_one_in_chunks_with_411():
    seen: list[dict] = []
    with serving(echo_environ(seen)) as server:
        # refused from its length alone: nothing of it is sent
        answer = raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1))
        assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
        # Slack always sends a length; a body in chunks could not be told from one cut short
        answer = raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        assert answer.startswith(b"HTTP/1.1 411"), answer[:100]
        assert seen == []
        # a body of exactly the most allowed still goes through
        body = b"y" * MAX_BODY_BYTES
        answer = raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
        assert seen[0]["body"] == body and seen[0]["CONTENT_LENGTH"] == str(MAX_BODY_BYTES)


def test_the_app_is_handed_the_request_and_nothing_of_the_process_environment(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-never-in-a-request")
    monkeypatch.setenv("HTTP_X_SLACK_SIGNATURE", "from-the-environment")
    seen: list[dict] = []
    with serving(echo_environ(seen)) as server:
        answer = raw(server.port, b"POST /slack/events?a=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  b"X-Slack-Signature: v0=abc\r\nX_Slack_Request_Timestamp: 1\r\nX-Many: 1\r\n"
                                  b"X-Many: 2\r\nContent-Length: 2\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    [environ] = seen
    assert (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"]) == ("POST", "/slack/events", "a=1")
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"], environ["body"]) == ("application/json", "2", b"{}")
    assert environ["HTTP_X_SLACK_SIGNATURE"] == "v0=abc" and environ["HTTP_X_MANY"] == "1,2"
    # a header named with underscores would read as another's (dashes and underscores look alike here)
    assert "HTTP_X_SLACK_REQUEST_TIMESTAMP" not in environ
    assert not [key for key, value in environ.items() if os.environ.get(key) == value]
    assert "xoxb-never-in-a-request" not in repr(environ)


def test_an_app_that_fails_gets_a_500_and_the_server_goes_on(caplog):
    def broken(environ, start_response):
        if environ["PATH_INFO"] == "/fail":
            raise RuntimeError("boom")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    with serving(broken) as server:
        assert get(server.port, "/fail") == 500
        assert get(server.port, "/") == 200
    assert "the app failed a request" in caplog.text


def test_an_address_in_use_is_said_when_the_server_is_made():
    with serving(echo_environ([])) as server, pytest.raises(OSError):
        HttpServer(echo_environ([]), "127.0.0.1", server.port, 1)


def test_what_the_app_built_is_set_aside_from_garbage_collection_before_it_serves(monkeypatch):
    import gc

    from bot.slack import server as serving_module

    built = [["a settings object, a client, a validator"]]  # made before serving, alive until exit
    seen: dict[str, bool] = {}

    class Recording(HttpServer):
        def start(self) -> None:
            seen["built object still collected"] = any(o is built for o in gc.get_objects())
            seen["frozen"] = gc.get_freeze_count() > 0

        def stop(self, *_args) -> bool:
            return True

    monkeypatch.setattr(serving_module, "HttpServer", Recording)
    monkeypatch.setattr(serving_module, "wait_for_signal", lambda: "SIGTERM")
    try:
        serving_module.serve_http(None, "127.0.0.1", 0, on_stop=lambda: None)  # type: ignore[arg-type]
    finally:
        gc.unfreeze()
    assert seen == {"built object still collected": False, "frozen": True}
