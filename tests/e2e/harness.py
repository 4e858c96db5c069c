"""Runs the real app (`python -m bot`) as a process against the loopback fakes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"(?:listening|health) on http://([\d.]+):(\d+)")
_OUR_VARIABLES = ("SLACK_", "QUALYS_", "QFLOW_", "PORT", "HOST", "LOG_", "REDIS_URL")


class RunningApp:
    def __init__(self, process: subprocess.Popen[str], url: str | None, log: list[str],
                 logged: threading.Condition) -> None:
        self.process = process
        self.url = url
        self.log = log
        self._logged = logged
        self.http = httpx.Client(timeout=10)

    def wait_for_log(self, text: str, timeout: float = 15.0, *, times: int = 1) -> None:
        """Until `text` is in `times` of the app's log lines."""
        with self._logged:
            if not self._logged.wait_for(lambda: sum(text in line for line in self.log) >= times, timeout):
                raise AssertionError(f"the app never logged {text!r} {times} times:\n{self.log_text}")

    @property
    def log_text(self) -> str:
        return "\n".join(self.log)

    # --- Slack requests, signed as Slack signs them --------------------------------
    def post_signed(self, body: str, content_type: str, *, secret: str = SIGNING_SECRET,
                    timestamp: int | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        data, sent = signed(body, content_type, secret=secret, timestamp=timestamp, headers=headers)
        assert self.url
        return self.http.post(self.url + "/slack/events", content=data, headers=sent)

    def command(self, text: str, response_url: str, **kwargs: Any) -> httpx.Response:
        return self.post_signed(command_body(text, response_url), FORM, **kwargs)

    def click(self, button: dict[str, Any], response_url: str, **kwargs: Any) -> httpx.Response:
        return self.post_signed(click_body(button, response_url, **kwargs), FORM)

    def event(self, event: dict[str, Any], event_id: str, *, retry_num: int | None = None) -> httpx.Response:
        """An Events API delivery, as Slack sends it (retries carry X-Slack-Retry-Num)."""
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return self.post_signed(event_body(event, event_id), "application/json", headers=headers)

    def message_shortcut(self, text: str, response_url: str, *, user: str = "U0ASKER", **message: Any) -> httpx.Response:
        payload = {"type": "message_action", "callback_id": "qflow_lookup_message", "trigger_id": "1.2.3",
                   "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"}, "channel": {"id": "C0CHAN"},
                   "message": {"type": "message", "user": "U0OTHER", "ts": "1700000000.000200", "text": text,
                               **message},
                   "response_url": response_url, "message_ts": "1700000000.000200", "action_ts": "1.1"}
        return self.post_signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def stop(self) -> int:
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


FORM = "application/x-www-form-urlencoded"


def signed(body: str, content_type: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
           headers: dict[str, str] | None = None) -> tuple[bytes, dict[str, str]]:
    """A request body and its headers, signed as Slack signs them."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    return body.encode(), {**sent, **(headers or {})}


def command_body(text: str, response_url: str) -> str:
    """`/qflow text`, form-encoded as Slack sends a slash command."""
    form = {
        "token": "deprecated", "team_id": "T0FAKE", "team_domain": "fake", "channel_id": "C0CHAN",
        "channel_name": "incident", "user_id": "U0ASKER", "user_name": "asker", "command": "/qflow",
        "text": text, "api_app_id": "A0APP", "response_url": response_url, "trigger_id": "1.2.3",
    }
    return urlencode(form)


def click_body(button: dict[str, Any], response_url: str, *, user: str = "U0CLICKER", team: str = "T0FAKE",
               container: dict[str, Any] | None = None, message: dict[str, Any] | None = None) -> str:
    """A click on `button` (a block_actions payload, form-encoded)."""
    container = container or {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0CHAN",
                              "is_ephemeral": True}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "clicker", "team_id": team},
        "api_app_id": "A0APP",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "container": container,
        "channel": {"id": container.get("channel_id", "C0CHAN"), "name": "incident"},
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "qflow_card_actions",
                     "value": button.get("value"), "text": button["text"], "action_ts": "1700000001.1"}],
    }
    if message is not None:
        payload["message"] = message
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any], event_id: str) -> str:
    """An Events API envelope around `event`."""
    return json.dumps({"token": "deprecated", "team_id": "T0FAKE", "api_app_id": "A0APP", "type": "event_callback",
                       "event": event, "event_id": event_id, "event_time": int(time.time()),
                       "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}]})


def link_shared(channel: str, ts: str, url: str) -> dict[str, Any]:
    """A `link_shared` event for one link in a posted message."""
    return {"type": "link_shared", "channel": channel, "user": "U0ASKER", "message_ts": ts,
            "source": "conversations_history", "unfurl_id": f"U{ts}", "is_bot_user_member": True,
            "links": [{"domain": url.split("/")[2], "url": url}]}


def wait_until(condition: Any, what: str, timeout: float = 20.0) -> None:
    """Check `condition` every 50 ms until it holds; fail saying `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        threading.Event().wait(0.05)


def slash(app: RunningApp, slack: FakeSlack, text: str, channel: str, user: str = "U0ASKER") -> dict[str, Any]:
    """`/qflow text` from `user` in `channel`; the last answer its response_url got."""
    url = slack.new_response_url()
    form = {"command": "/qflow", "text": text, "user_id": user, "channel_id": channel, "team_id": "T0FAKE",
            "response_url": url, "trigger_id": "1"}
    assert app.post_signed(urlencode(form), "application/x-www-form-urlencoded").status_code == 200
    return slack.wait_for_responses(url)[-1].data


def app_env(slack: FakeSlack, qualys: FakeQualys, **overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_VARIABLES)}
    env.update({
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "QUALYS_BASE_URL": qualys.url,
        "QUALYS_UI_URL": "https://qualysguard.qualys.com",
        "HOST": "127.0.0.1",
        "PORT": "0",
        "QFLOW_TIMEOUT_SECONDS": "2",
        # A card waits for its workflow's names (one post each, named): the default, sending it at once and
        # then again with them, has tests of its own (tests/e2e/test_names_later.py).
        "QFLOW_NAMES_WAIT_SECONDS": "10",
        "PYTHONUNBUFFERED": "1",
        # Each app its own state file (a test that restarts an app passes the same one again).
        "QFLOW_STATE_FILE": str(Path(tempfile.mkdtemp(prefix="qflow-state-")) / "state.sqlite3"),
    })
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@contextmanager
def run_app(env: dict[str, str], *args: str, wait_for: str | None = "listening on",
            cwd: Path | None = None, timeout: float = 30, module: str = "bot") -> Iterator[RunningApp]:
    """Start `python -m bot` (or another `module`, as the benchmarks' rival apps) and wait until it logs
    `wait_for` (HTTP: its port)."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], env=env, cwd=cwd or ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    log: list[str] = []
    seen = threading.Condition()

    def pump() -> None:
        assert process.stdout
        for line in process.stdout:
            with seen:
                log.append(line.rstrip("\n"))
                seen.notify_all()
        with seen:
            seen.notify_all()

    threading.Thread(target=pump, daemon=True).start()
    url = None
    if wait_for:
        with seen:
            ok = seen.wait_for(lambda: any(wait_for in line for line in log) or process.poll() is not None, timeout)
        if not ok or process.poll() is not None:
            process.kill()
            raise AssertionError("app did not start:\n" + "\n".join(log))
        match = next((m for line in log if (m := _LISTENING.search(line))), None)
        url = f"http://{match.group(1)}:{match.group(2)}" if match else None
    app = RunningApp(process, url, log, seen)
    try:
        yield app
    finally:
        app.stop()
