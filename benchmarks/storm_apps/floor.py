"""The floor: a bare Bolt app whose listeners only acknowledge, served like ours (the same server and settings,
the signature checked once, before Bolt).
Started by benchmarks/storm.py: python -m benchmarks.storm_apps.floor PORT"""

from __future__ import annotations

import os
import re
import sys

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.server import make_wsgi_app, serve_wsgi


def main(port: int) -> None:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"],
              request_verification_enabled=False, process_before_response=True)
    app.command("/qflow")(lambda ack: ack())
    app.event("link_shared")(lambda ack: ack())
    app.action(re.compile(".*"))(lambda ack: ack())
    serve_wsgi(make_wsgi_app(app, lambda: True, os.environ["SLACK_SIGNING_SECRET"]), "127.0.0.1", port,
               int(os.environ.get("QFLOW_HTTP_THREADS") or 8))


if __name__ == "__main__":
    main(int(sys.argv[1]))
