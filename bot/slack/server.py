"""Serving the app: HTTP behind waitress (a production WSGI server), or Socket Mode."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def make_wsgi_app(app: App, ready: Callable[[], bool]) -> Callable[..., Iterable[bytes]]:
    """`POST /slack/events` to Bolt, `GET /healthz` (200 when ready, 503 otherwise), 404 elsewhere."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
                start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
                return [b""]
            ok = ready()
            body = json.dumps({"status": "ok" if ok else "starting"}).encode()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return slack(environ, start_response)

    return wsgi


def serve_http(app: App, host: str, port: int, on_stop: Callable[[], None], threads: int = 8) -> None:
    """Serve until SIGTERM/SIGINT, then stop taking requests and let `on_stop` finish the work."""
    from waitress.server import create_server

    ready = threading.Event()
    server: Any = create_server(make_wsgi_app(app, ready.is_set), host=host, port=port, threads=threads,
                                ident="qflow-bot")
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        ready.clear()
        log.info("received %s: finishing lookups in flight, then exiting", signal.Signals(signum).name)
        server.close()
        on_stop()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ready.set()
    log.info("listening on http://%s:%s%s (health: %s)", host, server.effective_port, EVENTS_PATH, HEALTH_PATH)
    server.run()


def serve_socket_mode(app: App, app_token: str, on_stop: Callable[[], None]) -> None:
    """Connect to Slack over Socket Mode (no public URL) and serve until SIGTERM/SIGINT."""
    handler = SocketModeHandler(app, app_token)
    done = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        log.info("received %s: closing the Socket Mode connection", signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    done.wait()
    handler.close()
    on_stop()
