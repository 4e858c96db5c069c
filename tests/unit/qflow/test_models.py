import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.qflow.models import (
    Execution,
    StatusKind,
    find_error_text,
    parse_execution,
    parse_steps,
    parse_workflow,
    status_kind,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SEED = Path(__file__).resolve().parents[4] / "shared" / "seeds" / "000_549f3e18e2d43a48.txt"


def test_documented_sample_parses_with_aware_datetimes():
    e = parse_execution(json.loads((EXAMPLES / "sample-response.json").read_text()))
    assert e.execution_id == "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
    assert e.workflow == "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"
    assert e.kind is StatusKind.SUCCESS and e.is_finished
    assert e.start_date == datetime(2025, 4, 30, 10, 6, 2, 41000, tzinfo=UTC)
    assert e.ended == datetime(2025, 4, 30, 10, 7, 13, 52000, tzinfo=UTC)
    assert e.duration_seconds == pytest.approx(71.011)
    assert e.categories.cloud_providers == ["AWS"] and e.categories.regions == ["us-east-1"]
    assert e.categories.projects == []  # a list of empty lists flattens to nothing
    assert e.variables == ["region=us-east-1"] and e.linked_execution_ids == []
    assert e.steps is None and not e.has_errors


@pytest.mark.skipif(not SEED.exists(), reason="shared/ not beside the checkout")
def test_shipped_sample_is_the_documented_one():
    seed = SEED.read_text()
    assert json.loads(seed[seed.index("{"):]) == json.loads((EXAMPLES / "sample-response.json").read_text())


def test_every_field_null_or_missing_is_tolerated():
    fields = ["id", "execution", "workflow", "status", "executionType", "source", "createdAt", "updatedAt",
              "startDate", "endDate", "details", "linkedExecutionIds", "parentExecutionId", "tags", "variables",
              "categories", "parDateKey", "steps"]
    e = parse_execution({"data": dict.fromkeys(fields)})
    assert e.execution_id is None and e.kind is StatusKind.UNKNOWN and not e.is_finished
    assert e.tags == [] and e.steps is None and e.duration_seconds is None
    assert parse_execution({}).status is None


def test_unknown_fields_are_kept():
    e = parse_execution({"data": {"id": "x", "brandNew": {"a": 1}, "categories": {"zones": ["z1"]}}})
    assert e.model_extra == {"brandNew": {"a": 1}}
    assert e.categories.model_extra == {"zones": ["z1"]}


def test_odd_shapes_are_coerced_not_rejected():
    e = parse_execution({"startDate": "1746007562041", "endDate": "2025-04-30T10:07:13Z", "tags": "solo",
                         "variables": [{"key": "k", "value": "v"}, 5], "categories": "nope", "details": [1],
                         "steps": "garbage"})
    assert e.start_date == datetime(2025, 4, 30, 10, 6, 2, 41000, tzinfo=UTC)
    assert e.end_date == datetime(2025, 4, 30, 10, 7, 13, tzinfo=UTC)
    assert e.tags == ["solo"] and e.variables == ["k=v", "5"]
    assert e.steps is None and e.details == {}


def test_epoch_seconds_and_junk_dates():
    assert parse_execution({"startDate": 1746007562}).start_date == datetime(2025, 4, 30, 10, 6, 2, tzinfo=UTC)
    assert parse_execution({"startDate": "yesterday"}).start_date is None
    assert parse_execution({"startDate": 10**30}).start_date is None
    assert parse_execution({"startDate": True}).start_date is None


@pytest.mark.parametrize("steps", [
    [{"eventOrder": 2, "status": "Failed"}, {"eventOrder": 1, "status": "Success"}],
    {"total": 7, "items": [{"eventOrder": 2, "status": "Failed"}, {"eventOrder": 1, "status": "Success"}]},
])
def test_steps_as_list_or_total_items(steps):
    e = parse_execution({"data": {"status": "Failed", "steps": steps}})
    assert [s.event_order for s in e.ordered_steps] == [1, 2]
    assert e.steps_total == (7 if isinstance(steps, dict) else None)
    assert [s.event_order for s in e.failed_steps] == [2]


def test_steps_endpoint_shape():
    steps, total = parse_steps({"total": 2, "items": [{"nodeId": "trigger"}, "junk", {"nodeId": "b"}]})
    assert total == 2 and [s.node_id for s in steps] == ["trigger", "b"]
    with pytest.raises(ValueError):
        parse_steps({"nothing": True})


@pytest.mark.parametrize("text,kind", [
    ("Success", StatusKind.SUCCESS), ("SUCCESS", StatusKind.SUCCESS), ("failed", StatusKind.FAILED),
    ("Running", StatusKind.RUNNING), ("IN_PROGRESS", StatusKind.RUNNING), ("Queued", StatusKind.QUEUED),
    ("Pending", StatusKind.QUEUED), ("Cancelled", StatusKind.CANCELLED), ("Aborted", StatusKind.CANCELLED),
    ("Timeout", StatusKind.TIMEOUT), ("Timed Out", StatusKind.TIMEOUT), ("Error", StatusKind.FAILED),
    ("Skipped", StatusKind.SKIPPED), ("Partial", StatusKind.PARTIAL), ("Frobnicated", StatusKind.UNKNOWN),
    (None, StatusKind.UNKNOWN), ("", StatusKind.UNKNOWN),
])
def test_status_kinds(text, kind):
    assert status_kind(text) is kind


@pytest.mark.parametrize("obj,expected", [
    ({"error": "boom"}, "boom"),
    ({"errors": ["a", "", "b"]}, "a; b"),
    ({"errors": [{"message": "x"}, {"message": "y"}]}, "x; y"),
    ({"errorMessage": "em"}, "em"),
    ({"message": "m"}, "m"),
    ({"reason": "r"}, "r"),
    ({"failureReason": "fr"}, "fr"),
    ({"error": {"message": "deep", "code": "E42"}}, "E42: deep"),
    ({"details": {"error": "in details"}}, "in details"),
    ({"output": {"errors": ["in output"]}}, "in output"),
    ({"result": {"failureReason": "in result"}}, "in result"),
    ({"error": "top wins", "details": {"error": "nested"}}, "top wins"),
    ({"error": None, "errors": [], "message": "  ", "reason": 5}, None),
    ({"error": {"nothing": "useful"}}, None),
    ("not an object", None),
])
def test_error_text_shapes(obj, expected):
    assert find_error_text(obj) == expected


def test_generic_message_counts_only_on_failed_objects():
    assert find_error_text({"message": "done"}, failed=False) is None
    assert find_error_text({"error": "real", "message": "done"}, failed=False) == "real"
    ok = Execution.model_validate({"status": "Success", "message": "all good"})
    assert ok.error_text is None and not ok.has_errors
    bad = Execution.model_validate({"status": "Failed", "message": "it broke"})
    assert bad.error_text == "it broke" and bad.has_errors


def test_skipped_step_keeps_its_reason_as_a_note():
    e = parse_execution({"steps": [{"status": "Skipped", "message": "Upstream node failed; skipped"}]})
    assert e.steps[0].note_text == "Upstream node failed; skipped" and e.steps[0].error_text is None


def test_workflow_definition_names():
    info = parse_workflow({"data": {"name": "Remediate", "definition": json.dumps(
        {"components": [{"id": "n1", "name": "Filter buckets", "type": "filter"}, {"id": "n2"}, "junk"]})}})
    assert info.name == "Remediate" and info.node_names == {"n1": "Filter buckets"}
    assert parse_workflow({"data": {"definition": "{not json"}}).node_names == {}
    assert parse_workflow({"data": {"definition": {"name": "From def"}}}).name == "From def"
    with pytest.raises(ValueError):
        parse_workflow({"data": "nope"})
