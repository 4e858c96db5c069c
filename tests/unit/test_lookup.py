import json

import httpx

from bot.lookup import ExecutionLookups
from bot.qflow import QFlowClient, StaticToken, build_http_client

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
WF = "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"


def make(routes, **options):
    seen = []

    def handler(request: httpx.Request):
        seen.append((request.method, request.url.path))
        for (method, path), answer in routes.items():
            if request.method == method and request.url.path == path:
                return answer() if callable(answer) else answer
        raise AssertionError(f"unexpected {request.method} {request.url.path}")

    client = QFlowClient("https://gw", StaticToken("a.b.c"), build_http_client(5, httpx.MockTransport(handler)),
                         sleep=lambda s: None)
    return ExecutionLookups(client, **options), seen


EXEC = ("POST", f"/qflowapi/v1/executions/{EID}")
STEPS = ("GET", f"/qflowapi/v1/executions/{EID}/steps")
WORKFLOW = ("GET", f"/qflowapi/v1/workflows/{WF}")
DEFINITION = {"data": {"name": "Remediate", "definition": json.dumps({"components": [{"id": "n-1", "name": "Filter"}]})}}


def test_steps_come_from_the_steps_endpoint_when_not_inline_and_names_are_applied():
    lookups, seen = make({
        EXEC: httpx.Response(200, json={"data": {"id": EID, "workflow": WF, "status": "Success"}}),
        STEPS: httpx.Response(200, json={"total": 1, "items": [{"nodeId": "n-1", "eventOrder": 1}]}),
        WORKFLOW: httpx.Response(200, json=DEFINITION),
    })
    result = lookups.get(EID)
    assert result.execution.workflow_name == "Remediate"
    assert result.execution.steps[0].name == "Filter" and result.execution.steps_total == 1
    assert not result.cache_hit
    assert lookups.get(EID).cache_hit and len(seen) == 3  # finished: served from the cache


def test_refused_workflow_definition_falls_back_quietly_and_is_remembered():
    lookups, seen = make({
        EXEC: httpx.Response(200, json={"data": {"id": EID, "workflow": WF, "status": "Running", "steps": []}}),
        WORKFLOW: httpx.Response(403, json={"message": "no READ"}),
    })
    first = lookups.get(EID)
    assert first.execution.workflow_name is None
    lookups.get(EID, fresh=True)
    assert seen.count(WORKFLOW) == 1 and seen.count(EXEC) == 2


def test_unavailable_steps_leave_the_card_usable():
    lookups, _ = make({
        EXEC: httpx.Response(200, json={"data": {"id": EID, "status": "Failed"}}),
        STEPS: httpx.Response(404, json={"message": "no steps"}),
    })
    assert lookups.get(EID).execution.steps is None


def test_the_cache_is_bounded_by_memory_not_count():
    import uuid

    from bot.lookup import memory_estimate

    sizes: dict[str, int] = {}

    def handler(request: httpx.Request):
        execution_id = request.url.path.rsplit("/", 1)[-1]
        pad = "x" * sizes[execution_id]
        return httpx.Response(200, json={"data": {"id": execution_id, "status": "Success", "steps": [], "pad": pad}})

    client = QFlowClient("https://gw", StaticToken("a.b.c"), build_http_client(5, httpx.MockTransport(handler)))
    budget = 2_000_000
    lookups = ExecutionLookups(client, max_bytes=budget)
    small = [str(uuid.uuid4()) for _ in range(40)]
    huge = str(uuid.uuid4())
    sizes.update({e: 20_000 for e in small} | {huge: 1_000_000})  # the huge one alone exceeds the budget
    kept = [lookups.get(e).execution for e in small]
    assert lookups.get(huge).execution.source_bytes > 1_000_000  # served...
    assert lookups.get(huge).cache_hit is False  # ...but never kept
    cached = [e for e in kept if lookups._executions.peek(e.execution_id or "")]
    assert 0 < len(cached) < len(small)  # the oldest went first
    assert sum(memory_estimate(e) for e in cached) <= budget
    assert lookups.get(small[-1]).cache_hit  # the most recent stayed


def held_names(hold):
    """Routes whose workflow definition waits for `hold` (a threading.Event) before it answers."""
    def definition():
        assert hold.wait(10)
        return httpx.Response(200, json=DEFINITION)
    return {
        EXEC: httpx.Response(200, json={"data": {"id": EID, "workflow": WF, "status": "Failed",
                                                 "steps": [{"nodeId": "n-1", "eventOrder": 1, "status": "Failed"}]}}),
        WORKFLOW: definition,
    }


def test_a_lookup_that_may_go_on_without_names_does_so_and_the_names_come_for_the_next():
    import threading

    hold = threading.Event()
    lookups, seen = make(held_names(hold))
    first = lookups.get(EID, names_later=True)
    assert first.execution.workflow_name is None and first.execution.steps[0].name is None
    assert first.names is not None and not first.names.done()
    again = lookups.get(EID, names_later=True)  # before the names: the same fetch, the same one names call
    assert again.execution is first.execution and again.names is first.names
    hold.set()
    first.names.result(timeout=10)
    named = lookups.get(EID, names_later=True)
    assert named.names is None and named.cache_hit
    assert named.execution.workflow_name == "Remediate" and named.execution.steps[0].name == "Filter"
    assert lookups.get(EID).execution is named.execution  # kept in the cache in place of the nameless one
    assert seen.count(EXEC) == 1 and seen.count(WORKFLOW) == 1


def test_lookups_that_must_have_names_wait_for_them_and_a_short_wait_is_enough_when_they_come():
    import threading

    hold = threading.Event()
    hold.set()
    lookups, seen = make(held_names(hold), names_wait=5.0)
    waited = lookups.get(EID, names_later=True)
    assert waited.names is None and waited.execution.workflow_name == "Remediate"
    plain, _ = make(held_names(hold))
    assert plain.get(EID).execution.steps[0].name == "Filter" and plain.get(EID).names is None
    assert seen.count(WORKFLOW) == 1


def test_names_that_cannot_be_had_end_the_wait_and_leave_the_execution_as_qualys_gave_it():
    import threading

    hold = threading.Event()

    def refused():
        assert hold.wait(10)
        return httpx.Response(403, json={"message": "no READ"})

    lookups, seen = make({
        EXEC: httpx.Response(200, json={"data": {"id": EID, "workflow": WF, "status": "Success", "steps": []}}),
        WORKFLOW: refused,
    })
    first = lookups.get(EID, names_later=True)
    hold.set()
    first.names.result(timeout=10)
    after = lookups.get(EID, names_later=True)
    assert after.names is None and after.execution.workflow_name is None and after.execution is first.execution
    assert seen.count(WORKFLOW) == 1


def test_no_names_call_while_a_429_wait_lasts_and_the_names_are_asked_for_after_it():
    waits = [0.0, 30.0]  # asked before the execution's call (none), then before its names' (a 429 came)
    lookups, seen = make({
        EXEC: httpx.Response(200, json={"data": {"id": EID, "workflow": WF, "status": "Success", "steps": []}}),
        WORKFLOW: httpx.Response(200, json=DEFINITION),
    }, wait_left=lambda: waits.pop(0) if waits else 0.0)
    assert lookups.get(EID).execution.workflow_name is None and seen.count(WORKFLOW) == 0
    assert lookups.get(EID).execution.workflow_name == "Remediate" and seen.count(WORKFLOW) == 1
