from hypothesis import settings

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
