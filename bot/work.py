"""The pool that runs lookups and answers off the request threads, and drains on shutdown.

A job that would wait for work another job is doing (a Qualys fetch of the same execution) does not hold
its thread meanwhile, if it is `resumable` (nothing it did so far must not be done twice): it is set aside
and run again, from the start, when that work is done, and then given that work's result. So in a storm
the threads are not all taken by people waiting for the first few fetches while the next execution's
first lookup waits for a thread.

Acks first: the work a request hands over waits (is held) while requests are still coming, until the
pool has been handed no new work for QUIET_SECONDS (the burst it came in has been acknowledged), or for at
most HOLD_SECONDS. The threads that acknowledge requests share one interpreter with the workers, which runs
one thread at a time: in a storm's first burst, every lookup started at once (its claim, its fetch's
request) took turns from the acks still to be sent, and the burst's last acks waited for them. (Measured,
BENCHMARKS.md, two tables on one machine: ack p99 at 200 in flight 1.03-1.26 times the bare Bolt app's,
against 1.46-1.62 before; answer p99 at 50 in flight 1-53 ms later, within its targets.) Work a job hands on
(an unfurl's deliveries, a resumed lookup) is part of work already under way: it is not held.

Work that a job hands on (an unfurl's first step submits one delivery per link) is accepted while
the pool drains, so every acknowledged request is finished; only after the drain, or when the grace
period runs out, does the pool refuse new work.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

# Platforms give a stopping process about 30 s (Heroku, Kubernetes' default) before they kill it.
SHUTDOWN_GRACE_SECONDS = 25.0

_here = threading.local()  # .working: a pool thread; .resumable: its job may be set aside and run again
_resumed_from: contextvars.ContextVar[Future[Any] | None] = contextvars.ContextVar("qflow_resumed", default=None)


class Deferred(BaseException):
    """Raised in a resumable job that would wait for `future`: the pool runs the job again once it is done.
    (Not an Exception: the job's own handlers must let it through, as they do for a KeyboardInterrupt.)"""

    def __init__(self, future: Future[Any]) -> None:
        super().__init__()
        self.future = future


def resumable(job: Callable[..., Any]) -> Callable[..., Any]:
    """`job`, marked as one the pool may set aside and run again from the start: only for jobs that do
    nothing before their lookups that must not be done twice."""

    def run(*args: Any) -> None:
        before = getattr(_here, "resumable", False)
        _here.resumable = True
        try:
            job(*args)
        finally:
            _here.resumable = before

    return run


def may_defer() -> bool:
    """True on a pool thread running a resumable job (outside `not_deferred`)."""
    return bool(getattr(_here, "resumable", False))


@contextmanager
def not_deferred() -> Iterator[None]:
    """Within: waits are waited (a fetch that others wait for must not be abandoned half-way)."""
    before = getattr(_here, "resumable", False)
    _here.resumable = False
    try:
        yield
    finally:
        _here.resumable = before


Job = tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...]]

# Held work goes on once no new work has come for this long (the burst is acknowledged) ...
QUIET_SECONDS = 0.005
# ... or once it has been held this long, whichever comes first (a steady stream of requests).
HOLD_SECONDS = 0.1


def resumed_from() -> Future[Any] | None:
    """The work whose end this run of a job was resumed for (None on a first run)."""
    return _resumed_from.get()


