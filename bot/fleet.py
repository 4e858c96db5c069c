"""Executions shared by every replica through the state store (Redis): one Qualys call per execution and
freshness window across the fleet (bot/lookup.py asks it on a miss)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from .qflow import Execution
from .state import Store
from .state.base import Stored

log = logging.getLogger(__name__)


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
