"""The metrics: labels that can never carry an id or someone's text, and what the Qualys client reports."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics, label_word, method_word
from bot.qflow import (
    ExecutionNotFound,
    QFlowClient,
    QFlowTimeout,
    RetryPolicy,
    StaticToken,
    build_http_client,
)
from bot.qflow.retry import header_count
from tests.unit.qflow.test_client import EID, GATEWAY, Script, err, ok

IDS = st.one_of(st.uuids().map(str), st.from_regex(r"[UWCGDT][A-Z0-9]{8,10}", fullmatch=True))


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.exposition()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


@given(IDS)
def test_an_id_never_becomes_a_label(value):
    assert label_word(value) == "other" and method_word(value) == "other"


@given(st.text(max_size=200))
def test_any_text_is_a_known_shape_or_other(value):
    word, method = label_word(value), method_word(value)
    assert word == "other" or (word == value and word.islower() and len(word) <= 48 and " " not in word)
    assert method == "other" or (method == value and "." in method or method == "response_url")


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.postEphemeral", "auth.test", "apps.connections.open",
                                    "conversations.info", "chat.unfurl", "response_url"])
def test_the_methods_the_app_calls_are_labels(method):
    assert method_word(method) == method


@pytest.mark.parametrize("raw,expected", [("300", 300), (" 12 ", 12), ("0", 0), ("", None), ("-5", None),
                                          ("1e308", None), ("inf", None), ("nan", None), ("12.5", None),
                                          ("٣", None), ("9" * 10, None), (None, None)])
def test_rate_limit_headers_are_read_only_when_plain_counts(raw, expected):
    headers = {} if raw is None else {"x-ratelimit-remaining": raw}
    assert header_count(headers, "x-ratelimit-remaining") == expected


def test_odd_rate_limit_headers_leave_the_last_good_value():
    metrics = Metrics()
    metrics.qualys_call("execution", "ok", 0.1, httpx.Headers({"X-RateLimit-Remaining": "42", "X-RateLimit-Limit": "300"}))
    metrics.qualys_call("execution", "ok", 0.1, httpx.Headers({"X-RateLimit-Remaining": "1e308", "X-RateLimit-Limit": "-1"}))
    got = samples(metrics)
    assert got[("qflow_qualys_ratelimit_remaining", ())] == 42
    assert got[("qflow_qualys_ratelimit_limit", ())] == 300


def test_the_client_reports_each_call_with_its_outcome_and_headers():
    calls: list[tuple[str, str, float, object]] = []
    script = Script(ok(headers={"X-RateLimit-Remaining": "7"}), err(404, "no such"),
                    err(503), httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"))
    http = build_http_client(5, httpx.MockTransport(script))
    client = QFlowClient(GATEWAY, StaticToken("static.jwt.token"), http, retry=RetryPolicy(max_attempts=3),
                         sleep=lambda s: None, observe=lambda *call: calls.append(call))
    client.get_execution(EID)
    with pytest.raises(ExecutionNotFound):
        client.get_steps(EID)
    with pytest.raises(QFlowTimeout):
        client.get_workflow(str(uuid.uuid4()))
    assert [(endpoint, outcome) for endpoint, outcome, _, _ in calls] == [
        ("execution", "ok"), ("steps", "not_found"), ("workflow", "server_error"), ("workflow", "timeout"),
        ("workflow", "timeout")]
    assert all(seconds >= 0 for _, _, seconds, _ in calls)
    assert calls[0][3]["x-ratelimit-remaining"] == "7" and calls[1][3] is not None and calls[3][3] is None
