"""Dozens of lookups in flight: every request is acked while Qualys has not answered any, and
identical lookups share one upstream call."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.harness import app_env, run_app
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import assert_valid_message

REQUESTS = 48


def test_acks_do_not_wait_for_qualys_and_identical_lookups_collapse():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_TIMEOUT_SECONDS="30")
        with run_app(env) as app:
            ids = [new_execution(qualys) for _ in range(4)]
            urls = [slack.new_response_url() for _ in range(REQUESTS)]
            qualys.gate.clear()  # hold every executions call until the test lets go
            with ThreadPoolExecutor(max_workers=16) as pool:
                acks = list(pool.map(lambda i: app.command(f"execution {ids[i % 4]}", urls[i]), range(REQUESTS)))
            # Every slash command was acknowledged while Qualys had answered nothing.
            assert [a.status_code for a in acks] == [200] * REQUESTS
            assert all("Looking up" in a.json()["text"] for a in acks)
            assert slack.responses() == [] and not qualys.gate.is_set()
            qualys.gate.set()
            for url in urls:
                [answer] = slack.wait_for_responses(url, timeout=30)
                assert_valid_message(answer.data)
                assert answer.data["blocks"][0]["text"]["text"].startswith("✅")
            assert sum(len(qualys.execution_calls(i)) for i in ids) == len(ids)


def _affinities(pid: int) -> list[str]:
    """Each thread's CPUs, as /proc says them (`0-1`, `1`…)."""
    tasks = Path(f"/proc/{pid}/task")
    return [next(line.split()[1] for line in (task / "status").read_text().splitlines()
                 if line.startswith("Cpus_allowed_list")) for task in tasks.iterdir()]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and at least two CPUs")
@pytest.mark.parametrize("setting", [None, "off"])
def test_the_interpreter_s_threads_keep_to_one_cpu_and_the_server_s_own_do_not(setting):
    everyone = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_INTERPRETER_CPU=setting)
        with run_app(env) as app:
            execution = new_execution(qualys)
            url = slack.new_response_url()
            assert app.command(f"execution {execution}", url).status_code == 200
            slack.wait_for_responses(url)
            cpus = _affinities(app.process.pid)
    kept = [c for c in cpus if c.isdigit()]
    if setting == "off":
        assert not kept and "threads run on CPU" not in app.log_text
    else:
        [said] = [line for line in app.log if "threads run on CPU" in line]
        cpu = said.rsplit("on CPU ", 1)[1].split()[0]
        assert set(kept) == {cpu} and len(kept) >= 16 + 8  # the answer and request threads, and more
        free = [c for c in cpus if not c.isdigit()]
        assert free and all(set(_cpu_list(c)) == set(_cpu_list(everyone)) for c in free)  # granian's own


def _cpu_list(text: str) -> list[int]:
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus
