"""Tolerant models of QFlow executions and steps.

The API documents little (see shared/reference/qflow-api.md): every field may be
null or missing, unknown fields are kept, and odd shapes are coerced rather than
rejected.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.alias_generators import to_camel

from ..invisible import strip_invisible


class StatusKind(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    RUNNING = "running"
    QUEUED = "queued"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    PARTIAL = "partial"
    UNKNOWN = "unknown"


_STATUS_WORDS: dict[str, StatusKind] = {
    **dict.fromkeys(["success", "succeeded", "successful", "completed", "complete"], StatusKind.SUCCESS),
    **dict.fromkeys(["failed", "failure", "fail", "error", "errored"], StatusKind.FAILED),
    **dict.fromkeys(["running", "inprogress", "started", "executing", "processing"], StatusKind.RUNNING),
    **dict.fromkeys(["queued", "pending", "waiting", "scheduled", "created", "new"], StatusKind.QUEUED),
    **dict.fromkeys(["cancelled", "canceled", "aborted", "stopped", "terminated"], StatusKind.CANCELLED),
    **dict.fromkeys(["timeout", "timedout"], StatusKind.TIMEOUT),
    **dict.fromkeys(["skipped"], StatusKind.SKIPPED),
    **dict.fromkeys(["partial", "partialsuccess", "partiallysucceeded"], StatusKind.PARTIAL),
}

FINISHED_KINDS = frozenset(
    {StatusKind.SUCCESS, StatusKind.FAILED, StatusKind.CANCELLED, StatusKind.TIMEOUT, StatusKind.SKIPPED,
     StatusKind.PARTIAL}
)
FAILURE_KINDS = frozenset({StatusKind.FAILED, StatusKind.TIMEOUT, StatusKind.PARTIAL})


@functools.lru_cache(maxsize=256)  # a few distinct statuses, asked about for every step of every render
def status_kind(status: str | None) -> StatusKind:
    """Classify a status string case-insensitively; anything unrecognised is UNKNOWN."""
    if not status:
        return StatusKind.UNKNOWN
    word = "".join(ch for ch in status.lower() if ch.isalnum())
    return _STATUS_WORDS.get(word, StatusKind.UNKNOWN)


# --- error text -------------------------------------------------------------

# Keys that always hold an error, then keys that hold one only on a failed object.
ERROR_KEYS = ("error", "errors", "errorMessage", "failureReason")
GENERIC_KEYS = ("message", "reason")
NESTED_KEYS = ("details", "output", "result")


def find_error_text(obj: Any, *, failed: bool = True) -> str | None:
    """The error text of an execution or step, wherever the API put it.

    Looks for `error`, `errors`, `errorMessage`, `message`, `reason`,
    `failureReason` (in that order) at the top of the object, then inside
    `details`, `output` and `result`. A value may be a string, a list of
    strings, or an object with a `message`. `message` and `reason` count only
    when `failed` is true, since successful steps use them for ordinary notes.
    """
    if not isinstance(obj, Mapping):
        return None
    keys: tuple[str, ...] = ("error", "errors", "errorMessage", "message", "reason", "failureReason")
    if not failed:
        keys = tuple(k for k in keys if k not in GENERIC_KEYS)
    containers = [obj, *(obj.get(k) for k in NESTED_KEYS)]
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for key in keys:
            text = _error_value_text(container.get(key))
            if text:
                return text
    return None


def _error_value_text(value: Any, depth: int = 0) -> str | None:
    if depth > 4 or value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return strip_invisible(value).strip() or None
    if isinstance(value, int | float):
        return None
    if isinstance(value, Mapping):
        for key in ("message", "errorMessage", "error", "reason", "detail", "description"):
            text = _error_value_text(value.get(key), depth + 1)
            if text:
                code = value.get("code") or value.get("errorCode")
                return f"{code}: {text}" if isinstance(code, str) and code and code not in text else text
        return None
    if isinstance(value, Iterable):
        texts = [t for t in (_error_value_text(v, depth + 1) for v in list(value)[:20]) if t]
        return "; ".join(texts) or None
    return None


# --- coercions ----------------------------------------------------------------


LATEST_EPOCH_SECONDS = 7_258_118_400  # 2200-01-01


def _to_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds (or seconds, or ISO text) to an aware UTC datetime; junk to None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return _to_datetime((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 1e11 else value  # 1e11 s is the year 5138
        if not 0 <= seconds <= LATEST_EPOCH_SECONDS:
            return None  # before 1970 or past 2200: junk, shown as unknown
        return datetime.fromtimestamp(seconds, UTC)
    return None


def _flat_strings(value: Any) -> list[str]:
    """Any list-ish value to a flat list of non-empty strings (`projects` is a list of lists)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = strip_invisible(value)
        return [value] if value.strip() else []
    if isinstance(value, Mapping):
        if "key" in value:
            return [f"{value.get('key')}={value.get('value', '')}"]
        return [f"{k}={v}" for k, v in value.items()]
    if isinstance(value, Iterable):
        out: list[str] = []
        for item in value:
            out.extend(_flat_strings(item))
        return out
    return [str(value)]


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _to_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = strip_invisible(value)  # API text is cleaned once, where it enters
        return value if value.strip() else None
    if isinstance(value, int | float | bool):
        return str(value)
    return None


