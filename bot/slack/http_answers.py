"""Reading Slack's answers without the email package: http.client hands an answer's header lines to the
email package's parser, and the charset is then looked up through it. Sampled in a storm, that parser and
that lookup were an eighth of the app's interpreter time. Here the lines go straight into http.client's
HTTPMessage, as that parser fills it (tests/unit/slack/test_http_answers.py holds them to it), and the rest
of an answer is read by http.client as before."""

from __future__ import annotations

import http.client
import re
from email.message import Message

_FIELD_NAME = re.compile(r"[\041-\071\073-\176]+:")  # RFC 5322's field name, then its colon


def read_header_lines(lines: list[bytes]) -> http.client.HTTPMessage:
    """An answer's header lines (as http.client reads them, the blank line last) in an HTTPMessage, as the
    email package's parser fills it for http.client: `Name: value` kept as sent (the value's leading blanks
    and line end stripped), a folded line joined to the one before, and the headers ended by a line that is
    neither."""
    fields: list[list[str]] = []
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line[:1] in (" ", "\t"):
            if fields:
                fields[-1][1] += line
            continue
        match = _FIELD_NAME.match(line)
        if match is None:  # the blank line that ends them, or what the email parser would take for a body
            break
        fields.append([line[:match.end() - 1], line[match.end():].lstrip(" \t")])
    message = http.client.HTTPMessage()
    for name, value in fields:
        message[name] = value.rstrip("\r\n")
    return message


class AnswerReader(http.client.HTTPResponse):
    """http.client's response, its headers read by `read_header_lines`; the rest is http.client's begin()."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            http.client._read_headers(self.fp)  # a 100 Continue's: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = read_header_lines(http.client._read_headers(self.fp))
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200 or \
                self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def charset_of(headers: Message) -> str | None:
    """The charset Content-Type names, lower-cased (None when it names none): what the email package's
    get_content_charset() gives for the Content-Types servers send, at a tenth of its cost."""
    for parameter in (headers.get("content-type") or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def text_of(headers: Message, body: bytes) -> str:
    """The body as text, in the charset its headers name (UTF-8 when they name none, or one Python lacks)."""
    try:
        return body.decode(charset_of(headers) or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
