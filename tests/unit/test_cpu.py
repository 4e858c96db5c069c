"""QFLOW_INTERPRETER_CPU: which CPU the interpreter's threads keep to, and that they (and only they) do."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config_fields import MAX_CPU, cpu_setting
from bot.cpu import AUTO, OFF, _ranges, choose_cpu

LINUX_WITH_CPUS = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


@pytest.mark.parametrize(("value", "expected"), [
    (None, AUTO), ("", AUTO), ("auto", AUTO), (" AUTO ", AUTO), ("off", OFF), ("Off", OFF), ("0", "0"), ("007", "7"),
    (str(MAX_CPU), str(MAX_CPU)),
])
def test_the_setting_reads_auto_off_or_a_cpu_number(value, expected):
    assert cpu_setting(value) == expected


@given(st.text(max_size=12))
def test_anything_else_is_refused_with_what_it_should_be(value):
    text = value.strip().lower()
    valid = text in ("", AUTO, OFF) or (text.isascii() and text.isdigit() and int(text) <= MAX_CPU)
    if valid:
        assert cpu_setting(value) in (AUTO, OFF) or 0 <= int(cpu_setting(value)) <= MAX_CPU
    else:
        with pytest.raises(ValueError, match="QFLOW_INTERPRETER_CPU should be auto"):
            cpu_setting(value)


def test_auto_keeps_to_the_cpu_it_is_on_and_workers_take_the_cpus_in_turn():
    allowed = {2, 3, 5}
    assert choose_cpu(AUTO, allowed, current=3) == 3
    assert choose_cpu(AUTO, allowed, current=7) == 5  # not one it may use (or unknown): the last it may
    assert choose_cpu(AUTO, allowed, current=None) == 5
    assert [choose_cpu(AUTO, allowed, worker=n, current=3) for n in range(1, 6)] == [2, 3, 5, 2, 3]


def test_nothing_is_chosen_when_off_on_one_cpu_or_for_a_cpu_it_may_not_use():
    assert choose_cpu(OFF, {0, 1}, current=0) is None
    assert choose_cpu(AUTO, {4}, current=4) is None  # one CPU: nothing to keep to
    assert choose_cpu(AUTO, set(), current=0) is None
    assert choose_cpu("1", {0, 1}) == 1
    assert choose_cpu("2", {0, 1}) is None
    assert choose_cpu("0", {0}) == 0  # asked for by number: kept to even where it is the only one


@given(st.sets(st.integers(0, 64), min_size=1, max_size=20))
def test_the_cpus_it_may_use_are_said_as_ranges(cpus):
    said = _ranges(cpus)
    back: set[int] = set()
    for part in said.split(","):
        first, _, last = part.partition("-")
        back |= set(range(int(first), int(last or first) + 1))
        assert not last or int(last) > int(first)
    assert back == cpus and len(said.split(",")) == sum(1 for c in cpus if c - 1 not in cpus)


def _run(code: str) -> str:
    """`code` in a fresh interpreter (keeping this one's threads where they are)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not LINUX_WITH_CPUS, reason="needs Linux and at least two CPUs")
def test_python_threads_keep_to_one_cpu_and_those_they_start_too_but_not_the_server_s_own():
    out = _run("""
        import logging, os, threading, time
        from bot.cpu import keep_interpreter_on_one_cpu
        from bot.slack.httpd import HttpServer
        logging.basicConfig(level=logging.INFO)
        everyone = os.sched_getaffinity(0)
        stop = threading.Event()
        before = threading.Thread(target=stop.wait)
        before.start()
        serve = HttpServer._serve
        def late(self):  # the loop's thread slow to start granian: start() still waits for its threads
            time.sleep(0.3)
            serve(self)
        HttpServer._serve = late
        server = HttpServer(lambda environ, respond: [b""], "127.0.0.1", 0, 2)
        server.start()
        python = {t.native_id for t in threading.enumerate()}
        others = {int(t) for t in os.listdir("/proc/self/task")} - python
        cpu = keep_interpreter_on_one_cpu("auto")
        after = threading.Thread(target=stop.wait)
        after.start()
        kept = all(os.sched_getaffinity(t) == {cpu} for t in python | {after.native_id})
        free = all(os.sched_getaffinity(t) == everyone for t in others)
        print(cpu in everyone, kept, free, len(others) > 0)
        stop.set()
        server.stop()
    """)
    assert out.splitlines()[-1] == "True True True True"


@pytest.mark.skipif(not LINUX_WITH_CPUS, reason="needs Linux and at least two CPUs")
def test_off_leaves_every_thread_free_and_a_cpu_it_may_not_use_is_said():
    out = _run("""
        import logging, os, sys, threading
        from bot.cpu import keep_interpreter_on_one_cpu
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        everyone = os.sched_getaffinity(0)
        print(keep_interpreter_on_one_cpu("off"), os.sched_getaffinity(0) == everyone)
        print(keep_interpreter_on_one_cpu(str(max(everyone) + 1)), os.sched_getaffinity(0) == everyone)
    """)
    lines = out.splitlines()
    assert lines[0] == "None True"
    assert "may not use that CPU" in lines[1] and lines[2] == "None True"
