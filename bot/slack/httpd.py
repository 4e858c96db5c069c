"""The HTTP server: granian (Rust) runs the connections (accepting, keep-alive, HTTP/1.1 parsing, slow or
silent clients) off the interpreter; an event loop of ours reads each body, at most MAX_BODY_BYTES within
BODY_SECONDS; a fixed set of threads runs the WSGI app on it.

granian's own entry point forks worker processes under a supervisor; here its worker runs in this
process (a thread runs its loop), so the app keeps its own signals, start-up errors and drain. Bodies are
read on that loop, not by the WSGI app on its threads: granian has no timeout for a body
(emmett-framework/granian#728), so a client that sent half of one would hold a thread for good, and a
few such clients every thread. Its worker classes are not its documented API: the version is pinned
(pyproject.toml), and every HTTP test runs through this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from granian import _granian
from granian._futures import _future_watcher_wrapper, _new_cbscheduler
from granian.http import HTTP1Settings

log = logging.getLogger(__name__)
_native: Any = _granian  # its type stubs lag its 2.8 signatures (ipc, metrics, serve_mtr)

WSGIApp = Callable[..., Iterable[bytes]]
# Larger than any payload Slack sends (a click carries its message: tens of KB); a larger body is refused
# (413) as soon as its length says so. Slack always says it; a body sent in chunks instead is refused (411).
MAX_BODY_BYTES = 1024 * 1024
BODY_SECONDS = 10.0  # a body not all there this long after its headers: 408, and the connection closed
# A connection that has not sent a whole request head in this long is closed: idle kept-alive ones too.
HEADER_SECONDS = 30.0
# An incident storm opens hundreds of connections at once: the kernel holds this many until accepted.
BACKLOG = 1024
STOP_SECONDS = 10.0  # at most this long for the requests already in to be answered, on stop
_STATUS_TEXT = {408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
                500: "Internal Server Error"}


class _Response:
    __slots__ = ("status", "headers")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.status = int(status.split(" ", 1)[0])
        self.headers = headers


def _refuse(proto: Any, status: int, close: bool = False) -> None:
    body = _STATUS_TEXT[status].encode()
    headers = [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body)))]
    proto.response_bytes(status, [*headers, ("connection", "close")] if close else headers, body)


def _content_length(value: str | None) -> int | None:
    """The declared length, -1 for one that is not a number, None for none (a chunked body)."""
    if value is None:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else -1


class HttpServer:
    """`wsgi` served on host:port. Bound when made (an address in use raises OSError here); serving after
    `start()`; `stop()` stops taking connections and returns once the requests already in are answered."""

    def __init__(self, wsgi: WSGIApp, host: str, port: int, threads: int, *, body_seconds: float = BODY_SECONDS,
                 header_seconds: float = HEADER_SECONDS, name: str = "qflow-http",
                 listening: socket.socket | None = None) -> None:
        """`listening`: a socket already listening (several worker processes share one), served instead
        of a new one bound to host:port; it stays open for its owner."""
        self._wsgi = wsgi
        self._body_seconds = body_seconds
        if listening is not None:
            listener = socket.socket(listening.family, listening.type, fileno=os.dup(listening.fileno()))
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
        self.host, self.port = host, listener.getsockname()[1]
        self._base = {"SCRIPT_NAME": "", "SERVER_NAME": host, "SERVER_PORT": str(self.port),
                      "wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
                      "wsgi.multiprocess": False, "wsgi.run_once": False}
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._start_threads(threads)
        self._loop = asyncio.new_event_loop()
        self._stop = _native.WorkerSignal()
        self._stopped = threading.Event()
        self._stop.add_cb(self._stopped.set)  # called once the requests already in are answered
        self._worker = _native.RSGIWorker(
            worker_id=1, sock=(None, _native.SocketHolder(listener.detach(), False, BACKLOG)), ipc=None, threads=1,
            blocking_threads=512, py_threads=1, py_threads_idle_timeout=30, backpressure=BACKLOG, http_mode="1",
            http1_opts=HTTP1Settings(header_read_timeout=int(header_seconds * 1000)), http2_opts=None,
            websockets_enabled=False, static_files=None, ssl_enabled=False, ssl_cert=None, ssl_key=None,
            ssl_key_password=None, ssl_protocol_min="tls1.3", ssl_ca=None, ssl_crl=[], ssl_client_verify=False,
            metrics=(None, None))
        self._thread = threading.Thread(target=self._serve, name=f"{name}-loop", daemon=True)
        self._serving = threading.Event()  # granian's own threads are running

    def _start_threads(self, threads: int) -> None:
        """Every thread started now: started on demand, in a storm each would be started by a request."""
        started = threading.Barrier(threads + 1)
        for _ in range(threads):
            self._threads.submit(started.wait, 5)
        started.wait(5)

    def start(self) -> None:
        """Serve; returns once granian's own threads have started (they are not the interpreter's, and are
        left free to run on any CPU: bot/cpu.py)."""
        self._thread.start()
        self._serving.wait(STOP_SECONDS)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        scheduler = _new_cbscheduler(self._loop, _future_watcher_wrapper(self._handle), impl_asyncio=True)
        self._worker.serve_mtr(scheduler, self._loop, self._stop)
        self._serving.set()
        self._loop.run_forever()

    def stop(self, grace: float = STOP_SECONDS) -> bool:
        """Stop taking connections; True once every request already in was answered (within `grace`)."""
        self._stop.set()
        answered = self._stopped.wait(grace)
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(grace)
        self._threads.shutdown(wait=answered)
        return answered

    async def _handle(self, scope: Any, proto: Any) -> None:
        body = b""
        if scope.method == "POST":
            length = _content_length(scope.headers.get("content-length"))
            if length is None:  # sent in chunks, as Slack never does: its end could not be told from a
                _refuse(proto, 411, close=True)  # client that went away
                return
            if not 0 <= length <= MAX_BODY_BYTES:
                _refuse(proto, 413, close=True)  # said so before it was sent: nothing is read
                return
            try:
                async with asyncio.timeout(self._body_seconds):
                    body = await proto()
            except TimeoutError:
                _refuse(proto, 408, close=True)
                return
            except _native.RSGIProtocolClosed:
                return  # the client went away before its body ended: nobody to answer
        await self._loop.run_in_executor(self._threads, self._answer, proto, self._environ(scope, body))

    def _environ(self, scope: Any, body: bytes) -> dict[str, Any]:
        """The WSGI environ: the request and nothing of this process's own environment."""
        client = scope.client or ""
        environ = {**self._base, "REQUEST_METHOD": scope.method, "PATH_INFO": scope.path,
                   "QUERY_STRING": scope.query_string, "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
                   "REMOTE_ADDR": client.rsplit(":", 1)[0], "wsgi.url_scheme": scope.scheme,
                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        for name, value in scope.headers.items():
            if "_" in name:  # would read as a dash in the environ: another header's name, smuggled
                continue
            key = name.upper().replace("-", "_")
            if key == "CONTENT_LENGTH":
                continue
            key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _answer(self, proto: Any, environ: dict[str, Any]) -> None:
        """Run the app and send its response from this thread: sent from the loop, it would wait for the
        loop's turn at the interpreter, which in a storm comes every few tens of milliseconds."""
        try:
            status, headers, data = self._call(environ)
        except Exception:
            log.exception("the app failed a request")
            status, headers, data = 500, [], b""
        with contextlib.suppress(_native.RSGIProtocolClosed):  # the client has gone: nobody to tell
            if status == 500 and not data:
                _refuse(proto, 500)
            else:
                proto.response_bytes(status, headers, data)

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        response = _Response()
        result = self._wsgi(environ, response)
        try:
            return response.status, response.headers, b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
