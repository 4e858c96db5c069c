"""The lean answer path on asyncio: a Bolt AsyncApp on an ASGI server (uvicorn, with uvloop and httptools),
one thread; Qualys through httpx.AsyncClient, Slack through one aiohttp session (kept-alive connections);
see lean.py for what it leaves out. Started by benchmarks/storm.py:
python -m benchmarks.storm_apps.asynchronous PORT"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from benchmarks.storm_apps import lean
from bot.render import CardState, SlackMessage


class Once:
    """One call per key at a time, its result kept while `fresh` says so; callers that meet it await it."""

    def __init__(self, fresh: Callable[[Any], bool]) -> None:
        self._fresh = fresh
        self._kept: dict[Any, asyncio.Future[Any]] = {}

    async def get(self, key: Any, make: Callable[[], Awaitable[Any]]) -> Any:
        kept = self._kept.get(key)
        if kept is None or (kept.done() and (kept.exception() is not None or not self._fresh(kept.result()))):
            kept = self._kept[key] = asyncio.ensure_future(make())
        return await asyncio.shield(kept)


def main(port: int) -> None:
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])
    fetches = Once(lambda fetched: fetched[2] > time.monotonic())
    cards = Once(lambda _: True)
    shared: dict[str, Any] = {}

    def connections() -> tuple[httpx.AsyncClient, aiohttp.ClientSession]:
        """Made on the server's loop, at the first answer (aiohttp's session belongs to one loop)."""
        if not shared:
            shared["qualys"] = httpx.AsyncClient(base_url=os.environ["QUALYS_BASE_URL"], timeout=30,
                                                 headers=lean.qualys_headers(),
                                                 limits=httpx.Limits(max_connections=lean.WORKERS))
            shared["slack"] = client.session = aiohttp.ClientSession()
        return shared["qualys"], shared["slack"]

    async def fetch(execution_id: str) -> Any:
        response = await connections()[0].post(lean.fetch_path(execution_id), params={"includeSteps": "true"})
        return lean.parsed(response.json())

    async def message(state: CardState) -> SlackMessage:
        execution, fetched_at, _ = await fetches.get(state.execution_id, lambda: fetch(state.execution_id))

        async def render() -> SlackMessage:
            return lean.card(execution, fetched_at, state)

        result: SlackMessage = await cards.get((state, fetched_at), render)
        return result

    async def reply(url: str, state: CardState) -> None:
        card = await message(state)
        await AsyncWebhookClient(url, session=connections()[1]).send(text=card.text, blocks=card.blocks,
                                                                     replace_original=True)

    @app.command("/qflow")
    async def command(ack: Any, command: dict[str, Any]) -> None:
        state = lean.command_state(command.get("text", ""))
        await ack("Looking it up…" if state else "Usage: /qflow execution <id>")
        if state:
            await reply(command["response_url"], state)

    @app.action(re.compile(".*"))
    async def click(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        state = lean.click_state(body)
        if state:
            await reply(body["response_url"], state)

    @app.event("link_shared")
    async def unfurl(ack: Any, event: dict[str, Any]) -> None:
        await ack()
        connections()
        unfurls = {}
        for link in event.get("links", [])[:5]:
            state = lean.link_state(link.get("url", ""))
            if state:
                unfurls[link["url"]] = {"blocks": (await message(state)).blocks}
        if unfurls:
            await client.chat_unfurl(channel=event["channel"], ts=event["message_ts"], unfurls=unfurls)

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(2048)
    lean.listening(port)
    config = uvicorn.Config(AsyncSlackRequestHandler(app), log_level="warning", access_log=False, lifespan="off",
                            backlog=2048)
    uvicorn.Server(config).run(sockets=[server])


if __name__ == "__main__":
    main(int(sys.argv[1]))
