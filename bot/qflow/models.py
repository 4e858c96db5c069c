"""Tolerant models of QFlow executions and steps.

The API documents little (see shared/reference/qflow-api.md): every field may be
null or missing, unknown fields are kept, and odd shapes are coerced rather than
rejected (coerce.py); statuses are classified in status.py, error text found by
error_text.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.alias_generators import to_camel

from ..invisible import strip_invisible
from .coerce import OptInt, OptStr, StrList, Timestamp, to_datetime, to_int, to_str
from .error_text import find_error_text
from .status import FAILURE_KINDS, FINISHED_KINDS, StatusKind, status_kind

__all__ = ["FAILURE_KINDS", "FINISHED_KINDS", "Categories", "Execution", "StatusKind", "Step", "WorkflowInfo",
           "find_error_text", "parse_execution", "parse_steps", "parse_workflow", "status_kind"]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel, frozen=True)


def _with_error_text(data: Any, *, ignore: str | None = None) -> dict[str, Any]:
    """The raw object (a step's or an execution's) with `error_text` found in it (`ignore`: a key not to
    search, such as an execution's steps); {} when it is not an object."""
    if not isinstance(data, Mapping):
        return {}
    data = dict(data)
    kind = status_kind(to_str(data.get("status")))
    searched = {k: v for k, v in data.items() if k != ignore} if ignore else data
    data["error_text"] = find_error_text(searched, failed=kind in FAILURE_KINDS)
    return data


class _Timed(_Tolerant):
    """Start and end of a run: explicit dates when given, else creation and last update."""

    created_at: Timestamp = None
    updated_at: Timestamp = None
    start_date: Timestamp = None
    end_date: Timestamp = None

    @property
    def started(self) -> datetime | None:
        return self.start_date or self.created_at

    @property
    def ended(self) -> datetime | None:
        return self.end_date

    @property
    def duration_seconds(self) -> float | None:
        started, ended = self.started, self.ended
        if started and ended and ended >= started:
            return (ended - started).total_seconds()
        return None


class Categories(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    services: StrList = Field(default_factory=list)
    accounts: StrList = Field(default_factory=list)
    regions: StrList = Field(default_factory=list)
    resource_groups: StrList = Field(default_factory=list)
    projects: StrList = Field(default_factory=list)
    solutions: StrList = Field(default_factory=list)
    apps: StrList = Field(default_factory=list)
    cloud_providers: StrList = Field(default_factory=list)


def _categories(value: Any) -> Any:
    return value if isinstance(value, Mapping) else {}


class _Run(_Timed):
    """What a step and an execution share: an id, a status (classified as `kind`) and error text."""

    id: OptStr = None
    status: OptStr = None
    error_text: OptStr = None

    @property
    def kind(self) -> StatusKind:
        return status_kind(self.status)


class Step(_Run):
    event_order: OptInt = None
    node_id: OptStr = None
    node_type: OptStr = None
    name: OptStr = None
    note_text: OptStr = None

    @model_validator(mode="before")
    @classmethod
    def _extract_error(cls, data: Any) -> Any:
        data = _with_error_text(data)
        if data and not data["error_text"] and status_kind(to_str(data.get("status"))) in (StatusKind.SKIPPED,
                                                                                           StatusKind.CANCELLED):
            data["note_text"] = find_error_text(data, failed=True)  # why it was skipped
        return data

    @property
    def ended(self) -> datetime | None:
        # Steps document no end field: a finished step ended at its last update.
        if self.end_date:
            return self.end_date
        return self.updated_at if self.kind in FINISHED_KINDS else None


def _steps(value: Any) -> Any:
    if isinstance(value, Mapping):
        value = value.get("items")
    if not isinstance(value, list):
        return None
    return [item for item in value if isinstance(item, Mapping)]


class Execution(_Run):
    execution: OptStr = None
    workflow: OptStr = None
    workflow_name: OptStr = None
    customer_id: OptStr = None
    execution_type: OptStr = None
    source: OptStr = None
    details: Annotated[dict[str, Any], BeforeValidator(lambda v: v if isinstance(v, Mapping) else {})] = Field(
        default_factory=dict
    )
    linked_execution_ids: StrList = Field(default_factory=list)
    parent_execution_id: OptStr = None
    tags: StrList = Field(default_factory=list)
    variables: StrList = Field(default_factory=list)
    categories: Annotated[Categories, BeforeValidator(_categories)] = Field(default_factory=Categories)
    par_date_key: OptStr = None
    steps: Annotated[list[Step] | None, BeforeValidator(_steps)] = None
    steps_total: OptInt = None
    _source_bytes: int = PrivateAttr(default=0)  # the size of the API answers it was parsed from
    _named: bool = PrivateAttr(default=False)  # its workflow's names were looked for (bot/lookup.py)

    def with_source_bytes(self, size: int) -> Execution:
        """This execution, remembering that `size` bytes of API answers went into it."""
        self._source_bytes = size
        return self

    def with_names_looked_for(self) -> Execution:
        """This execution, marked as having had its workflow's names filled in (or found unavailable)."""
        self._named = True
        return self

    @property
    def names_looked_for(self) -> bool:
        return self._named

    @property
    def source_bytes(self) -> int:
        return self._source_bytes

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        data = _with_error_text(data, ignore="steps")
        steps = data.get("steps")
        if isinstance(steps, Mapping) and data.get("stepsTotal") is None:
            data["stepsTotal"] = steps.get("total")
        return data

    @property
    def execution_id(self) -> str | None:
        return self.id or self.execution

    @property
    def is_finished(self) -> bool:
        return self.kind in FINISHED_KINDS

    @property
    def ended(self) -> datetime | None:
        return self.end_date or to_datetime(self.details.get("executionEndDate"))

    @property
    def ordered_steps(self) -> list[Step]:
        """Steps in execution order (eventOrder, then start time); unordered ones last."""
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(
            self.steps or [],
            key=lambda s: (s.event_order is None, s.event_order or 0, s.started or far),
        )

    @property
    def failed_steps(self) -> list[Step]:
        return [s for s in self.ordered_steps if s.kind in FAILURE_KINDS or s.error_text]

    @property
    def has_errors(self) -> bool:
        return self.kind in FAILURE_KINDS or bool(self.error_text) or bool(self.failed_steps)


def parse_execution(payload: Any) -> Execution:
    """An Execution from an API response (`{"data": {...}}`) or a bare execution object."""
    if isinstance(payload, Mapping) and "data" in payload:
        payload = payload["data"]
    if not isinstance(payload, Mapping):
        raise ValueError("not an execution object")
    return Execution.model_validate(payload)


def parse_execution_list(payload: Any) -> tuple[list[Execution], int | None]:
    """Execution summaries from a workflow's executions list (`{"total": N, "items": [...]}`, maybe under
    `data`); items that are not objects, or have no id, are left out."""
    if isinstance(payload, Mapping) and "items" not in payload and "data" in payload:
        payload = payload["data"]
    if isinstance(payload, list):
        payload = {"items": payload}
    if not isinstance(payload, Mapping) or not isinstance(payload.get("items"), list):
        raise ValueError("not a list of executions")
    found = []
    for item in payload["items"]:
        if isinstance(item, Mapping):
            execution = Execution.model_validate(item)
            if execution.execution_id:
                found.append(execution)
    return found, to_int(payload.get("total"))


def parse_workflow_list(payload: Any) -> list[tuple[str, str]]:
    """(id, name) of each workflow in a `GET /workflows` answer."""
    if isinstance(payload, Mapping) and "items" not in payload and "data" in payload:
        payload = payload["data"]
    items = payload.get("items") if isinstance(payload, Mapping) else payload
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            workflow_id, name = item.get("id"), item.get("name") or item.get("workflow") or item.get("workflowName")
            if isinstance(workflow_id, str) and isinstance(name, str):
                found.append((workflow_id, strip_invisible(name).strip()))
    return found


def parse_steps(payload: Any) -> tuple[list[Step], int | None]:
    """Steps from the steps endpoint (`{"total": N, "items": [...]}`, maybe under `data`)."""
    if isinstance(payload, Mapping) and "items" not in payload and "data" in payload:
        payload = payload["data"]
    total = to_int(payload.get("total")) if isinstance(payload, Mapping) else None
    items = _steps(payload)
    if items is None:
        raise ValueError("not a list of steps")
    return [Step.model_validate(item) for item in items], total


class WorkflowInfo(BaseModel):
    """What the workflow definition tells about names: the workflow's and each node's."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    node_names: dict[str, str] = Field(default_factory=dict)


def parse_workflow(payload: Any) -> WorkflowInfo:
    """Names from `GET /workflows/{id}`: `data.definition` is a JSON string with `components[]`."""
    data = payload.get("data", payload) if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping):
        raise ValueError("not a workflow object")
    definition: Any = data.get("definition")
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except ValueError:
            definition = None
    if not isinstance(definition, Mapping):
        definition = {}
    name = next(
        (v.strip() for src in (data, definition) for key in ("name", "workflowName", "title")
         if isinstance(v := src.get(key), str) and (v := strip_invisible(v)).strip()),
        None,
    )
    nodes: dict[str, str] = {}
    components = definition.get("components")
    for component in components if isinstance(components, list) else []:
        if isinstance(component, Mapping):
            node_id, node_name = component.get("id"), component.get("name")
            if isinstance(node_id, str) and isinstance(node_name, str) and strip_invisible(node_name).strip():
                nodes[node_id] = strip_invisible(node_name).strip()
    return WorkflowInfo(name=name, node_names=nodes)
