"""Execution lookups through the cache: details, steps and workflow names in one answer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from .cache import SingleFlightCache
from .fleet import FleetCache
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
