"""The pool that runs lookups and answers off the request threads, and drains on shutdown.

A job that would wait for work another job is doing (a Qualys fetch of the same execution) does not hold
its thread meanwhile, if it is `resumable` (nothing it did so far must not be done twice): it is set aside
and run again, from the start, when that work is done, and then given that work's result. So in a storm
the threads are not all taken by people waiting for the first few fetches while the next execution's
first lookup waits for a thread.

A job may name what it is about (`key`: the execution it looks up). One submitted while another job about
the same thing is still pending waits (is parked) until that job is done, or until the pool has been sent
no job for QUIET_SECONDS (the burst it came in has been acknowledged), or for at most PARK_SECONDS: its
answer could not come before the other's fetch anyway, and meanwhile the requests still arriving are
acknowledged sooner (a storm's first burst: every request's work is done while the rest of the burst
waits for its ack, where the first job of each execution is all that must start at once).

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

_here = threading.local()  # .resumable: the job running on this thread may be set aside and run again
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


Job = tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...], object]  # the last: its key (or None)

# A parked job goes on once no job has been submitted for this long (the burst is acknowledged) ...
QUIET_SECONDS = 0.005
# ... or once it has been parked this long, whichever comes first (or when the job it waits behind is done).
PARK_SECONDS = 0.1


def resumed_from() -> Future[Any] | None:
    """The work whose end this run of a job was resumed for (None on a first run)."""
    return _resumed_from.get()


class WorkPool:
    """A fixed pool of worker threads, all started with it (started on demand, the first requests of a
    storm each started one, and a request thread starting a thread waits until the new one has run: an
    ack kept waiting for the interpreter behind every busy thread). It knows how much work is pending;
    a job run again after a wait goes before the jobs queued meanwhile (it was asked for first)."""

    def __init__(self, workers: int, name: str = "qflow-work", *, prepare: Callable[[], object] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._prepare = prepare  # run first on each worker thread (opens its connections while nothing waits)
        self._clock = clock
        self._lock = threading.Lock()
        self._job_ready = threading.Condition(self._lock)  # the workers wait here
        self._all_done = threading.Condition(self._lock)  # drain() waits here
        self._park_timer = threading.Condition(self._lock)  # the thread that ends parked jobs' waits waits here
        self._jobs: deque[Job] = deque()
        self._parked: deque[tuple[float, Job]] = deque()  # jobs waiting behind another about the same key
        self._keys: dict[object, int] = {}  # each key's jobs pending and not parked
        self._last_submit = 0.0
        self._pending = 0  # submitted and not finished: queued, parked, running or set aside
        self._closed = False  # no new work (after a drain)
        for n in range(workers):
            threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True).start()
        threading.Thread(target=self._end_parking, name=f"{name}_parked", daemon=True).start()

    def submit(self, job: Callable[..., Any], *args: Any, key: object = None) -> bool:
        """Run `job(*args)` on a worker; False once the pool is closed (after a drain). `key`: what the job is
        about; while another job about it is pending, this one is parked (see the module's docstring), unless
        that job is the one submitting it (it hands its work on)."""
        # The job runs in a copy of the submitter's context: its log lines name the request.
        context = contextvars.copy_context()
        with self._lock:
            if self._closed:
                log.warning("not starting new work: the app has stopped")
                return False
            self._pending += 1
            self._last_submit = now = self._clock()
            if key is not None and self._keys.get(key) and getattr(_here, "key", None) != key:
                self._parked.append((now, (context, job, args, key)))
                if len(self._parked) == 1:
                    self._park_timer.notify()
                return True
            self._queue((context, job, args, key))
        return True

    def _queue(self, job: Job) -> None:
        """With the lock held: `job` pending for its key, queued behind the others."""
        key = job[3]
        if key is not None:
            self._keys[key] = self._keys.get(key, 0) + 1
        self._jobs.append(job)
        self._job_ready.notify()

    def _unpark(self, now: float) -> float | None:
        """With the lock held: queue the parked jobs whose wait is over; how long until the next one's may
        be (None: none parked)."""
        if not self._parked:
            return None
        if now - self._last_submit >= QUIET_SECONDS:  # the burst is acknowledged: all of them
            while self._parked:
                self._queue(self._parked.popleft()[1])
            return None
        while self._parked and now - self._parked[0][0] >= PARK_SECONDS:
            self._queue(self._parked.popleft()[1])
        if not self._parked:
            return None
        return min(self._last_submit + QUIET_SECONDS, self._parked[0][0] + PARK_SECONDS) - now

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def drain(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> bool:
        """Wait until every job, and every job they hand on, has finished (at most `grace` seconds),
        then refuse new work. True when nothing was left unfinished."""
        deadline = time.monotonic() + grace
        with self._lock:
            finished = self._all_done.wait_for(lambda: self._pending == 0, timeout=max(0.0, deadline - time.monotonic()))
            self._closed = True
            left = self._pending
            self._pending -= len(self._jobs) + len(self._parked)  # never started: dropped
            self._jobs.clear()
            self._parked.clear()
            self._job_ready.notify_all()  # the workers end
            self._park_timer.notify()
        if not finished:
            log.warning("stopping with %d unfinished jobs after the %g s grace period", left, grace)
        return finished

    def _end_parking(self) -> None:
        """Queue each parked job once its wait is over (the pool's quiet, or its longest)."""
        with self._lock:
            while not self._closed:
                self._park_timer.wait(self._unpark(self._clock()))

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
                context, job, args, key = self._jobs.popleft()
            context.run(self._run, job, args, key)

    def _run(self, job: Callable[..., Any], args: tuple[Any, ...], key: object) -> None:
        _here.key = key
        try:
            job(*args)
        except Deferred as wait:  # still pending: run again when the work it waits for is done
            context = contextvars.copy_context()
            wait.future.add_done_callback(lambda done: self._resume(done, context, job, args, key))
            return
        except Exception:
            log.exception("background work failed")
        self._finished(key)

    def _finished(self, key: object) -> None:
        with self._lock:
            self._pending -= 1
            if key is not None:
                left = self._keys[key] = self._keys[key] - 1
                if not left:
                    del self._keys[key]
                    self._unpark_key(key)
            if self._pending == 0:
                self._all_done.notify_all()

    def _unpark_key(self, key: object) -> None:
        """With the lock held: the jobs parked behind `key`'s queued (the job they waited behind is done)."""
        if any(parked[3] == key for _, parked in self._parked):
            waiting = [parked for _, parked in self._parked if parked[3] == key]
            self._parked = deque(entry for entry in self._parked if entry[1][3] != key)
            for parked in waiting:
                self._queue(parked)

    def _resume(self, done: Future[Any], context: contextvars.Context, job: Callable[..., Any],
                args: tuple[Any, ...], key: object) -> None:
        context.run(_resumed_from.set, done)
        with self._lock:
            if not self._closed:
                self._jobs.appendleft((context, job, args, key))
                self._job_ready.notify()
                return
        log.warning("not resuming work: the app has stopped")  # its grace period is over
        self._finished(key)
