"""What the two lean apps share (benchmarks/storm_apps/threads.py and asynchronous.py): our answer path with
nothing else, so that threads and asyncio are compared on the same work. A request names an execution (a
command's text, a button's value, a pasted link); its card is the real one (bot.render, redaction included),
rendered once per fetch and view; one Qualys fetch per execution per freshness window, the lookups that meet
it waiting for it; the answer goes to the response_url (commands, clicks) or chat.unfurl (links). Left out:
everything else ours does per request (access checks, the audit log, the state store's replay claims, App
Home lists, metrics), so a lean app costs less per request than ours: the pair tells what the concurrency
model is worth, ours against them what the rest costs."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from typing import Any

from bot.qflow.models import Execution, parse_execution
from bot.qflow.status import FINISHED_KINDS
from bot.redact import Redactor
from bot.render import CardState, SlackMessage, parse_state, render_execution_card

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RUNNING_SECONDS = 10.0  # ours' QFLOW_CACHE_RUNNING_SECONDS default
FINISHED_SECONDS = 3600.0
REDACTOR = Redactor()
HTTP_THREADS = int(os.environ.get("QFLOW_HTTP_THREADS") or 8)
WORKERS = int(os.environ.get("QFLOW_WORKERS") or 16)


def command_state(text: str) -> CardState | None:
    found = UUID.search(text)
    return CardState(found.group(0)) if found else None


def click_state(body: dict[str, Any]) -> CardState | None:
    try:
        return parse_state((body.get("actions") or [{}])[0].get("value"))
    except ValueError:
        return None


def link_state(url: str) -> CardState | None:
    found = UUID.search(url)
    return CardState(found.group(0), private=False, compact=True) if found else None


def fetch_path(execution_id: str) -> str:
    return f"/qflowapi/v1/executions/{execution_id}"


def parsed(payload: Any) -> tuple[Execution, datetime, float]:
    """The execution of a Qualys answer, when it was fetched, and until when (monotonic) it stays fresh."""
    execution = parse_execution(payload)
    finished = execution.kind in FINISHED_KINDS
    return execution, datetime.now(UTC), time.monotonic() + (FINISHED_SECONDS if finished else RUNNING_SECONDS)


def card(execution: Execution, fetched_at: datetime, state: CardState) -> SlackMessage:
    return render_execution_card(execution, state, fetched_at=fetched_at, redactor=REDACTOR,
                                 open_url=f"{os.environ['QUALYS_BASE_URL']}/qflow/#/executions/{state.execution_id}")


def qualys_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['QUALYS_TOKEN']}"}


def listening(port: int) -> None:
    print(f"listening on http://127.0.0.1:{port}/slack/events", flush=True)
