import pytest

from bot.qflow import (
    AuthenticationFailed,
    ExecutionNotFound,
    Forbidden,
    InvalidResponse,
    QFlowConnectionError,
    QFlowTimeout,
    RateLimited,
    ServerError,
    Unauthorized,
)
from bot.render import CardState, render_help, render_invalid_id, render_lookup_error, render_usage
from bot.render.state import BadButtonValue, parse_state
from tests.slack_checks import all_text, assert_valid_message, buttons

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
STATE = CardState(EID)


@pytest.mark.parametrize("error,words,retry", [
    (Unauthorized(401), ["refused this app's service token", "isn't something you did", "admin"], False),
    (AuthenticationFailed(401), ["could not log in", "QUALYS_USERNAME"], False),
    (Forbidden(403), ["LIST ALL", "LIST WF BY TAGS", "LIST MY"], False),
    (ExecutionNotFound(404), ["No execution", "30 days"], False),
    (RateLimited(429, retry_after=30), ["busy", "30 s"], True),
    (QFlowTimeout(), ["didn't answer in time"], True),
    (QFlowConnectionError(), ["couldn't reach Qualys"], True),
    (ServerError(502), ["HTTP 502"], True),
    (InvalidResponse("expected JSON, got text/html"), ["isn't the expected JSON", "text/html"], True),
    (RuntimeError("secret internals"), ["Something went wrong"], True),
])
def test_every_error_says_what_to_do(error, words, retry):
    payload = render_lookup_error(error, STATE, reference="abc123").payload()
    assert_valid_message(payload)
    text = all_text(payload)
    for word in words:
        assert word in text
    assert EID in text and "secret internals" not in text
    assert ("Try again" in buttons(payload)) is retry


def test_help_usage_and_bad_id():
    for payload in (render_help().payload(), render_usage("<!channel> do it").payload(),
                    render_invalid_id("<@U1> nope").payload()):
        assert_valid_message(payload)
    help_text = all_text(render_help().payload())
    for way in ("execution &lt;id&gt; steps", "execution &lt;id&gt; errors", "Paste an execution link", "Mention me",
                "direct message", "Look up QFlow executions"):
        assert way in help_text, way
    assert "&lt;!channel&gt; do it" in all_text(render_usage("<!channel> do it").payload())
    text = all_text(render_invalid_id("abc").payload())
    assert "`abc` isn't an execution id" in text and EID in text


@pytest.mark.parametrize("value", [None, "", "x" * 2001, "not json", "[]", '{"e": "abc"}', '{"e": 5}',
                                   '{"v": "t"}'])
def test_forged_button_values_are_refused(value):
    with pytest.raises(BadButtonValue):
        parse_state(value)


def test_button_values_round_trip_and_clamp():
    state = CardState(EID, "errors", 3, False)
    assert parse_state(state.to_value()) == state
    assert parse_state(f'{{"e":"{EID.upper()}","v":"zz","p":-5}}') == CardState(EID, "summary", 0, True)
    assert parse_state(f'{{"e":"{EID}","p":10000000}}').page == 10_000


def test_what_qualys_says_in_an_error_is_masked_like_any_api_text():
    from bot.qflow import InvalidResponse, QFlowError
    from bot.redact import Redactor

    own = Redactor(own_secrets=["Own-Secret-123"])
    for error in (InvalidResponse("expected JSON, got Bearer abcdefghijklmnopqrstuvwx"),
                  QFlowError("login failed: password=Own-Secret-123 token=abc")):
        text = render_lookup_error(error, CardState("0e71f117-648f-4ad2-a3a9-8f1b857a1b70"), redactor=own).text
        assert "abcdefghijklmnop" not in text and "Own-Secret-123" not in text and "•••" in text
