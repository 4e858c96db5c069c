"""The pool that runs lookups and answers off the request threads, and drains on shutdown.

Work that a job hands on (an unfurl's first step submits one delivery per link) is accepted while
the pool drains, so every acknowledged request is finished; only after the drain, or when the grace
period runs out, does the pool refuse new work.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

# Platforms give a stopping process about 30 s (Heroku, Kubernetes' default) before they kill it.
SHUTDOWN_GRACE_SECONDS = 25.0


class WorkPool:
    """A bounded pool of worker threads that knows how much work is pending."""

    def __init__(self, workers: int, name: str = "qflow-work", *, prestart: bool = False) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._idle = threading.Condition()
        self._pending = 0
        self._closed = False
        if prestart:
            self._prestart(workers)

    def _prestart(self, workers: int) -> None:
        """Start every worker thread now. Left to the executor, the first requests of a storm each start
        one, and a request thread starting a thread waits until the new one has run: an ack kept
        waiting for the interpreter behind every busy thread."""
        everyone = threading.Barrier(workers + 1)
        for _ in range(workers):  # each busy until all are started, so none is reused for the next
            self._executor.submit(everyone.wait, 10)
        everyone.wait(10)

    def submit(self, job: Callable[..., Any], *args: Any) -> bool:
        """Run `job(*args)` on a worker; False once the pool is closed (after a drain)."""
        with self._idle:
            if self._closed:
                log.warning("not starting new work: the app has stopped")
                return False
            self._pending += 1
        try:
            # The job runs in a copy of the submitter's context: its log lines name the request.
            self._executor.submit(contextvars.copy_context().run, self._run, job, args)
        except RuntimeError:
            self._done()
            log.warning("not starting new work: the app has stopped")
            return False
        return True

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def drain(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> bool:
        """Wait until every job, and every job they hand on, has finished (at most `grace` seconds),
        then refuse new work. True when nothing was left unfinished."""
        deadline = time.monotonic() + grace
        with self._idle:
            finished = self._idle.wait_for(lambda: self._pending == 0, timeout=max(0.0, deadline - time.monotonic()))
            self._closed = True
            left = self._pending
        if not finished:
            log.warning("stopping with %d unfinished jobs after the %g s grace period", left, grace)
        self._executor.shutdown(wait=False, cancel_futures=True)
        return finished

    def _run(self, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            job(*args)
        except Exception:
            log.exception("background work failed")
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()
