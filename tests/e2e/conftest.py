from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes.qualys import FakeQualys, load_example
from tests.fakes.slack import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def qualys() -> Iterator[FakeQualys]:
    fake = FakeQualys().start()
    fake.add_execution(load_example("sample-response.json"))
    fake.add_execution(load_example("failed-with-steps.json"))
    fake.add_execution(load_example("running.json"), inline_steps=False)
    fake.workflows["f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"] = {
        "id": "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a",
        "name": "Remediate public S3 buckets",
        "definition": '{"components": [{"id": "node-67649155-filter", "name": "Only public buckets", "type": "filter"},'
                      ' {"id": "node-1a2b3c4d-awsapi", "name": "List S3 buckets", "type": "awsapi"}]}',
    }
    yield fake
    fake.stop()


@pytest.fixture
def app(slack: FakeSlack, qualys: FakeQualys) -> Iterator[RunningApp]:
    """The app in HTTP mode with a static service token the fake gateway accepts."""
    with run_app(app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())) as running:
        yield running
