"""Serving the app: HTTP (bot/slack/httpd.py: granian runs the connections), or Socket Mode."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_sdk.signature import SignatureVerifier

from ..config_fields import cpu_setting
from ..cpu import OFF, keep_interpreter_on_one_cpu
from ..metrics import Metrics
from .httpd import MAX_BODY_BYTES, STOP_SECONDS, HttpServer
from .payload import parsed_for_bolt

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
_TIMESTAMP_DIGITS = 12


def _plain(start_response: Callable[..., Any], status: str, body: str = "",
           headers: tuple[tuple[str, str], ...] = ()) -> Iterable[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data))),
                            *headers])
    return [data]


def verified_body(environ: dict[str, Any], verifier: SignatureVerifier) -> tuple[str, bytes]:
    """Read at most MAX_BODY_BYTES and check Slack's signature before anything parses the body.
    Returns an HTTP status (empty when the request may go on) and the body."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request", b""
    if length > MAX_BODY_BYTES:
        return "413 Payload Too Large", b""
    body = environ["wsgi.input"].read(min(length, MAX_BODY_BYTES) if length else MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return "413 Payload Too Large", b""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
    signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _TIMESTAMP_DIGITS) or \
            not signature.isascii() or not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return "401 Unauthorized", b""
    return "", body


Details = Callable[[], dict[str, object]]
_PARSED = "qflow.bolt_request"  # the request as checked before Bolt: Bolt is handed it, not a second parse


class _ParsedOnce(SlackRequestHandler):
    """Bolt's WSGI adapter, handing Bolt the request already parsed while it was checked."""

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        return self.app.dispatch(request.environ[_PARSED])