class WorkPool:
    """A fixed pool of worker threads, all started with it (started on demand, the first requests of a
    storm each started one, and a request thread starting a thread waits until the new one has run: an
    ack kept waiting for the interpreter behind every busy thread). It knows how much work is pending;
    a job run again after a wait goes before the jobs queued meanwhile (it was asked for first). New work
    is held while requests keep coming (see the module's docstring)."""

    def __init__(self, workers: int, name: str = "qflow-work", *, prepare: Callable[[], object] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._prepare = prepare  # run first on each worker thread (opens its connections while nothing waits)
        self._clock = clock
        self._lock = threading.Lock()
        self._job_ready = threading.Condition(self._lock)  # the workers wait here
        self._all_done = threading.Condition(self._lock)  # drain() waits here
        self._hold_timer = threading.Condition(self._lock)  # the thread that lets held work go waits here
        self._jobs: deque[Job] = deque()
        self._held: deque[tuple[float, Job]] = deque()  # new work, and when it came, waiting for a quiet moment
        self._last_new = 0.0  # when the latest new work came
        self._draining = False
        self._pending = 0  # submitted and not finished: held, queued, running or set aside
        self._closed = False  # no new work (after a drain)
        for n in range(workers):
            threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True).start()
        threading.Thread(target=self._let_go, name=f"{name}_held", daemon=True).start()

    def submit(self, job: Callable[..., Any], *args: Any) -> bool:
        """Run `job(*args)` on a worker; False once the pool is closed (after a drain). New work (not handed on
        by a job) is held while more keeps coming (see the module's docstring)."""
        # The job runs in a copy of the submitter's context: its log lines name the request.
        context = contextvars.copy_context()
        with self._lock:
            if self._closed:
                log.warning("not starting new work: the app has stopped")
                return False
            self._pending += 1
            if getattr(_here, "working", False):  # handed on by a job: under way already
                self._queue((context, job, args))
                return True
            self._last_new = now = self._clock()
            self._held.append((now, (context, job, args)))
            if len(self._held) == 1:
                self._hold_timer.notify()
        return True

    def _queue(self, job: Job) -> None:
        """With the lock held: `job` queued behind the others."""
        self._jobs.append(job)
        self._job_ready.notify()

    def _let_go_due(self, now: float) -> float | None:
        """With the lock held: queue the held work whose wait is over; how long until more may be (None:
        none held)."""
        # The burst is acknowledged, or no more requests are coming (a drain): all of it goes.
        quiet = self._draining or now - self._last_new >= QUIET_SECONDS
        while self._held and (quiet or now - self._held[0][0] >= HOLD_SECONDS):
            self._queue(self._held.popleft()[1])
        if not self._held:
            return None
        return min(self._last_new + QUIET_SECONDS, self._held[0][0] + HOLD_SECONDS) - now

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    @property
    def held(self) -> int:
        """New work waiting for the requests still coming to be acknowledged."""
        with self._lock:
            return len(self._held)

    def drain(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> bool:
        """Wait until every job, and every job they hand on, has finished (at most `grace` seconds),
        then refuse new work. True when nothing was left unfinished."""
        deadline = time.monotonic() + grace
        with self._lock:
            self._draining = True  # the server takes no more requests: held work goes at once
            self._hold_timer.notify()
            finished = self._all_done.wait_for(lambda: self._pending == 0, timeout=max(0.0, deadline - time.monotonic()))
            self._closed = True
            left = self._pending
            self._pending -= len(self._jobs) + len(self._held)  # never started: dropped
            self._jobs.clear()
            self._held.clear()
            self._job_ready.notify_all()  # the workers end
            self._hold_timer.notify()
        if not finished:
            log.warning("stopping with %d unfinished jobs after the %g s grace period", left, grace)
        return finished

    def _let_go(self) -> None:
        """Queue held work once its wait is over (a quiet moment, or its longest)."""
        with self._lock:
            while not self._closed:
                self._hold_timer.wait(self._let_go_due(self._clock()))

    def _work(self) -> None:
        if self._prepare is not None:
            try:
                self._prepare()
            except Exception:
                log.warning("a worker could not prepare (its first job will)", exc_info=True)
        while True:
            with self._lock:
                self._job_ready.wait_for(lambda: self._jobs or self._closed)
                if not self._jobs:
                    return  # closed
                context, job, args = self._jobs.popleft()
            context.run(self._run, job, args)

    def _run(self, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
        _here.working = True
        try:
            job(*args)
        except Deferred as wait:  # still pending: run again when the work it waits for is done
            context = contextvars.copy_context()
            wait.future.add_done_callback(lambda done: self._resume(done, context, job, args))
            return
        except Exception:
            log.exception("background work failed")
        self._finished()

    def _finished(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending == 0:
                self._all_done.notify_all()

    def _resume(self, done: Future[Any], context: contextvars.Context, job: Callable[..., Any],
                args: tuple[Any, ...]) -> None:
        context.run(_resumed_from.set, done)
        with self._lock:
            if not self._closed:
                self._jobs.appendleft((context, job, args))
                self._job_ready.notify()
                return
        log.warning("not resuming work: the app has stopped")  # its grace period is over
        self._finished()
