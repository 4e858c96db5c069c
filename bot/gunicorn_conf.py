"""gunicorn settings for `python -m bot http` with WEB_CONCURRENCY > 1 (it runs gunicorn with this file).
Threaded workers like the single-process server's; each worker drains its work on exit."""

from __future__ import annotations

import logging
import os
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]

from bot.slack.server import EVENTS_PATH
from bot.work import SHUTDOWN_GRACE_SECONDS

bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '3000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
worker_class = "gthread"
threads = int(os.environ.get("QFLOW_HTTP_THREADS") or 8)
worker_connections = 1000  # an incident storm opens hundreds of connections at once
graceful_timeout = int(SHUTDOWN_GRACE_SECONDS) + 5
timeout = 60
control_socket_disable = True  # no control socket in $HOME: replicas on one host never share one
limit_request_field_size = 16 * 1024


class Logger(glogging.Logger):
    """gunicorn's own lines through the app's handler (scrubbed; JSON with LOG_FORMAT=json)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        ours = logging.getLogger().handlers
        if ours:
            for logger in (self.error_log, self.access_log):
                logger.handlers = list(ours)


logger_class = Logger


def on_starting(server: Any) -> None:
    from bot.__main__ import load_for_serving

    load_for_serving("http")  # the master's lines, formatted and scrubbed as the workers' are
    server.log.setup(server.cfg)


def when_ready(server: Any) -> None:
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        server.log.info("listening on http://%s:%s%s (%d worker processes)", host, port, EVENTS_PATH,
                        server.num_workers)


def worker_exit(server: Any, worker: Any) -> None:
    from bot import wsgi

    wsgi.shutdown()
