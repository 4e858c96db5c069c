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


# --- any Retry-After value is clamped, never trusted -----------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState  # noqa: E402

from bot.qflow.retry import MAX_WAIT_SECONDS, seconds_from_header  # noqa: E402
from bot.render.messages import error_text  # noqa: E402
from bot.slack.retries import MAX_SLACK_WAIT_SECONDS, ClampedRateLimitRetryHandler  # noqa: E402

header_values = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "1e308", "-5", "0", "3600", "99999999999999999999", "", " ", "soon",
                     "Wed, 21 Oct 2115 07:28:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "Mon, 99 Foo 2020 99:99:99",
                     "1" * 500, "0x10", "1_000", "\u0661\u0662"]),
    st.text(max_size=80), st.floats().map(repr), st.integers().map(str),
)


@given(header_values, st.sampled_from(["retry-after", "x-ratelimit-towait-sec"]))
def test_any_qualys_wait_header_is_clamped_or_ignored(value, name):
    seconds = parse_retry_after({name: value})
    assert seconds is None or 0 <= seconds <= MAX_WAIT_SECONDS
    wait = policy.delay(1, RateLimited(retry_after=seconds), 0)
    assert wait is None or 0 <= wait <= policy.max_retry_after
    text = error_text(RateLimited(retry_after=seconds), "0e71f117-648f-4ad2-a3a9-8f1b857a1b70")
    assert "Try again" in text and "inf" not in text and "nan" not in text


@given(header_values)
def test_any_slack_retry_after_is_waited_out_within_the_bound(value):
    slept: list[float] = []
    handler = ClampedRateLimitRetryHandler(max_retry_count=3, sleep=slept.append)
    state = RetryState()
    request = HttpRequest(method="POST", url="https://slack.test/api/chat.postMessage", headers={}, data=None)
    response = HttpResponse(status_code=429, headers={"Retry-After": [value]}, data=b"{}")
    assert handler.can_retry(state=state, request=request, response=response)
    handler.prepare_for_next_attempt(state=state, request=request, response=response)
    assert len(slept) == 1 and 0 <= slept[0] <= MAX_SLACK_WAIT_SECONDS + 1
    assert seconds_from_header(value) is None or 0 <= seconds_from_header(value) <= MAX_WAIT_SECONDS
