from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack
from tests.fakes.world import stock_qualys
from tests.slack_checks import assert_valid_message


class Expectations:
    """How many posts each response_url must have received once the app has drained and stopped."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def expect(self, url: str, posts: int = 1) -> str:
        self.counts[url] = posts
        return url


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def qualys() -> Iterator[FakeQualys]:
    fake = stock_qualys()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def expectations() -> Expectations:
    return Expectations()


@pytest.fixture(scope="module")
def app(slack: FakeSlack, qualys: FakeQualys, expectations: Expectations) -> Iterator[RunningApp]:
    """One app process for a module (HTTP mode, static service token); at the end it is stopped with
    SIGTERM, which drains the work in flight, and every response_url is checked for exactly one answer."""
    env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_TIMEOUT_SECONDS="1")
    with run_app(env) as running:
        yield running
        code = running.stop()
    assert code == 0, running.log_text
    for request in slack.requests:  # everything the app sent to Slack, looked at by a test or not
        if isinstance(request.data, dict) and request.data.get("blocks"):
            assert_valid_message(request.data)
    posted = Counter(r.meta["response_url"] for r in slack.responses())
    for url, count in expectations.counts.items():
        assert posted[url] == count, f"{url}: {posted[url]} answers, expected {count}\n{running.log_text}"
