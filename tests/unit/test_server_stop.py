"""Stopping the HTTP server while a request is still being answered."""

from __future__ import annotations

import http.client
import logging
import threading

from bot.slack import server as http_server


def test_a_request_finishing_after_the_stop_began_wakes_nothing_closed(caplog):
    entered, release = threading.Event(), threading.Event()

    def slow(environ, start_response):
        entered.set()
        assert release.wait(10)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = http_server._waitress(slow, "127.0.0.1", 0, 2)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    port = server.effective_port

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
        except OSError:
            pass  # the server went away: what the client sees is not what is tested here
        finally:
            connection.close()

    client = threading.Thread(target=ask, daemon=True)
    client.start()
    assert entered.wait(10)
    caplog.set_level(logging.DEBUG)

    # On the server's own thread, as the app's SIGTERM handler is; the loop ends once nothing is open.
    server.trigger.pull_trigger(lambda: http_server._close(server))
    for _ in range(10_000):  # until the stop has begun: the threads told to stop, or the server closed
        if server.trigger._closed or server.task_dispatcher.stop_count:
            break
        threading.Event().wait(0.001)
    release.set()  # the request finishes while the server stops
    loop.join(10)
    client.join(10)
    assert not loop.is_alive() and server.trigger._closed
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text
