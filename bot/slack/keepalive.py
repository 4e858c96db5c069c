"""Kept-alive connections for slack_sdk's clients. slack_sdk opens a new connection for every call (and over
TLS negotiates it anew): in a storm that was most of what posting an answer cost (measured on loopback:
0.35–0.44 ms of CPU per call, against 0.22 ms on a kept-alive connection; on the internet, a TLS handshake
more). Here a call borrows an idle connection to the same host, or opens one, and gives it back once the
answer is read; everything else (retries, errors, the answer's parsing) stays slack_sdk's.

The clients below replace only slack_sdk's last step, where it calls urllib's `urlopen`: each returns, or
raises, what that step did with urllib (non-2xx answers as urllib's HTTPError, connection failures as
URLError), so slack_sdk's retry handlers and our callers see no difference."""

from __future__ import annotations

import http.client
import io
import logging
import os
import select
import ssl
import threading
import time
from collections.abc import Callable
from email.message import Message
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.webhook import WebhookClient, WebhookResponse

# An idle connection older than this is closed rather than reused: servers close idle ones after a while
# (a request sent as they do would fail), and a quiet app needs none.
IDLE_SECONDS = 30.0
MOST_IDLE_PER_HOST = 32

Answer = tuple[int, Message, bytes]  # status, headers, body
Key = tuple[str, str, int]  # scheme, host, port


class Connections:
    """Idle HTTP(S) connections by host, each lent to one call at a time."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS, most_idle: int = MOST_IDLE_PER_HOST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._idle_seconds = idle_seconds
        self._most_idle = most_idle
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[Key, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._pid = os.getpid()
        self.opened = 0  # connections opened so far (the tests and benchmarks read it)

    def request(self, req: Request, *, timeout: float, context: ssl.SSLContext | None) -> Answer:
        """Send `req` (as urllib would) and read the whole answer; raises as urllib's `urlopen` does."""
        parts = urlsplit(req.full_url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise SlackRequestError(f"Invalid URL detected: {req.full_url}")
        key = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = self._borrow(key, timeout, context)
        try:
            try:
                connection.request(req.get_method(), target, body=req.data, headers=dict(req.header_items()))
            except OSError as error:  # as urllib reports a request that could not be sent
                raise URLError(error) from error
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._give_back(key, connection)
        if not 200 <= response.status < 300:  # urllib raises for these; slack_sdk reads them from the error
            raise HTTPError(req.full_url, response.status, response.reason, response.msg, io.BytesIO(body))
        return response.status, response.msg, body

    def _borrow(self, key: Key, timeout: float, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
        # The idle connection is checked (a system call) under the lock, on purpose: checked outside it, the
        # answer threads stopped queueing here and took the interpreter from the acks (measured at 200 in
        # flight: ack p50 7-9 ms became 11-25 ms, the lean benchmark app's 4 ms became 46-162), and no answer
        # came sooner.
        now = self._clock()
        with self._lock:
            if self._pid != os.getpid():  # a forked worker: the parent's connections are not ours to use
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get(key, [])
            while idle:
                connection, since = idle.pop()
                if now - since <= self._idle_seconds and not _closed_by_server(connection):
                    connection.timeout = timeout
                    if connection.sock is not None:
                        connection.sock.settimeout(timeout)
                    return connection
                connection.close()
            self.opened += 1
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=context or ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _give_back(self, key: Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._most_idle:
                idle.append((connection, self._clock()))
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection, _ in connections:
                connection.close()


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed by the server (or is out of step): not
    reusable. (Checked before each reuse, as urllib3 does.)"""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


SLACK_CONNECTIONS = Connections()  # one set for the process: every client to Slack shares it
_WEBHOOK_LOG = logging.getLogger("slack_sdk.webhook.client")  # the logger slack_sdk would ask for


class KeptAliveWebClient(WebClient):
    """slack_sdk's WebClient over kept-alive connections."""

    def __init__(self, *args: Any, connections: Connections = SLACK_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections = connections

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, body = self._connections.request(req, timeout=self.timeout, context=self.ssl)
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        return {"status": status, "headers": headers, "body": body.decode(headers.get_content_charset() or "utf-8")}


class KeptAliveWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (response_url) over kept-alive connections. One is made per answer: given
    a logger, slack_sdk does not ask `logging.getLogger` (which takes logging's module-wide lock) each time."""

    def __init__(self, *args: Any, connections: Connections = SLACK_CONNECTIONS, **kwargs: Any) -> None:
        kwargs.setdefault("logger", _WEBHOOK_LOG)
        super().__init__(*args, **kwargs)
        self._connections = connections

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None:
            return super()._perform_http_request_internal(url, req)
        status, headers, body = self._connections.request(req, timeout=self.timeout, context=self.ssl)
        return WebhookResponse(url=url, status_code=status, body=body.decode(headers.get_content_charset() or "utf-8"),
                               headers=headers)  # type: ignore[arg-type]
