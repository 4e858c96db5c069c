"""The interpreter's threads kept on one CPU (QFLOW_INTERPRETER_CPU).

One interpreter runs one of its threads at a time. Let loose on several CPUs, its threads hand it to each
other across them: a thread that lets go of it for a system call (a post to Slack, a write to the state
file) wakes a waiting thread on another CPU, and then waits to be woken in turn, so each turn costs two
wake-ups across CPUs where one CPU would switch between them. Measured in an incident storm (50 people,
Qualys at 0.3 s, one process; BENCHMARKS.md, "What was measured"): 1.6-2.3 ms of CPU per request with its
threads on one CPU, against 2.5-3.2 spread over two, and an answer p99 of 0.44-0.53 s against 0.52-0.80.

So each process keeps the threads Python started (and so every thread those start) on one CPU it may use.
The HTTP server's own threads (granian's, in Rust: connections, parsing, keep-alive) are started before and
stay free to run on any, as does everything else on the machine. `auto` (the default): one process keeps
to the CPU it is running on when it starts serving; worker processes (WEB_CONCURRENCY) take the CPUs in
turn. A number: that CPU. `off`: no CPU is chosen. Where the system cannot (not Linux, or a single CPU),
nothing is done.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection

log = logging.getLogger(__name__)

AUTO, OFF = "auto", "off"  # QFLOW_INTERPRETER_CPU: these, or a CPU number (checked in config_fields.py)


def choose_cpu(setting: str, allowed: Collection[int], *, worker: int | None = None,
               current: int | None = None) -> int | None:
    """The CPU for this process's Python threads, or None to leave them free. `allowed`: the CPUs the
    process may use; `worker`: this worker process's number (from 1), when there are several; `current`:
    the CPU it is running on now."""
    if setting == OFF or not allowed:
        return None
    if setting != AUTO:
        return int(setting) if int(setting) in allowed else None
    if len(allowed) < 2:
        return None  # nothing to choose between
    cpus = sorted(allowed)
    if worker is not None:
        return cpus[(worker - 1) % len(cpus)]
    return current if current in allowed else cpus[-1]


def current_cpu() -> int | None:
    """The CPU this thread is running on (Linux), or None."""
    try:
        with open("/proc/thread-self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[36])  # "processor", the 39th field; the first two precede the ")"
    except (OSError, IndexError, ValueError):
        return None


def keep_interpreter_on_one_cpu(setting: str, *, worker: int | None = None) -> int | None:
    """Keep the threads Python has started in this process (and so every thread they start) on one CPU,
    chosen by `setting` (see the module's doc); the CPU, or None when none was chosen."""
    if setting == OFF or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    cpu = choose_cpu(setting, allowed, worker=worker, current=current_cpu())
    if cpu is None:
        if setting not in (AUTO, OFF):
            log.warning("QFLOW_INTERPRETER_CPU=%s: this process may not use that CPU (it may use %s); its "
                        "threads are left free", setting, _ranges(allowed))
        return None
    pinned: set[int] = set()
    while True:  # again for any thread started meanwhile by one not yet kept
        threads = _python_threads() - pinned
        if not threads:
            break
        for native_id in threads:
            try:
                os.sched_setaffinity(native_id, {cpu})
            except ProcessLookupError:
                pass  # it has ended
            except OSError as error:
                log.warning("could not keep the interpreter's threads on CPU %d (%s): they are left free", cpu, error)
                return None
            pinned.add(native_id)
    log.info("the interpreter's threads run on CPU %d (of %s; QFLOW_INTERPRETER_CPU)", cpu, _ranges(allowed))
    return cpu


def _python_threads() -> set[int]:
    """The system ids of this process's threads that Python started. Only ids this process has: after a
    fork (gunicorn's workers) the main thread's `native_id` is still its parent's."""
    try:
        mine = {int(task) for task in os.listdir("/proc/self/task")}
    except OSError:
        mine = set()
    started = {t.native_id for t in threading.enumerate() if t.native_id and not isinstance(t, threading._DummyThread)}
    return (started | {threading.get_native_id()}) & mine


def _ranges(cpus: Collection[int]) -> str:
    """`0-3,6` for {0, 1, 2, 3, 6}."""
    parts: list[str] = []
    for cpu in sorted(cpus):
        if parts and parts[-1].split("-")[-1] == str(cpu - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{cpu}"
        else:
            parts.append(str(cpu))
    return ",".join(parts)
