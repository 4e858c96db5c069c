"""A loopback fake of the Slack Web API and of `response_url` endpoints.

Follows the documented wire format: Web API methods at `/api/<method>` take
form or JSON bodies and answer `{"ok": ...}`; response URLs take JSON.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict, deque
from typing import Any
from urllib.parse import parse_qs

from ._server import LoopbackServer, Recorded, Reply

BOT_TOKEN = "xoxb-1111-2222-fakebottokenvalue"
APP_TOKEN = "xapp-1-A111-2222-fakeapptokenvalue"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"


AS_USUAL = Reply()  # given to fail_next: that call is answered as usual (the ones after it fail)


class FakeSlack:
    def __init__(self) -> None:
        self._faults: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.socket_url: str | None = None
        # conversations.info: ids not listed are public, unshared channels (D…: the app's DMs);
        # ids in `invisible` answer channel_not_found, as a private channel without the app does.
        self.channels: dict[str, dict[str, Any]] = {}
        self.invisible: set[str] = set()
        self.usergroups: dict[str, list[str]] = {}
        self.memberships: dict[str, list[str]] = {}  # users.conversations: the channels each user is in
        self.scopes: list[str] | None = None  # sent as auth.test's X-OAuth-Scopes header when set
        # Enterprise Grid: the organisation auth.test names, and whether the app is installed org-wide
        # (then auth.test names the organisation as the team, as org-level tokens do).
        self.enterprise_id: str | None = None
        self.org_wide = False
        # Web API methods whose calls wait here until the Event is set (arrivals are counted first).
        self.holds: dict[str, threading.Event] = {}
        self.held: Counter[str] = Counter()
        self._server = LoopbackServer(self._handle)
        self._response_ids = 0
        self._ts = 0

    def start(self) -> FakeSlack:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def api_url(self) -> str:
        return self._server.url + "/api/"

    def new_response_url(self) -> str:
        with self._lock:
            self._response_ids += 1
            return f"{self._server.url}/response/{self._response_ids}"

    def fail_next(self, target: str, *replies: Reply) -> None:
        """Answer the next calls of `target` (a Web API method, or "response") with `replies`."""
        with self._lock:
            self._faults[target].extend(replies)

    # --- what tests read ------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        return list(self._server.requests)

    def api_calls(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.meta.get("api") and (method is None or r.meta["api"] == method)]

    def responses(self, url: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.meta.get("response_url")
                and (url is None or r.meta["response_url"] == url) and r.meta.get("answered")]

    def wait_for_responses(self, url: str, count: int = 1, timeout: float = 15.0) -> list[Recorded]:
        return self._server.wait_for(
            lambda reqs: (found if len(found := [r for r in reqs if r.meta.get("response_url") == url
                                                  and r.meta.get("answered")]) >= count else None),
            timeout,
        )

    def wait_until_held(self, method: str, count: int = 1, timeout: float = 15.0) -> None:
        """Block until `count` calls of a held method are waiting."""
        with self._server._changed:
            if not self._server._changed.wait_for(lambda: self.held[method] >= count, timeout):
                raise AssertionError(f"no call of {method} arrived")

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> Any:
        return self._server.wait_for(predicate, timeout)

    def listen(self, listener: Any) -> None:
        """Tell `listener` of each request once it is recorded and answered (the benchmarks' clocks)."""
        self._server.listeners.append(listener)

    # --- serving ----------------------------------------------------------------
    def _handle(self, request: Recorded) -> Reply:
        if request.path.startswith("/response/"):
            request.meta["response_url"] = self._server.url + request.path
            request.data = json.loads(request.body or b"{}")
            fault = self._next_fault("response")
            if fault:
                request.meta["fault"] = True
                return fault
            request.meta["answered"] = True
            return Reply(200, "ok", content_type="text/plain")
        if request.path.startswith("/api/"):
            method = request.path[len("/api/"):]
            request.meta["api"] = method
            request.data = _params(request)
            gate = self.holds.get(method)
            if gate is not None:
                with self._server._changed:
                    self.held[method] += 1
                    self._server._changed.notify_all()
                gate.wait(timeout=60)
            fault = self._next_fault(method)
            if fault is AS_USUAL:
                fault = None
            if fault:
                request.meta["fault"] = True
                return fault
            reply = self._api(method, request)
            request.meta["answered"] = b'"ok": true' in (reply.body if isinstance(reply.body, bytes)
                                                          else str(reply.body).encode())
            return reply
        return Reply(404, json.dumps({"ok": False, "error": "unknown_path"}))

    def _next_fault(self, target: str) -> Reply | None:
        with self._lock:
            queue = self._faults.get(target)
            return queue.popleft() if queue else None

    def _api(self, method: str, request: Recorded) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ") or request.data.get("token", "")
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return _ok(False, error="invalid_auth")
            return _ok(True, url=self.socket_url or "ws://127.0.0.1:9/")
        if token != BOT_TOKEN:
            return _ok(False, error="invalid_auth")
        if method == "auth.test":
            grid = {"enterprise_id": self.enterprise_id, "is_enterprise_install": self.org_wide} if self.enterprise_id else {}
            team_id = self.enterprise_id if self.org_wide else "T0FAKE"
            reply = _ok(True, url="https://fake.slack.com/", team="Fake Workspace", user="qflow", team_id=team_id,
                        user_id="U0BOT", bot_id="B0BOT", **grid)
            if self.scopes is not None:
                reply.headers["X-OAuth-Scopes"] = ",".join(self.scopes)
            return reply
        if method == "conversations.info":
            channel = str(request.data.get("channel") or "")
            if channel in self.invisible or not channel:
                return _ok(False, error="channel_not_found")
            default = {"id": channel, "is_im": channel.startswith("D"), "is_private": channel.startswith("G"),
                       "is_mpim": False, "is_ext_shared": False, "is_channel": channel.startswith("C")}
            return _ok(True, channel={**default, **self.channels.get(channel, {})})
        if method == "usergroups.users.list":
            group = str(request.data.get("usergroup") or "")
            if group not in self.usergroups:
                return _ok(False, error="no_such_subteam")
            return _ok(True, users=self.usergroups[group])
        if method in ("chat.postMessage", "chat.postEphemeral"):
            with self._lock:
                self._ts += 1
                ts = f"1700000100.{self._ts:06d}"
            request.meta["ts"] = ts  # what the message is called from now on
            return _ok(True, channel=request.data.get("channel"), ts=ts, message_ts=ts)
        if method == "users.conversations":
            user = str(request.data.get("user") or "")
            return _ok(True, channels=[{"id": c} for c in self.memberships.get(user, [])],
                       response_metadata={"next_cursor": ""})
        if method == "views.publish":
            view = request.data.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            ok = isinstance(view, dict) and view.get("type") == "home" and len(view.get("blocks", [])) <= 100
            return _ok(True, view={"id": "V0HOME", **view}) if ok else _ok(False, error="invalid_arguments")
        if method in ("chat.update", "chat.unfurl", "chat.delete"):
            return _ok(True, channel=request.data.get("channel"), ts=request.data.get("ts"))
        return _ok(False, error="unknown_method")


def _params(request: Recorded) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        return json.loads(request.body or b"{}")
    parsed = parse_qs(request.body.decode(), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _ok(ok: bool, **fields: Any) -> Reply:
    return Reply(200, json.dumps({"ok": ok, **fields}))
