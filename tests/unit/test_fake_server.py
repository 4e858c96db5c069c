"""The loopback fakes' server (tests/fakes/_server.py): what the benchmarks and the e2e tests rely on."""

from __future__ import annotations

import http.client
import socketserver
import threading

import pytest

from tests.fakes._server import LoopbackServer, Reply


@pytest.mark.parametrize("body", [b"", b"ok", b'{"ok": true, "x": "' + b"y" * 20_000 + b'"}'])
def test_an_answer_s_head_and_body_go_out_in_one_write(monkeypatch, body):
    """Written apart, the body waited for the fakes' interpreter (busy in a storm) after the head went out:
    the benchmarks timed that as the app's."""
    writes: list[bytes] = []
    lock = threading.Lock()
    original = socketserver._SocketWriter.write

    def counted(self, data):  # type: ignore[no-untyped-def]
        with lock:
            writes.append(bytes(data))
        return original(self, data)

    monkeypatch.setattr(socketserver._SocketWriter, "write", counted)
    server = LoopbackServer(lambda request: Reply(200, body)).start()
    try:
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        for _ in range(2):  # kept alive: each answer whole
            connection.request("POST", "/api/x", body=b"{}", headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            assert answer.status == 200 and answer.read() == body
        connection.close()
    finally:
        server.stop()
    assert len(writes) == 2 and all(w.startswith(b"HTTP/1.1 200") and w.endswith(b"\r\n\r\n" + body) for w in writes)
