import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.redis_server import RedisServer, running_redis

# Property tests are deterministic (a fixed seed per test) and quick enough to run on every change.
settings.register_profile("qflow", derandomize=True, deadline=None, max_examples=150, print_blob=True)
settings.load_profile("qflow")


FIGURES_DIR = "QFLOW_TEST_FIGURES_DIR"


def pytest_configure(config):
    # The tests run in two worker processes (pytest-xdist): each writes its figures to a shared folder,
    # and the run's summary prints them all. Workers inherit this variable from the controller.
    if not hasattr(config, "workerinput") and FIGURES_DIR not in os.environ:
        os.environ[FIGURES_DIR] = tempfile.mkdtemp(prefix="qflow-figures-")


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001 - pytest's hook signature
    from tests.reliability.figures import FIGURES

    folder = os.environ.get(FIGURES_DIR)
    if FIGURES and folder:
        name = getattr(session.config, "workerinput", {}).get("workerid", "main")
        Path(folder, f"{name}.json").write_text(json.dumps(FIGURES))


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest's hook signature
    from tests.reliability.figures import FIGURES

    folder = os.environ.get(FIGURES_DIR)
    for path in sorted(Path(folder).glob("*.json")) if folder else []:
        FIGURES.update(json.loads(path.read_text()))
    if FIGURES:
        terminalreporter.section("reliability: the real app against loopback fakes, faults injected")
        width = max(len(k) for k in FIGURES)
        for key, value in FIGURES.items():
            terminalreporter.write_line(f"  {key:<{width}}  {value}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (tests that stop it start it again)."""
    with running_redis() as server:
        yield server
