"""The naive app: the starter-template pattern. The listener acknowledges, then fetches the execution from
Qualys itself (no cache, no pool of its own) and answers through the response_url (commands, clicks) or chat.unfurl.
Started by benchmarks/storm.py: python -m benchmarks.storm_apps.naive PORT"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import httpx
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.slack.server import make_wsgi_app, serve_wsgi

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def main(port: int) -> None:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"],
              request_verification_enabled=False)
    qualys = httpx.Client(base_url=os.environ["QUALYS_BASE_URL"], timeout=30,
                          headers={"Authorization": f"Bearer {os.environ['QUALYS_TOKEN']}"})

    def fetch(execution_id: str) -> dict[str, Any]:
        data = qualys.post(f"/qflowapi/v1/executions/{execution_id}", params={"includeSteps": "true"}).json()
        return data.get("data", {})

    def card(execution: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": f"{execution.get('status')} · {execution.get('id')}"}}]

    @app.command("/qflow")
    def command(ack: Any, command: dict[str, Any]) -> None:
        ack("Looking it up…")
        found = UUID.search(command.get("text", ""))
        execution = fetch(found.group(0)) if found else {}
        WebhookClient(command["response_url"]).send(text="card", blocks=card(execution), replace_original=True)

    @app.action(re.compile(".*"))
    def click(ack: Any, body: dict[str, Any]) -> None:
        ack()
        found = UUID.search(str((body.get("actions") or [{}])[0].get("value") or ""))
        execution = fetch(found.group(0)) if found else {}
        WebhookClient(body["response_url"]).send(text="card", blocks=card(execution), replace_original=True)

    @app.event("link_shared")
    def unfurl(ack: Any, event: dict[str, Any]) -> None:
        ack()
        for link in event.get("links", []):
            found = UUID.search(link.get("url", ""))
            if found:
                client.chat_unfurl(channel=event["channel"], ts=event["message_ts"],
                                   unfurls={link["url"]: {"blocks": card(fetch(found.group(0)))}})

    serve_wsgi(make_wsgi_app(app, lambda: True, os.environ["SLACK_SIGNING_SECRET"]), "127.0.0.1", port,
               int(os.environ.get("QFLOW_HTTP_THREADS") or 8))


if __name__ == "__main__":
    main(int(sys.argv[1]))
