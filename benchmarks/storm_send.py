"""The storm's people, in a process of their own (so that sending does not compete with the fakes for one
interpreter) and on one asyncio loop (hundreds of threads would add their own waits to every ack): each
person has a kept-alive connection, sends a signed request, reads its ack and (with answers) waits until the
parent says its answer reached the fake Slack before sending the next. Times are time.perf_counter() values,
which on Linux are one clock for every process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from multiprocessing.connection import Connection
from urllib.parse import urlsplit

Prepared = tuple[bytes, dict[str, str]]  # a signed body and its headers
Sent = tuple[float, float, int]  # when it was sent, its ack's seconds, its HTTP status (0: no answer)


def send_storm(url: str, prepared: list[Prepared], in_flight: int, answers: bool, timeout: float,
               parent: Connection) -> None:
    """Send `prepared` to `url`, `in_flight` at a time; the parent sends the index of each request answered
    (-1: no more) and gets back one Sent per request."""
    gc.collect()
    gc.disable()  # a process of one storm: no pause to collect garbage while it times acks
    parent.send(asyncio.run(_storm(url, prepared, in_flight, answers, timeout, parent)))


async def _storm(url: str, prepared: list[Prepared], in_flight: int, answers: bool, timeout: float,
                 parent: Connection) -> list[Sent]:
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    answered = [asyncio.Event() for _ in prepared]
    results: list[Sent] = [(0.0, 0.0, 0)] * len(prepared)
    queue = iter(range(len(prepared)))

    def heard() -> None:  # a thread: the pipe blocks
        try:
            while (i := parent.recv()) >= 0:
                loop.call_soon_threadsafe(answered[i].set)
        except (EOFError, OSError):
            pass

    threading.Thread(target=heard, daemon=True).start()

    async def person() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for i in queue:
            body, headers = prepared[i]
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            request = (f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\n"
                       f"{head}\r\n").encode() + body
            sent = time.perf_counter()
            try:  # once: a signed request sent twice is a replay, which the app refuses
                writer.write(request)
                status = await _response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                results[i] = (sent, time.perf_counter() - sent, 0)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            results[i] = (sent, time.perf_counter() - sent, status)
            if answers:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered[i].wait(), timeout)
        writer.close()

    await asyncio.gather(*(person() for _ in range(in_flight)))
    return results


async def _response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length framed, as our server and gunicorn answer); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0)
    if length:
        await reader.readexactly(length)
    return status
