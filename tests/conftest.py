from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.redis_server import RedisServer, running_redis

# Property tests are deterministic (a fixed seed per test) and quick enough to run on every change.
settings.register_profile("qflow", derandomize=True, deadline=None, max_examples=150, print_blob=True)
settings.load_profile("qflow")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest's hook signature
    from tests.reliability.figures import FIGURES

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
