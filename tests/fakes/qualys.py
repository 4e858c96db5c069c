"""A loopback fake of the Qualys gateway: `/auth` and the QFlow executions API.

Wire format as documented: `/auth` takes form fields and answers a plain-text
JWT (201); the executions API takes `Authorization: Bearer <jwt>` and answers
`{"data": {...}}`; errors are JSON like `{"status":401,"error":"Unauthorized",
"message":"JWT expired"}`. Faults can be queued per path.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
import threading
import time
from collections import defaultdict, deque
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ._server import LoopbackServer, Recorded, Reply

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
USERNAME, PASSWORD = "qflow_svc", "fake-Pa55word!"
_EXECUTION = re.compile(r"^/qflowapi/v1/executions/([^/]+)(/steps)?$")
_WORKFLOW = re.compile(r"^/qflowapi/v1/workflows/([^/]+)$")
_WORKFLOW_RUNS = re.compile(r"^/qflowapi/v1/workflows/([^/]+)/executions$")


def make_jwt(exp: float, subject: str = USERNAME, serial: int = 0) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': subject, 'exp': int(exp), 'n': serial})}.fakesig{serial}"


def load_example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())["data"]


def error_body(status: int, error: str, message: str) -> str:
    return json.dumps({"status": status, "error": error, "message": message})


class FakeQualys:
    def __init__(self, token_lifetime: float = 4 * 3600) -> None:
        self.token_lifetime = token_lifetime
        self.executions: dict[str, dict[str, Any]] = {}
        self.steps_endpoint: dict[str, list[dict[str, Any]]] = {}
        self.workflows: dict[str, dict[str, Any]] = {}
        self.valid_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()
        self._faults: dict[str, deque[Reply | float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._serial = 0
        self.gate = threading.Event()
        self.gate.set()  # clear it to hold every executions call until set again
        self.held = 0
        self.names_gate = threading.Event()
        self.names_gate.set()  # clear it to hold every workflow-definition call until set again
        self.latency = 0.0  # seconds every QFlow API call takes (benchmarks); /auth answers at once
        # The subscription's API budget, as the gateway states it on every answer but /auth's:
        # `rate_limit` calls per `rate_window` seconds; past it, 429 with X-RateLimit-ToWait-Sec.
        self.rate_limit = 10_000
        self.rate_window = 3600
        self.rate_used = 0
        self.rate_window_started = time.monotonic()
        self.rate_windows: list[int] = []  # calls counted in each window that ended (benchmarks)
        self.refused = 0  # calls answered 429 because the budget was spent
        self._server = LoopbackServer(self._handle)

    def start(self) -> FakeQualys:
        self._server.start()
        return self

    def stop(self) -> None:
        self.gate.set()
        self.names_gate.set()
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url

    # --- scripting -----------------------------------------------------------
    def add_execution(self, data: dict[str, Any], *, inline_steps: bool = True) -> str:
        return self.add_executions([data], inline_steps=inline_steps)[0]

    def add_executions(self, runs: list[dict[str, Any]], *, inline_steps: bool = True) -> list[str]:
        """Adds the runs at once: no call of the API sees some of them without the others."""
        with self._lock:
            return [self._add(data, inline_steps) for data in runs]

    def _add(self, data: dict[str, Any], inline_steps: bool) -> str:
        data = copy.deepcopy(data)
        execution_id = data["id"]
        steps = data.pop("steps", None)
        if isinstance(steps, dict):
            steps = steps.get("items")
        if steps is not None:
            if inline_steps:
                data["steps"] = steps
            else:
                self.steps_endpoint[execution_id] = steps
        self.executions[execution_id] = data
        return execution_id

    def issue_token(self, lifetime: float | None = None) -> str:
        with self._lock:
            self._serial += 1
            token = make_jwt(time.time() + (self.token_lifetime if lifetime is None else lifetime), serial=self._serial)
            self.valid_tokens.add(token)
            return token

    def expire(self, token: str) -> None:
        """The gateway now treats `token` as expired (as it would after its `exp`)."""
        self.valid_tokens.discard(token)
        self.expired_tokens.add(token)

    def fail_next(self, path: str, *replies: Reply | float) -> None:
        """The next requests to `path` get these replies; a float delays a normal answer by that many seconds."""
        with self._lock:
            self._faults[path].extend(replies)

    # --- what tests read --------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        return list(self._server.requests)

    def calls(self, path_part: str) -> list[Recorded]:
        return [r for r in self.requests if path_part in r.path]

    def execution_calls(self, execution_id: str) -> list[Recorded]:
        """Calls of the execution-details API itself (not its steps) for one id."""
        return [r for r in self.requests if r.path == f"/qflowapi/v1/executions/{execution_id}"]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> Any:
        return self._server.wait_for(predicate, timeout)

    # --- serving -----------------------------------------------------------------
    def _handle(self, request: Recorded) -> Reply:
        if request.path == "/auth":
            return self._answer(request)
        with self._lock:
            if time.monotonic() - self.rate_window_started >= self.rate_window:  # a new window: the budget resets
                self.rate_windows.append(self.rate_used)
                self.rate_used, self.rate_window_started = 0, time.monotonic()
            self.rate_used += 1
            remaining = max(0, self.rate_limit - self.rate_used)
            spent = self.rate_used > self.rate_limit
            self.refused += int(spent)
        if spent:
            reply = Reply(429, error_body(429, "Too Many Requests", "API rate limit exceeded"))
        else:
            reply = self._answer(request)
        to_wait = max(1, int(self.rate_window - (time.monotonic() - self.rate_window_started))) if spent else 0
        limits = {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Window-Sec": str(self.rate_window),
                  "X-RateLimit-Remaining": str(remaining), "X-RateLimit-ToWait-Sec": str(to_wait),
                  "X-Concurrency-Limit-Limit": "2"}
        return dataclasses.replace(reply, headers={**limits, **reply.headers})

    def _answer(self, request: Recorded) -> Reply:
        with self._lock:
            queue = self._faults.get(request.path)
            fault = queue.popleft() if queue else None
        if isinstance(fault, Reply):
            return fault
        if isinstance(fault, float | int):
            threading.Event().wait(fault)  # a slow gateway
        if request.path == "/auth":
            return self._auth(request)
        token = request.headers.get("authorization", "")
        if not token.startswith("Bearer "):
            return Reply(401, error_body(401, "Unauthorized", "Full authentication is required"))
        token = token[7:]
        if token in self.expired_tokens:
            return Reply(401, error_body(401, "Unauthorized", "JWT expired"))
        if token not in self.valid_tokens:
            return Reply(401, error_body(401, "Unauthorized", "Invalid JWT"))
        if self.latency:
            threading.Event().wait(self.latency)
        if match := _EXECUTION.match(request.path):
            if not self.gate.is_set():
                with self._lock:
                    self.held += 1
                self.gate.wait(60)
            return self._execution(request, match.group(1), bool(match.group(2)))
        if match := _WORKFLOW_RUNS.match(request.path):
            return self._workflow_runs(request, match.group(1))
        if request.path == "/qflowapi/v1/workflows":
            query = request.query.get("query", [""])[0]
            items = [{"id": wid, "name": w.get("name")} for wid, w in self.workflows.items()
                     if f'"{w.get("name")}"' in query]
            return Reply(200, json.dumps({"total": len(items), "items": items}))
        if match := _WORKFLOW.match(request.path):
            self.names_gate.wait(60)
            workflow = self.workflows.get(match.group(1))
            if workflow is None:
                return Reply(403, error_body(403, "Forbidden", "Access denied"))
            return Reply(200, json.dumps({"data": workflow}))
        return Reply(404, error_body(404, "Not Found", "No such API"))

    def _workflow_runs(self, request: Recorded, workflow_id: str) -> Reply:
        """The documented list: `pageSize`, `pageNumber` (from 1), `startAt` (ISO 8601); summaries only."""
        try:
            size = int(request.query["pageSize"][0])
            number = int(request.query["pageNumber"][0])
        except (KeyError, ValueError):
            return Reply(400, error_body(400, "Bad Request", "pageSize and pageNumber are required"))
        start_at = request.query.get("startAt", [None])[0]
        since = datetime.fromisoformat(start_at.replace("Z", "+00:00")).timestamp() * 1000 if start_at else 0
        with self._lock:
            known = list(self.executions.values())
        runs = sorted((e for e in known if e.get("workflow") == workflow_id
                       and (e.get("startDate") or 0) >= since), key=lambda e: e.get("startDate") or 0)
        page = runs[(number - 1) * size: number * size]
        items = [{k: v for k, v in run.items() if k not in ("steps",)} for run in page]
        return Reply(200, json.dumps({"total": len(runs), "items": items}))

    def _auth(self, request: Recorded) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return Reply(415, error_body(415, "Unsupported Media Type", "form expected"))
        if form.get("username") != USERNAME or form.get("password") != PASSWORD or form.get("token") != "true":
            return Reply(401, error_body(401, "Unauthorized", "Bad credentials"))
        return Reply(201, self.issue_token(), content_type="text/plain")

    def _execution(self, request: Recorded, execution_id: str, steps_only: bool) -> Reply:
        data = self.executions.get(execution_id)
        if data is None:
            return Reply(404, error_body(404, "Not Found", f"Execution {execution_id} not found"))
        if steps_only:
            if request.method != "GET":
                return Reply(405, error_body(405, "Method Not Allowed", "GET only"))
            items = self.steps_endpoint.get(execution_id, data.get("steps") or [])
            return Reply(200, json.dumps({"total": len(items), "items": items}))
        if request.method not in ("GET", "POST"):
            return Reply(405, error_body(405, "Method Not Allowed", ""))
        body = copy.deepcopy(data)
        if request.query.get("includeSteps", ["false"])[0] != "true":
            body.pop("steps", None)
        return Reply(200, json.dumps({"data": body}))
