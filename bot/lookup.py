"""Execution lookups through the cache: details, steps and workflow names in one answer."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from .cache import SingleFlightCache
from .qflow import (
    Execution,
    QFlowClient,
    QFlowError,
    QFlowStatusError,
    RateLimited,
    ServerError,
    WorkflowInfo,
    validate_execution_id,
)
from .qflow.deadline import deadline
from .state import Store
from .state.base import Stored

log = logging.getLogger(__name__)

# Parsed executions take about 5.3 times the bytes of the JSON they came from (measured on a
# 30,000-step execution); each cache entry also has a fixed cost.
MEMORY_PER_SOURCE_BYTE = 6
MEMORY_PER_ENTRY = 4096


def memory_estimate(execution: Execution) -> int:
    """About how many bytes of memory a cached execution holds."""
    return MEMORY_PER_ENTRY + MEMORY_PER_SOURCE_BYTE * execution.source_bytes


# The most one lookup may spend on Qualys: details and steps (and, each in a budget of its own, the workflow's
# names), retries and /auth included.
LOOKUP_BUDGET_SECONDS = 25.0


@dataclass(frozen=True)
class Lookup:
    """An execution as shown, when it was fetched, and whether the cache answered. `names`: its workflow's
    names were not known yet (the execution is shown without them); done once they are (a lookup made then
    fills them in)."""

    execution: Execution
    fetched_at: datetime
    cache_hit: bool
    names: Future[None] | None = None


_NO_NAMES = WorkflowInfo()  # refused or missing: kept for `workflow_refused_ttl`
_NAMES_LATER = WorkflowInfo()  # a passing fault: asked again soon


def with_names(execution: Execution, info: WorkflowInfo) -> Execution:
    """The execution with its workflow's name and its steps' node names filled in where Qualys left
    them out (from the workflow's definition)."""
    update: dict[str, object] = {}
    if info.name and not execution.workflow_name:
        update["workflow_name"] = info.name
    if info.node_names and execution.steps:
        update["steps"] = [
            step.model_copy(update={"name": info.node_names[step.node_id]})
            if not step.name and step.node_id in info.node_names
            else step
            for step in execution.steps
        ]
    return execution.model_copy(update=update) if update else execution


class FleetCache:
    """Executions shared by every replica through the state store (Redis): a replica that needs one takes
    the store's lease to load it, the others wait for what it stores; so one Qualys call per execution
    and freshness window across the fleet. A store that fails stands in with this process's memory."""

    KIND = "execution"
    # How often a replica waiting for another's fetch asks the store again (a read and a lease attempt)
    # when the store cannot wake it (an SQLite file several workers share). At 50 ms the wait added up to
    # 50 ms to every answer after a storm's first fetches: at 10 ms, answer p99 at 50 in flight 455
    # against 487 ms with two workers (Qualys 0.3 s); about 200 store calls a second per execution being
    # fetched elsewhere, only while its fetch is out.
    POLL_SECONDS = 0.01
    # With announcements that reach every replica (Redis' pub/sub), the loader's announcement wakes the
    # waiters as soon as it stored the execution (or gave the lease up): they look again on their own only
    # in case one was lost.
    PUSHED_POLL_SECONDS = 0.25
    # A load's lease lapses this long after its replica stops renewing it (it died mid-fetch: the others then
    # load the execution themselves, instead of waiting out the whole lookup budget); the replica loading
    # renews it every RENEW_SECONDS until its load ends.
    LEASE_SECONDS = 3.0
    RENEW_SECONDS = 1.0

    def __init__(self, store: Store, *, wait_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._owner = uuid.uuid4().hex
        self._wait = wait_seconds
        self._clock = clock
        self._held: dict[str, str] = {}  # the leases of the loads under way here, and their owners
        self._held_lock = threading.Lock()  # also held while they are renewed: none is renewed once given up
        self._renewer: threading.Thread | None = None

    @staticmethod
    def _parse(raw: str | None) -> tuple[Execution, datetime] | None:
        if not raw:
            return None
        try:
            fetched_at, _, body = raw.partition("\n")
            execution = Execution.model_validate_json(body).with_source_bytes(len(body))
            return execution, datetime.fromisoformat(fetched_at)
        except ValueError:
            return None

    def get(self, execution_id: str, load: Callable[[], tuple[Execution, datetime]],
            usable: Callable[[tuple[Execution, datetime]], bool], keep: Callable[[Execution], float],
            *, fresh: bool = False) -> tuple[Execution, datetime]:
        """The shared value if usable (and not `fresh`), else one replica's load, stored for `keep` seconds.
        Each look is one step in the store (Redis: one round trip): the value, and the lease when there is
        none (or, `take`, when the one there will not do)."""
        lease, owner = f"load:{execution_id}", f"{self._owner}:{uuid.uuid4().hex}"  # this very load
        topic = f"{self.KIND}:{execution_id}"
        deadline = self._clock() + self._wait
        take = fresh
        with self._store.listen(topic) as changed:
            while True:
                changed.clear()  # before looking: what is announced from now on ends the wait below
                raw, leased = self._store.get_or_lease(self.KIND, execution_id, lease, owner, self.LEASE_SECONDS,
                                                       take=take)
                found = None if fresh else self._parse(raw)
                if found is not None and usable(found):
                    if leased:  # stored by another replica just before this one took the lease
                        self._store.release(lease, owner)
                    return found
                if leased:
                    return self._load_holding(execution_id, lease, owner, topic, load, keep)
                if found is not None and not take:  # stored, but too old: try the lease now
                    take = True
                    continue
                if self._clock() >= deadline:
                    return load()  # the loading replica is stuck: do not wait on it any longer
                fresh = take = False  # another replica is loading it now: its answer is fresh enough
                changed.wait(self.PUSHED_POLL_SECONDS if self._store.pushes else self.POLL_SECONDS)

    def _load_holding(self, execution_id: str, lease: str, owner: str, topic: str,
                      load: Callable[[], tuple[Execution, datetime]],
                      keep: Callable[[Execution], float]) -> tuple[Execution, datetime]:
        """Load with the lease held (renewed meanwhile), then in one step store what came, give the lease up
        and wake the waiters (who take the lease when the load failed)."""
        self._hold(lease, owner)
        stored = None
        try:
            value = load()
            execution, fetched_at = value
            stored = Stored(self.KIND, execution_id, fetched_at.isoformat() + "\n" + execution.model_dump_json(),
                            keep(execution))
            return value
        finally:
            with self._held_lock:
                self._held.pop(lease, None)
            self._store.hand_over(lease, owner, topic, stored)

    def _hold(self, lease: str, owner: str) -> None:
        with self._held_lock:
            self._held[lease] = owner
            if self._renewer is None or not self._renewer.is_alive():  # started by the first load (after a fork)
                self._renewer = threading.Thread(target=self._renew, name="qflow-fleet-leases", daemon=True)
                self._renewer.start()

    def _renew(self) -> None:
        """Keep this replica's load leases while their loads run."""
        while True:
            time.sleep(self.RENEW_SECONDS)
            with self._held_lock:
                for lease, owner in self._held.items():
                    try:
                        self._store.lease(lease, owner, self.LEASE_SECONDS)
                    except Exception:  # the store is failing: the lease lapses, another replica may load too
                        log.warning("could not renew a load's lease in the state store", exc_info=True)


class ExecutionLookups:
    """Answers "what is execution X" without spending the Qualys rate budget twice."""

    def __init__(
        self,
        client: QFlowClient,
        *,
        finished_ttl: float = 3600.0,
        running_ttl: float = 10.0,
        workflow_ttl: float = 3600.0,
        workflow_refused_ttl: float = 600.0,
        max_bytes: int = 64 * 1024 * 1024,
        budget: float = LOOKUP_BUDGET_SECONDS,
        on_cache: Callable[[bool], None] | None = None,
        keep_running: float = 0.0,
        wait_left: Callable[[], float] | None = None,
        fleet: FleetCache | None = None,
        names_wait: float = 0.0,
    ) -> None:
        self._fleet = fleet
        # How long a lookup that may go on without its workflow's names waits for them (`names_later`).
        self._names_wait = names_wait
        self._names_lock = threading.Lock()
        self._names_loading: dict[str, Future[None]] = {}  # workflow: its names being fetched for later
        self._wait_left = wait_left  # seconds before Qualys takes calls again after a 429 (any replica's)
        self._client = client
        self._on_cache = on_cache
        self._budget = budget
        self._running_ttl = running_ttl
        # Running executions are kept as long as a followed card may use them (`max_age`); people's own
        # lookups still get them only while younger than `running_ttl`.
        self._keep = lambda execution: finished_ttl if execution.is_finished else max(running_ttl, keep_running)
        self._executions: SingleFlightCache[str, tuple[Execution, datetime]] = SingleFlightCache(
            max_bytes, lambda value: self._keep(value[0]), getsizeof=lambda value: memory_estimate(value[0]),
        )
        self._workflows: SingleFlightCache[str, WorkflowInfo] = SingleFlightCache(
            256,
            lambda info: 30.0 if info is _NAMES_LATER else workflow_refused_ttl if info is _NO_NAMES else workflow_ttl,
        )

    def get(self, execution_id: str, *, fresh: bool = False, max_age: float | None = None,
            names_later: bool = False) -> Lookup:
        """The execution with its steps and names; `fresh` asks Qualys again (Refresh); `max_age` accepts a
        running execution fetched that many seconds ago (followed cards), instead of the cache's own limit.
        `names_later`: when its workflow's names are not known yet, wait for them at most `names_wait` seconds,
        then answer without them (the lookup's `names` says when they are known)."""
        execution_id = validate_execution_id(execution_id)
        limit = self._running_ttl if max_age is None else max_age

        def usable(value: tuple[Execution, datetime]) -> bool:
            return value[0].is_finished or (datetime.now(UTC) - value[1]).total_seconds() <= limit

        def load() -> tuple[Execution, datetime]:
            if self._fleet is None:
                return self._load(execution_id)
            return self._fleet.get(execution_id, lambda: self._load(execution_id), usable, self._keep, fresh=fresh)

        value, hit = self._executions.get(execution_id, load, fresh=fresh, usable=usable)
        if self._on_cache:
            self._on_cache(hit)
        execution, fetched_at = value
        if execution.names_looked_for or not execution.workflow:
            return Lookup(execution, fetched_at, hit)
        info = self._workflows.peek(execution.workflow)
        if info is None and names_later:
            names = self._names_for_later(execution.workflow)
            try:
                names.result(timeout=self._names_wait)
            except TimeoutError:
                return Lookup(execution, fetched_at, hit, names)
            info = self._workflows.peek(execution.workflow)
        if info is None:
            info = self._names(execution.workflow)
        return Lookup(self._named(execution_id, value, info), fetched_at, hit)

    def _named(self, execution_id: str, value: tuple[Execution, datetime], info: WorkflowInfo | None) -> Execution:
        """The execution of `value` with its workflow's names (`info`; None: not now, after a 429), kept in
        the cache in its place: the people shown one fetch share one named execution (and so one render)."""
        execution, fetched_at = value
        if info is None:
            return execution
        named = with_names(execution, info)
        if named is execution:  # no names to fill in (or none to be had)
            return execution.with_names_looked_for()
        kept = self._executions.replace(execution_id, value, (named.with_names_looked_for(), fetched_at))
        return kept[0] if kept[1] == fetched_at and kept[0].names_looked_for else named

    def _names(self, workflow_id: str) -> WorkflowInfo | None:
        """The workflow's names (cached), or None while a 429's wait lasts."""
        if self._wait_left is not None and self._wait_left() > 0:
            return None  # asked again by a later lookup
        with deadline(self._budget):
            info, _ = self._workflows.get(workflow_id, lambda: self._workflow_names(workflow_id))
        return info

    def _names_for_later(self, workflow_id: str) -> Future[None]:
        """Done once the workflow's names are known: fetched on a thread of its own (one per workflow at a
        time), so that the lookups that go on without them hold nothing meanwhile."""
        with self._names_lock:
            loading = self._names_loading.get(workflow_id)
            if loading is None:
                loading = self._names_loading[workflow_id] = Future()
                if self._workflows.peek(workflow_id) is not None:  # known since the caller looked
                    del self._names_loading[workflow_id]
                    loading.set_result(None)
                    return loading
                threading.Thread(target=self._fetch_names, args=(workflow_id, loading), name="qflow-names",
                                 daemon=True).start()
            return loading

    def _fetch_names(self, workflow_id: str, loading: Future[None]) -> None:
        try:
            self._names(workflow_id)
        except Exception:  # noqa: BLE001 - the cards stay without names; a later lookup asks again
            log.warning("could not fetch the names of workflow %s", workflow_id, exc_info=True)
        finally:
            with self._names_lock:
                self._names_loading.pop(workflow_id, None)
            loading.set_result(None)

    def _load(self, execution_id: str) -> tuple[Execution, datetime]:
        wait = self._wait_left() if self._wait_left else 0.0
        if wait > 0:  # a 429 said to wait: no call until then, from this replica or any other
            raise RateLimited(retry_after=wait)
        with deadline(self._budget):  # every Qualys call of this lookup, retries and /auth included
            return self._load_within_budget(execution_id)

    def _load_within_budget(self, execution_id: str) -> tuple[Execution, datetime]:
        execution = self._client.get_execution(execution_id, include_steps=True)
        if execution.steps is None:
            try:
                steps, total, size = self._client.get_steps(execution_id)
                execution = execution.model_copy(update={"steps": steps, "steps_total": total})
                execution = execution.with_source_bytes(execution.source_bytes + size)
            except QFlowError as error:  # the card says the steps are unavailable
                log.info("steps of %s unavailable: %s", execution_id, type(error).__name__)
        # Cached (and shared with the other replicas) without its workflow's names: `get` fills them in.
        return execution, datetime.now(UTC)

    def workflow_name(self, workflow_id: str) -> str | None:
        """The workflow's name (cached like the steps' names), or None when Qualys will not say."""
        try:
            workflow_id = validate_execution_id(workflow_id)
        except QFlowError:
            return None
        info, _ = self._workflows.get(workflow_id, lambda: self._workflow_names(workflow_id))
        return info.name

    def _workflow_names(self, workflow_id: str) -> WorkflowInfo:
        try:
            return self._client.get_workflow(workflow_id)
        except QFlowStatusError as error:
            # READ permissions are optional: without them the card shows ids and types.
            log.info("workflow %s names unavailable: %s", workflow_id, type(error).__name__)
            return _NAMES_LATER if isinstance(error, RateLimited | ServerError) else _NO_NAMES
        except QFlowError as error:
            log.info("workflow %s names unavailable: %s", workflow_id, type(error).__name__)
            return _NAMES_LATER