def make_wsgi_app(app: App | None, ready: Callable[[], bool], signing_secret: str | None = None,
                  metrics: Metrics | None = None, details: Details | None = None) -> Callable[..., Iterable[bytes]]:
    """`POST /slack/events` to Bolt, each request's signature checked here first, before anything parses
    it, and only here (`signing_secret` is required with `app`; without `app`, as in Socket Mode, there is
    no such path); `GET /healthz` (200 when ready, 503 otherwise), `GET /metrics` (with `metrics`), 404
    elsewhere. `details` adds to the health body (the state store and whether it is degraded)."""
    if app is not None and not signing_secret:
        raise ValueError("serving Slack's requests needs the signing secret: each one is checked with it")
    slack = _ParsedOnce(app, path=EVENTS_PATH) if app is not None else None
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def events(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert slack is not None and verifier is not None
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, "405 Method Not Allowed", "POST only", (("Allow", "POST"),))
        status, body = verified_body(environ, verifier)
        if status:
            return _plain(start_response, status, status[4:])
        request = WsgiHttpRequest({**environ, "CONTENT_LENGTH": str(len(body))})
        parsed = parsed_for_bolt(body, request.get_headers(), request.query_string)
        if parsed is None:
            log.warning("refused a signed request whose payload has a shape Slack never sends")
            return _plain(start_response, "400 Bad Request", "Bad Request")
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), _PARSED: parsed}
        try:
            return slack(environ, start_response)
        except Exception as error:  # a signed request Bolt cannot read: Slack's own never are
            log.warning("refused a signed request Bolt could not read (%s)", type(error).__name__)
            return _plain(start_response, "400 Bad Request", "Bad Request")

    def timed_events(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            return events(environ, start_response)
        finally:
            if metrics is not None:
                metrics.ack("http", time.perf_counter() - started)

    def health(start_response: Callable[..., Any]) -> Iterable[bytes]:
        ok = ready()
        body = json.dumps({"status": "ok" if ok else "unavailable", **(details() if details else {})}).encode()
        start_response("200 OK" if ok else "503 Service Unavailable",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def scrape(start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert metrics is not None
        body, content_type = metrics.exposition()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    readers = {HEALTH_PATH: health, **({METRICS_PATH: scrape} if metrics is not None else {})}

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == EVENTS_PATH and slack is not None:
            return timed_events(environ, start_response)
        reader = readers.get(path or "")
        if reader is None:
            return _plain(start_response, "404 Not Found", "Not Found")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        return reader(start_response)

    return wsgi


def wait_for_signal() -> str:
    """Block until SIGTERM or SIGINT; its name."""
    received: list[int] = []
    arrived = threading.Event()

    def note(signum: int, _frame: Any) -> None:
        received.append(signum)
        arrived.set()

    signal.signal(signal.SIGTERM, note)
    signal.signal(signal.SIGINT, note)
    arrived.wait()
    return signal.Signals(received[0]).name


def settle_heap() -> None:
    """Called once the app is built, before it serves: what exists now (modules, settings, clients, models'
    validators: most of the heap, and alive until exit) is set aside from garbage collection, so that a
    full collection in a storm scans only what requests made (16-26 ms, in a storm's first answers, before;
    see BENCHMARKS.md)."""
    gc.collect()
    gc.freeze()


def serve_wsgi(wsgi: Callable[..., Iterable[bytes]], host: str, port: int, threads: int) -> None:
    """`wsgi` on the app's HTTP server, with its settings (QFLOW_INTERPRETER_CPU from the environment),
    until SIGTERM/SIGINT (the benchmarks serve their rival apps so). Says it is listening once it is: a
    storm sent before would meet a closed port."""
    server = HttpServer(wsgi, host, port, threads)
    settle_heap()
    server.start()
    keep_interpreter_on_one_cpu(cpu_setting(os.environ.get("QFLOW_INTERPRETER_CPU")))
    print(f"listening on http://{host}:{port}{EVENTS_PATH}", flush=True)
    wait_for_signal()
    server.stop()


def serve_http(app: App, host: str, port: int, on_stop: Callable[[], None], threads: int = 8, *,
               signing_secret: str | None = None, metrics: Metrics | None = None, details: Details | None = None,
               interpreter_cpu: str = OFF) -> None:
    """Serve until SIGTERM/SIGINT; then stop taking requests, answer those already in, and let `on_stop`
    finish the work they handed on. `interpreter_cpu`: QFLOW_INTERPRETER_CPU (bot/cpu.py)."""
    ready = threading.Event()
    server = HttpServer(make_wsgi_app(app, ready.is_set, signing_secret, metrics, details), host, port, threads)
    settle_heap()
    server.start()
    keep_interpreter_on_one_cpu(interpreter_cpu)
    ready.set()
    log.info("listening on http://%s:%s%s (health: %s, metrics: %s)", host, server.port, EVENTS_PATH,
             HEALTH_PATH, METRICS_PATH if metrics else "off")
    name = wait_for_signal()
    ready.clear()
    log.info("received %s: finishing lookups in flight, then exiting", name)
    if not server.stop():
        log.warning("stopping with requests still unanswered after %g s", STOP_SECONDS)
    on_stop()


class TimedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, with each acknowledgement's time told to the metrics."""

    def __init__(self, app: App, app_token: str, metrics: Metrics | None) -> None:
        super().__init__(app, app_token)
        self._metrics = metrics

    def handle(self, client: Any, req: Any) -> None:
        started = time.perf_counter()
        try:
            super().handle(client, req)
        finally:
            if self._metrics is not None:
                self._metrics.ack("socket", time.perf_counter() - started)


def serve_socket_mode(app: App, app_token: str, on_stop: Callable[[], None], *, metrics: Metrics | None = None,
                      details: Details | None = None, health_host: str = "0.0.0.0",
                      health_port: int | None = None, interpreter_cpu: str = OFF) -> None:
    """Connect to Slack over Socket Mode (no public URL) and serve until SIGTERM/SIGINT. With `health_port`,
    `GET /healthz` (200 only while connected) and `GET /metrics` are served there."""
    handler = TimedSocketModeHandler(app, app_token, metrics)
    done = threading.Event()
    health: Any = None
    if health_port is not None:
        connected = lambda: not done.is_set() and handler.client.is_connected()  # noqa: E731
        health = HttpServer(make_wsgi_app(None, connected, metrics=metrics, details=details), health_host,
                            health_port, 2, name="qflow-health")
        health.start()
        log.info("health on http://%s:%s%s (200 while connected to Slack), metrics on %s", health_host,
                 health.port, HEALTH_PATH, METRICS_PATH if metrics else "off")

    def stop(signum: int, _frame: Any) -> None:
        log.info("received %s: closing the Socket Mode connection", signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    settle_heap()
    keep_interpreter_on_one_cpu(interpreter_cpu)  # before the handler's threads: they start on that CPU
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    done.wait()
    handler.close()
    on_stop()
    if health is not None:
        health.stop()
