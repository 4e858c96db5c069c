"""gunicorn settings for `python -m bot http` with WEB_CONCURRENCY > 1 (it runs gunicorn with this file).
Threaded workers like the single-process server's; each worker drains its work on exit."""

from __future__ import annotations

import logging
import os
import select
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]
from gunicorn.workers.base import Worker  # type: ignore[import-untyped]

from bot.config_fields import cpu_setting
from bot.cpu import keep_interpreter_on_one_cpu
from bot.slack.httpd import STOP_SECONDS, HttpServer
from bot.slack.server import EVENTS_PATH, settle_heap
from bot.work import SHUTDOWN_GRACE_SECONDS

bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '3000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
worker_class = "bot.gunicorn_conf.HttpWorker"
threads = int(os.environ.get("QFLOW_HTTP_THREADS") or 8)
backlog = 1024  # an incident storm opens hundreds of connections at once
graceful_timeout = int(SHUTDOWN_GRACE_SECONDS + STOP_SECONDS) + 5
timeout = 60
control_socket_disable = True  # no control socket in $HOME: replicas on one host never share one


class HttpWorker(Worker):
    """A worker process serving the port gunicorn opened with the app's own HTTP server (as one process
    serves: bot/slack/httpd.py), rather than gunicorn's threads, which parse each request in Python and
    read bodies on the threads that run the app. gunicorn still starts, watches and stops the workers."""

    def run(self) -> None:
        servers = [HttpServer(self.wsgi, "", 0, self.cfg.threads, listening=listener.sock)
                   for listener in self.sockets]
        settle_heap()
        for server in servers:
            server.start()
        # Checked by the master before it started gunicorn; each worker takes the next CPU (`age`: 1, 2…).
        keep_interpreter_on_one_cpu(cpu_setting(os.environ.get("QFLOW_INTERPRETER_CPU")), worker=self.age)
        # gunicorn says "listening" once, when its master is ready and before any worker has started: this
        # says when each worker takes requests.
        self.log.info("worker process %d takes requests", os.getpid())
        while self.alive and self.ppid == os.getppid():
            self.notify()  # gunicorn's heartbeat
            # a signal (SIGTERM: `alive` turns False) writes to this pipe and ends the wait at once
            if select.select([self.PIPE[0]], [], [], 1.0)[0]:
                try:
                    while os.read(self.PIPE[0], 64):
                        pass
                except BlockingIOError:
                    pass
        for server in servers:
            server.stop()


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