Timestamp = Annotated[datetime | None, BeforeValidator(_to_datetime)]
StrList = Annotated[list[str], BeforeValidator(_flat_strings)]
OptInt = Annotated[int | None, BeforeValidator(_to_int)]
OptStr = Annotated[str | None, BeforeValidator(_to_str)]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel, frozen=True)


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


class Step(_Timed):
    id: OptStr = None
    event_order: OptInt = None
    node_id: OptStr = None
    node_type: OptStr = None
    name: OptStr = None
    status: OptStr = None
    error_text: OptStr = None
    note_text: OptStr = None

    @model_validator(mode="before")
    @classmethod
    def _extract_error(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return {}
        data = dict(data)
        kind = status_kind(_to_str(data.get("status")))
        data["error_text"] = find_error_text(data, failed=kind in FAILURE_KINDS)
        if not data["error_text"] and kind in (StatusKind.SKIPPED, StatusKind.CANCELLED):
            data["note_text"] = find_error_text(data, failed=True)  # why it was skipped
        return data

    @property
    def kind(self) -> StatusKind:
        return status_kind(self.status)

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


class Execution(_Timed):
    id: OptStr = None
    execution: OptStr = None
    workflow: OptStr = None
    workflow_name: OptStr = None
    customer_id: OptStr = None
    status: OptStr = None
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
    error_text: OptStr = None
    _source_bytes: int = PrivateAttr(default=0)  # the size of the API answers it was parsed from

    def with_source_bytes(self, size: int) -> Execution:
        """This execution, remembering that `size` bytes of API answers went into it."""
        self._source_bytes = size
        return self

    @property
    def source_bytes(self) -> int:
        return self._source_bytes

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return {}
        data = dict(data)
        steps = data.get("steps")
        if isinstance(steps, Mapping) and data.get("stepsTotal") is None:
            data["stepsTotal"] = steps.get("total")
        failed = status_kind(_to_str(data.get("status"))) in FAILURE_KINDS
        data["error_text"] = find_error_text({k: v for k, v in data.items() if k != "steps"}, failed=failed)
        return data

    @property
    def execution_id(self) -> str | None:
        return self.id or self.execution

    @property
    def kind(self) -> StatusKind:
        return status_kind(self.status)

    @property
    def is_finished(self) -> bool:
        return self.kind in FINISHED_KINDS

    @property
    def ended(self) -> datetime | None:
        return self.end_date or _to_datetime(self.details.get("executionEndDate"))

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


def parse_steps(payload: Any) -> tuple[list[Step], int | None]:
    """Steps from the steps endpoint (`{"total": N, "items": [...]}`, maybe under `data`)."""
    if isinstance(payload, Mapping) and "items" not in payload and "data" in payload:
        payload = payload["data"]
    total = _to_int(payload.get("total")) if isinstance(payload, Mapping) else None
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
