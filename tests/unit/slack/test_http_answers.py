"""Answers from Slack read without the email package: the same headers, charset, body and connection reuse
as http.client's own reading, on generated header blocks and on each way HTTP/1.1 frames an answer."""

from __future__ import annotations

import email.message
import http.client
import io
import socket
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.slack.http_answers import charset_of, read_header_lines
from bot.slack.keepalive import Connections
from tests.fakes._server import accept_each

TOKEN = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
                min_size=1, max_size=20)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\r\n\x7f"),
                max_size=40).filter(lambda v: not v.startswith("From "))
FIELD = st.tuples(TOKEN, st.sampled_from(["", " ", "  ", "\t"]), VALUE,
                  st.lists(st.tuples(st.sampled_from([" ", "\t"]), VALUE), max_size=2))


def _block(fields: list[tuple[str, str, str, list[tuple[str, str]]]]) -> list[bytes]:
    lines = []
    for name, blank, value, folds in fields:
        lines.append(f"{name}:{blank}{value}\r\n".encode("iso-8859-1"))
        lines.extend(f"{lead}{more}\r\n".encode("iso-8859-1") for lead, more in folds)
    return [*lines, b"\r\n"]


def _stock(lines: list[bytes]) -> http.client.HTTPMessage:
    return http.client.parse_headers(io.BytesIO(b"".join(lines)))


@given(st.lists(FIELD, max_size=12).filter(lambda fs: not any(n.startswith("From") for n, *_ in fs)))
@example([("Content-Type", " ", "application/json; charset=utf-8", []), ("X-Slack-Req-Id", " ", "abc", [])])
@example([("X-Empty", "", "", []), ("X-Folded", " ", "one", [(" ", "two"), ("\t", "three")])])
@example([("Set-Cookie", " ", "a=1", []), ("set-cookie", " ", "b=2", [])])  # repeated: both kept, in order
def test_header_lines_read_as_the_email_parser_reads_them(fields):
    lines = _block(fields)
    ours, theirs = read_header_lines(lines), _stock(lines)
    assert ours.items() == theirs.items()
    for name, *_ in fields:
        assert ours.get(name) == theirs.get(name) and ours.get_all(name) == theirs.get_all(name)


@pytest.mark.parametrize("lines", [
    [b"Content-Type: text/plain\r\n", b"Not a header\r\n", b"X-After: 1\r\n", b"\r\n"],  # ends the headers
    [b" folded first\r\n", b"X-A: 1\r\n", b"\r\n"],  # a continuation with nothing before it: dropped
    [b"X-Bare-Lf: 1\n", b"X-Two: 2\n", b"\n"],
    [b"X-Latin: caf\xe9\r\n", b"\r\n"],
    [b"\r\n"],
])
def test_odd_header_blocks_read_as_the_email_parser_reads_them(lines):
    assert read_header_lines(lines).items() == _stock(lines).items()


PARAMS = st.lists(st.tuples(st.sampled_from(["q", "boundary", "format", "Charset", "CHARSET", "charset"]),
                            st.sampled_from(["utf-8", "UTF-8", '"utf-8"', "iso-8859-1", "x", '"Latin-1"'])),
                  max_size=3)


@given(st.sampled_from(["application/json", "text/plain", "text/html", "application/gzip"]), PARAMS,
       st.sampled_from([";", "; ", " ; "]))
@example("application/json", [("charset", "utf-8")], "; ")
@example("text/plain", [], ";")
def test_the_charset_is_the_one_the_email_package_finds(kind, params, separator):
    content_type = kind + "".join(f"{separator}{name}={value}" for name, value in params)
    message = email.message.Message()
    message["Content-Type"] = content_type
    assert charset_of(message) == message.get_content_charset()


# --- on the wire: each way an answer is framed, read as http.client reads it ---------------------------------

ANSWERS = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"ok\r\n7\r\n\":true}\r\n0\r\n\r\n",
    "Chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "HEAD": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",  # the length a GET would have: no body follows
    "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "http/1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "http/1.0 keep-alive": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    "to the end": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil closed",
    "continue first": b"HTTP/1.1 100 Continue\r\nX-Skip: 1\r\n\r\nHTTP/1.1 429 Too Many\r\nRetry-After: 3\r\n"
                      b"Content-Length: 4\r\n\r\nslow",
    "no content": b"HTTP/1.1 204 No Content\r\nX-Slack-Req-Id: r\r\n\r\n",
    "bad length": b"HTTP/1.1 500 Oops\r\nContent-Length: many\r\nConnection: close\r\n\r\nbroken",
}


@pytest.fixture
def server() -> Iterator[tuple[str, list[bytes]]]:
    """Answers each request on a connection with the next of its queue, closing when the answer says so."""
    queue: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(sock: socket.socket) -> None:
        with sock:
            while queue:
                data = b""
                while b"\r\n\r\n" not in data or not data.endswith(b"{}"):  # the test's requests: a body of {}
                    more = sock.recv(65536)
                    if not more:
                        return
                    data += more
                answer = queue.pop(0)
                sock.sendall(answer)
                if b"Connection: close" in answer or b"HTTP/1.0 200 OK\r\nContent-Length" in answer or \
                        b"until closed" in answer:
                    sock.shutdown(socket.SHUT_WR)
                    return

    accept_each(listener, serve, threaded=True)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/x", queue
    listener.close()


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_each_framing_reads_as_http_client_reads_it(server, kind, monkeypatch):
    url, queue = server
    port = int(url.split(":")[2].split("/")[0])
    queue.extend([ANSWERS[kind], ANSWERS[kind]])
    stock = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    method = "HEAD" if kind == "HEAD" else "POST"
    stock.request(method, "/x", body=b"{}")
    reference = stock.getresponse()
    expected = (reference.status, reference.reason, reference.msg.items(), reference.read(), reference.will_close)
    stock.close()
    monkeypatch.setattr(http.client, "parse_headers", lambda *_: pytest.fail("read by the email parser"))
    connections = Connections()
    status, reason, headers, body = connections.exchange(method, url, b"{}", {}, timeout=5, context=None)
    kept = sum(len(idle) for idle in connections._idle.values())
    assert (status, reason, headers.items(), body, not kept) == expected
