"""The lean answer path on threads: a Bolt App served by our HTTP server and settings (the signature checked
once, before Bolt), answers on a pool of QFLOW_WORKERS threads, over kept-alive connections to Slack and
Qualys (see lean.py for what it leaves out). Started by benchmarks/storm.py:
python -m benchmarks.storm_apps.threads PORT"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
from slack_bolt import App

from benchmarks.storm_apps import lean
from bot.qflow.models import Execution
from bot.render import CardState, SlackMessage
from bot.slack.keepalive import KeptAliveWebClient, KeptAliveWebhookClient
from bot.slack.server import make_wsgi_app, serve_wsgi

Fetched = tuple[Execution, datetime, float]


class Once:
    """One call per key at a time, its result kept while `fresh` says so; callers that meet it wait for it."""

    def __init__(self, fresh: Callable[[Any], bool]) -> None:
        self._fresh = fresh
        self._lock = threading.Lock()
        self._kept: dict[Any, Future[Any]] = {}

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        with self._lock:
            kept = self._kept.get(key)
            leader = kept is None or (kept.done() and (kept.exception() is not None or not self._fresh(kept.result())))
            if leader:
                kept = self._kept[key] = Future()
        assert kept is not None
        if leader:
            try:
                kept.set_result(make())
            except Exception as error:
                kept.set_exception(error)
        return kept.result()


def main(port: int) -> None:
    client = KeptAliveWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"],
              request_verification_enabled=False, process_before_response=True)
    qualys = httpx.Client(base_url=os.environ["QUALYS_BASE_URL"], timeout=30, headers=lean.qualys_headers())
    pool = ThreadPoolExecutor(lean.WORKERS)
    fetches = Once(lambda fetched: fetched[2] > time.monotonic())
    cards = Once(lambda _: True)

    def fetch(execution_id: str) -> Fetched:
        return lean.parsed(qualys.post(lean.fetch_path(execution_id), params={"includeSteps": "true"}).json())

    def message(state: CardState) -> SlackMessage:
        execution, fetched_at, _ = fetches.get(state.execution_id, lambda: fetch(state.execution_id))
        return cards.get((state, fetched_at), lambda: lean.card(execution, fetched_at, state))

    def reply(url: str, state: CardState) -> None:
        card = message(state)
        KeptAliveWebhookClient(url).send(text=card.text, blocks=card.blocks, replace_original=True)

    @app.command("/qflow")
    def command(ack: Any, command: dict[str, Any]) -> None:
        state = lean.command_state(command.get("text", ""))
        ack("Looking it up…" if state else "Usage: /qflow execution <id>")
        if state:
            pool.submit(reply, command["response_url"], state)

    @app.action(re.compile(".*"))
    def click(ack: Any, body: dict[str, Any]) -> None:
        ack()
        state = lean.click_state(body)
        if state:
            pool.submit(reply, body["response_url"], state)

    @app.event("link_shared")
    def unfurl(ack: Any, event: dict[str, Any]) -> None:
        ack()

        def answer() -> None:
            unfurls = {}
            for link in event.get("links", [])[:5]:
                state = lean.link_state(link.get("url", ""))
                if state:
                    unfurls[link["url"]] = {"blocks": message(state).blocks}
            if unfurls:
                client.chat_unfurl(channel=event["channel"], ts=event["message_ts"], unfurls=unfurls)

        pool.submit(answer)

    serve_wsgi(make_wsgi_app(app, lambda: True, os.environ["SLACK_SIGNING_SECRET"]), "127.0.0.1", port,
               lean.HTTP_THREADS)


if __name__ == "__main__":
    main(int(sys.argv[1]))
