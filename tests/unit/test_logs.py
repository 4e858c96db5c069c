"""Both log formats scrub every secret; the JSON format is one object per line with the request's facts."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading

from hypothesis import given
from hypothesis import strategies as st

from bot.logs import JsonFormatter, ScrubbingFormatter, deferred_log_context, log_context
from bot.slack.payload import request_facts

SECRETS = st.text(min_size=6, max_size=40).filter(lambda s: s.strip() == s and "***" not in s)


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("bot.test", logging.ERROR, __file__, 1, message, args, exc_info)


def raised(text: str) -> BaseException:
    try:
        raise RuntimeError(text)
    except RuntimeError as error:
        return error


@given(SECRETS, st.text(max_size=30))
def test_a_secret_never_survives_either_format(secret, around):
    for formatter in (JsonFormatter([secret]), ScrubbingFormatter("%(message)s", [secret])):
        line = formatter.format(record("%s", around + secret + around, exc=raised(f"token={secret}")))
        shown = json.loads(line) if isinstance(formatter, JsonFormatter) else {"message": line}
        assert secret not in json.dumps(shown, ensure_ascii=False) and secret not in "".join(map(str, shown.values()))


def test_json_lines_carry_the_context_and_only_known_fields():
    formatter = JsonFormatter([])
    with log_context(team="T1", user="U1", channel="C1", entry="command", nonsense="x"), \
            log_context(execution_id="e-1", event_id=None):
        line = json.loads(formatter.format(record("hello\nworld")))
    assert "\n" not in formatter.format(record("hello\nworld"))
    assert line["message"] == "hello\nworld" and line["level"] == "ERROR" and line["logger"] == "bot.test"
    assert {k: line[k] for k in ("team", "user", "channel", "entry", "execution_id")} == {
        "team": "T1", "user": "U1", "channel": "C1", "entry": "command", "execution_id": "e-1"}
    assert "nonsense" not in line and "event_id" not in line
    assert "team" not in json.loads(formatter.format(record("outside")))  # the context ended with the block


def test_deferred_facts_are_worked_out_once_and_only_when_a_line_needs_them():
    formatter = JsonFormatter([])
    worked: list[int] = []

    def facts() -> dict[str, str | None]:
        worked.append(1)
        return {"team": "T1", "user": "U1", "channel": None, "nonsense": "x"}

    with log_context(entry="command"), deferred_log_context(facts):
        assert worked == []  # nothing logged yet: nothing worked out
        handed_on = contextvars.copy_context()  # as the work pool hands a request's context on
        line = json.loads(formatter.format(record("first")))
        again = json.loads(formatter.format(record("second")))
        with log_context(execution_id="e-1"):
            nested = json.loads(formatter.format(record("nested")))
    assert worked == [1]
    assert {k: line.get(k) for k in ("team", "user", "entry", "channel", "nonsense")} == {
        "team": "T1", "user": "U1", "entry": "command", "channel": None, "nonsense": None} == {
        k: again.get(k) for k in ("team", "user", "entry", "channel", "nonsense")}
    assert nested["execution_id"] == "e-1" and nested["team"] == "T1"
    assert "team" not in json.loads(formatter.format(record("outside")))
    on_worker = handed_on.run(lambda: json.loads(formatter.format(record("later"))))
    assert on_worker["user"] == "U1" and worked == [1]


def test_a_context_nested_in_deferred_facts_leaves_them_unworked_until_a_line_needs_them():
    formatter = JsonFormatter([])
    worked: list[int] = []

    def facts() -> dict[str, str | None]:
        worked.append(1)
        return {"team": "T1", "execution_id": "from-request"}

    with deferred_log_context(facts), log_context(execution_id="e-1", user=None):
        with log_context(entry="click"):
            assert worked == []  # every request's card nests one: it must not work the facts out
            line = json.loads(formatter.format(record("nested")))
        outer = json.loads(formatter.format(record("outer")))
    assert worked == [1]
    assert (line["team"], line["execution_id"], line["entry"], "user" in line) == ("T1", "e-1", "click", False)
    assert (outer["execution_id"], "entry" in outer) == ("e-1", False)


def test_a_traceback_is_one_field_of_one_line():
    line = JsonFormatter([]).format(record("failed", exc=raised("boom")))
    assert line.count("\n") == 0 and "RuntimeError: boom" in json.loads(line)["error"]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=80),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=20))
def test_request_facts_of_any_shape_are_ids_or_nothing(body):
    facts = request_facts(body)
    assert set(facts) == {"team", "user", "channel", "entry", "event_id"}
    for value in facts.values():
        assert value is None or (value.isascii() and len(value) <= 64 and " " not in value)


def test_request_facts_of_each_kind_of_request():
    assert request_facts({"command": "/qflow", "team_id": "T1", "user_id": "U1", "channel_id": "C1"}) == {
        "team": "T1", "user": "U1", "channel": "C1", "entry": "command", "event_id": None}
    event = {"type": "event_callback", "team_id": "T1", "event_id": "Ev1",
             "event": {"type": "link_shared", "user": "U2", "channel": "C2"}}
    assert request_facts(event) == {"team": "T1", "user": "U2", "channel": "C2", "entry": "unfurl", "event_id": "Ev1"}
    click = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U3"}, "channel": {"id": "C3"}}
    assert request_facts(click)["entry"] == "click" and request_facts(click)["user"] == "U3"
    assert request_facts({"type": "message_action"})["entry"] == "shortcut"
    assert request_facts({"user_id": "U1; DROP TABLE", "team_id": "T" * 65})["user"] is None


def test_configure_logging_routes_uncaught_thread_errors_through_the_formatter(capsys):
    import threading

    from bot.logs import configure_logging

    old_hooks = sys.excepthook, threading.excepthook
    try:
        configure_logging("INFO", ["supersecretvalue"], json_lines=True)
        thread = threading.Thread(target=lambda: (_ for _ in ()).throw(RuntimeError("supersecretvalue leaked")))
        thread.start()
        thread.join()
        [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
        assert line["level"] == "ERROR" and "***" in line["error"] and "supersecretvalue" not in line["error"]
    finally:
        sys.excepthook, threading.excepthook = old_hooks
        logging.getLogger().handlers.clear()
        logging.captureWarnings(False)


def test_slack_sdk_s_clients_format_no_debug_line_when_debug_is_off(monkeypatch):
    """slack_sdk formats each request's whole body into a debug line when its own logger's level (not the
    inherited one) is DEBUG or unset: the app sets it, so a storm's posts are not formatted for nothing."""
    from bot.logs import configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    clients = ("slack_sdk.web.base_client", "slack_sdk.webhook.client")
    for name in (*clients, "slack_sdk", "slack_bolt", "_granian", "urllib3", "websocket",
                 "websockets", "asyncio", "httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    configure_logging("DEBUG")  # the app's own debug lines; the libraries' stay off
    assert all(logging.getLogger(name).level > logging.DEBUG for name in clients)
    configure_logging("DEBUG", debug_libraries=True)
    assert all(logging.getLogger(name).isEnabledFor(logging.DEBUG) for name in clients)
