"""The fake world most tests start from: a fake Slack and a stock fake Qualys (with the shipped
examples and a workflow definition), and fresh executions made from the examples."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.fakes.qualys import FakeQualys, load_example
from tests.fakes.slack import FakeSlack

WORKFLOW_ID = "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"


def stock_qualys() -> FakeQualys:
    fake = FakeQualys().start()
    fake.add_execution(load_example("sample-response.json"))
    fake.add_execution(load_example("failed-with-steps.json"))
    fake.add_execution(load_example("running.json"), inline_steps=False)
    fake.workflows[WORKFLOW_ID] = load_example("workflow-details.json")  # the saved answer preview reads
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


def execution_data(example: str = "sample-response.json", **changes) -> dict:
    """A copy of an example under a fresh id, so tests sharing one app never share a cache entry."""
    data = copy.deepcopy(load_example(example))
    data["id"] = data["execution"] = str(uuid.uuid4())
    data.update(changes)
    return data


def new_execution(qualys: FakeQualys, example: str = "sample-response.json", **changes) -> str:
    return qualys.add_execution(execution_data(example, **changes))
