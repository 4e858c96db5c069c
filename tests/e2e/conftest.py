from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes.qualys import FakeQualys, load_example
from tests.fakes.slack import FakeSlack
from tests.slack_checks import assert_valid_message

WORKFLOW_ID = "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"


def stock_qualys() -> FakeQualys:
    fake = FakeQualys().start()
    fake.add_execution(load_example("sample-response.json"))
    fake.add_execution(load_example("failed-with-steps.json"))
    fake.add_execution(load_example("running.json"), inline_steps=False)
    fake.workflows[WORKFLOW_ID] = {
        "id": WORKFLOW_ID,
        "name": "Remediate public S3 buckets",
        "definition": '{"components": [{"id": "node-67649155-filter", "name": "Only public buckets", "type": "filter"},'
                      ' {"id": "node-1a2b3c4d-awsapi", "name": "List S3 buckets", "type": "awsapi"}]}',
    }
    return fake


@contextmanager
def fakes() -> Iterator[tuple[FakeSlack, FakeQualys]]:
    """A fresh fake Slack and stock fake Qualys, stopped afterwards."""
    slack, qualys = FakeSlack().start(), stock_qualys()
    try:
        yield slack, qualys
    finally:
        slack.stop()
        qualys.stop()


def new_execution(qualys: FakeQualys, example: str = "sample-response.json", **changes) -> str:
    """A copy of an example under a fresh id, so tests sharing one app never share a cache entry."""
    data = copy.deepcopy(load_example(example))
    data["id"] = data["execution"] = str(uuid.uuid4())
    data.update(changes)
    return qualys.add_execution(data)


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
