"""`qflow-bot preview`: the Block Kit JSON the app would send, from the live API or a file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import Settings
from .links import execution_id_in_token
from .lookup import Lookup, with_names
from .qflow import parse_execution
from .qflow.models import parse_workflow
from .render import CardState, SlackMessage
from .render.state import View
from .wiring import build_cards, build_lookups


class PreviewError(Exception):
    """The argument is neither a readable execution file nor an execution id."""


def _state(execution_id: str, view: View, page: int, unfurl: bool) -> CardState:
    """A private answer's card, or (`unfurl`) the compact one a pasted link unfurls into."""
    return CardState(execution_id, view, page, private=not unfurl, compact=unfurl)


def _json_object(path: Path, what: str) -> Mapping[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PreviewError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise PreviewError(f"{path} is not JSON: {e}") from None
    if not isinstance(payload, Mapping):
        raise PreviewError(f"{path} holds no {what} object")
    return payload


def preview_file(path: Path, settings: Settings, view: View = "summary", page: int = 0, *,
                 unfurl: bool = False, workflow: Path | None = None) -> SlackMessage:
    """The card for an API response (`{"data": {...}}`) or a bare execution object saved in `path`;
    `workflow`: a saved `GET /workflows/{id}` answer that names the workflow and its steps, as the app
    would ask Qualys."""
    try:
        execution = parse_execution(_json_object(path, "execution"))
    except ValueError as e:
        raise PreviewError(f"{path} holds no execution object: {e}") from None
    if workflow is not None:
        try:
            execution = with_names(execution, parse_workflow(_json_object(workflow, "workflow")))
        except ValueError as e:
            raise PreviewError(f"{workflow} holds no workflow object: {e}") from None
    execution_id = execution.execution_id or "00000000-0000-0000-0000-000000000000"
    state = _state(execution_id, view, page, unfurl)
    return build_cards(settings, None, None).render(Lookup(execution, datetime.now(UTC), cache_hit=False), state)


def preview_live(execution_id: str, settings: Settings, view: View = "summary", page: int = 0, *,
                 unfurl: bool = False) -> tuple[SlackMessage, bool]:
    """The card (or the error message a user would see) for a live execution; True when it is a card."""
    message, lookup = build_cards(settings, build_lookups(settings), None).card(_state(execution_id, view, page, unfurl))
    return message, lookup is not None


def target_kind(argument: str) -> str:
    """"file", "id", or "unknown" for a preview argument."""
    if Path(argument).is_file():
        return "file"
    if execution_id_in_token(argument):
        return "id"
    return "file" if argument.endswith(".json") else "unknown"
