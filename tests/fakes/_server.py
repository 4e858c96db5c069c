"""A loopback HTTP server that records requests and lets tests wait for them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    data: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.perf_counter)  # when it arrived


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | None = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    # "reset": close the connection without an answer; "truncate": promise more bytes than sent;
    # "drip": send the whole answer (headers too) one byte every DRIP_SECONDS, as a slow attacker would.
    fault: str | None = None


DRIP_SECONDS = 0.05


class LoopbackServer:
    """Serves `handle(request) -> Reply` on 127.0.0.1 in a thread; records every request."""

    def __init__(self, handle: Callable[[Recorded], Reply]) -> None:
        self._handle = handle
        self.requests: list[Recorded] = []
        self.listeners: list[Callable[[Recorded], None]] = []  # told of each request once it is recorded
        self._changed = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # With Nagle on, an answer written in parts (a drip) waits out the client's delayed ACK (40 ms)
            # between them. Servers that keep connections alive send without that wait.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, body)
                request.meta["peer"] = self.client_address[1]  # the client's port: which connection it came on
                reply = outer._handle(request)
                with outer._changed:
                    outer.requests.append(request)
                    outer._changed.notify_all()
                for listener in outer.listeners:
                    listener(request)
                if reply.fault == "reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = reply.body.encode() if isinstance(reply.body, str) else (reply.body or b"")
                if reply.fault == "drip":
                    self._drip(reply, payload)
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                declared = len(payload) * 2 + 10 if reply.fault == "truncate" else len(payload)
                self.send_header("Content-Length", str(declared))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                # The head and the body in one write, as servers send a small answer: written apart, the
                # body also waited for this process's interpreter, which the fakes and the benchmark's
                # clocks share (BENCHMARKS.md: a storm's Qualys answers read up to 93 ms after their heads).
                if self.request_version != "HTTP/0.9":  # as end_headers() does: HTTP/0.9 has no head
                    self._headers_buffer.append(b"\r\n" + payload)
                    self.flush_headers()
                else:
                    self.wfile.write(payload)
                if reply.fault == "truncate":
                    self.close_connection = True

            def _drip(self, reply: Reply, payload: bytes) -> None:
                head = f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {reply.content_type}\r\n" \
                       f"Content-Length: {len(payload)}\r\n\r\n".encode()
                self.close_connection = True
                try:
                    for byte in head + payload:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(DRIP_SECONDS)
                except OSError:  # the client gave up: that is what a deadline does
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # socketserver's 5 drops a burst's connections (a 1 s SYN retry)

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a slow answer is part of the tests, not a failure

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, predicate: Callable[[list[Recorded]], Any], timeout: float = 15.0) -> Any:
        """Block until `predicate(requests)` is truthy (returning it), or fail after `timeout`."""
        with self._changed:
            result = self._changed.wait_for(lambda: predicate(list(self.requests)), timeout=timeout)
        if not result:
            raise AssertionError(f"timed out after {timeout}s waiting; saw {[(r.method, r.path) for r in self.requests]}")
        return result


def accept_each(listener: socket.socket, handle: Callable[[socket.socket], None], *, threaded: bool = False) -> None:
    """Hand each connection `listener` accepts to `handle` (on a thread of its own when `threaded`), from a
    daemon thread, until the listener is closed: a raw server for tests of what a client does on the wire."""

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            if threaded:
                threading.Thread(target=handle, args=(sock,), daemon=True).start()
            else:
                handle(sock)

    threading.Thread(target=accept, daemon=True).start()
