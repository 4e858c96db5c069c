from datetime import UTC, datetime

from bot.qflow import ExecutionNotFound, QFlowTimeout, RateLimited, RetryPolicy, ServerError
from bot.qflow.retry import parse_retry_after

policy = RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_max=2.0, max_retry_after=10, total_budget=5)


def test_backoff_grows_is_capped_and_jittered():
    low = [policy.delay(a, ServerError(503), 0, rand=lambda: 0.0) for a in (1, 2, 3)]
    high = [policy.delay(a, ServerError(503), 0, rand=lambda: 1.0) for a in (1, 2, 3)]
    assert low == [0.25, 0.5, 1.0] and high == [0.5, 1.0, 2.0]


def test_stops_after_max_attempts_and_on_budget():
    assert policy.delay(4, QFlowTimeout(), 0) is None
    assert policy.delay(1, QFlowTimeout(), 4.9, rand=lambda: 1.0) is None


def test_only_transient_errors_are_retried():
    assert policy.delay(1, ExecutionNotFound(404), 0) is None


def test_retry_after_is_honoured_within_its_bound():
    assert policy.delay(1, RateLimited(retry_after=3), 0) == 3
    assert policy.delay(1, RateLimited(retry_after=11), 0) is None
    assert policy.delay(1, RateLimited(retry_after=3), 3) is None  # past the total budget


def test_parse_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "7"}) == 7
    assert parse_retry_after({"retry-after": "Thu, 01 Jan 2026 12:00:30 GMT"}, now) == 30
    assert parse_retry_after({"x-ratelimit-towait-sec": "12"}) == 12
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
