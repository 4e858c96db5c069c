"""Error knowledge lives in one table: every QFlow error has an audit outcome the README documents,
a retry decision, the user's words, the admin's advice, and a Try again decision."""

import inspect
from pathlib import Path

import bot.qflow.errors as errors
from bot.qflow import QFlowError
from bot.redact import DEFAULT
from bot.render.errors import ERROR_WORDS, words_for

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()
KINDS = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, QFlowError)]


def sample(kind):
    if issubclass(kind, errors.QFlowStatusError) or kind is errors.AuthenticationFailed:
        return kind(503)
    if kind in (errors.InvalidResponse, errors.InvalidExecutionId):
        return kind("detail")
    return kind()


def test_every_error_has_its_outcome_words_and_advice():
    assert len(KINDS) >= 11
    for kind in KINDS:
        error = sample(kind)
        assert f"`{error.outcome}`" in README, kind
        words = words_for(error)
        assert "`abc`" in words.user(error, "`abc`", DEFAULT) and words.admin(error, "https://gw")
        assert isinstance(error.retryable, bool) and isinstance(words.try_again, bool)


def test_the_table_decides_what_is_retried_and_offered_again():
    retried = {k.__name__ for k in KINDS if k.retryable}
    assert retried == {"QFlowTimeout", "QFlowConnectionError", "RateLimited", "ServerError"}
    offered = {k.__name__ for k in ERROR_WORDS if ERROR_WORDS[k].try_again}
    assert offered == retried | {"InvalidResponse", "BaseException"}
