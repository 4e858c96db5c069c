"""Hostile input against the real app process: texts built to stall a parser, forged button values
of every wrong shape, disguised links, junk and huge bodies at the HTTP front, and absurd
Retry-After values from Qualys, sent while ordinary people keep looking executions up.

Every input must get its answer (or, for what is not Slack's, a 4xx), none a 500; no secret may
reach Slack or the logs; and everyone's acks stay far inside Slack's 3 s. The figures join the
reliability table printed at the end of the test run.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import urlencode

import httpx

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import error_body
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET
from tests.fakes.world import fakes, new_execution
from tests.hostile import DISGUISED_LINKS, QUALYS_LINKS, hostile_button_values, hostile_texts
from tests.reliability.figures import FIGURES

API_SECRET = "Hostile-Canary-Secret-42"
RETRY_AFTER_VALUES = ["inf", "-inf", "nan", "1e308", "-5", "99999999999999999999", "Wed, 21 Oct 2115 07:28:00 GMT",
                      "garbage", ""]


class Count:
    def __init__(self) -> None:
        self.tried = 0
        self.answered = 0
        self.server_errors = 0
        self.hostile_acks: list[float] = []
        self.normal_acks: list[float] = []
        self.lock = threading.Lock()

    def ack(self, response: httpx.Response, *, hostile: bool = True) -> httpx.Response:
        with self.lock:
            if response.status_code >= 500:
                self.server_errors += 1
            (self.hostile_acks if hostile else self.normal_acks).append(response.elapsed.total_seconds())
        return response


def clicked(app: RunningApp, url: str, value: object) -> httpx.Response:
    payload = {"type": "block_actions", "user": {"id": "U0ASKER", "team_id": "T0FAKE"}, "team": {"id": "T0FAKE"},
               "container": {"type": "message", "is_ephemeral": True, "channel_id": "C0CHAN", "message_ts": "1.1"},
               "channel": {"id": "C0CHAN"}, "response_url": url,
               "actions": [{"type": "button", "action_id": "qflow_steps", "block_id": "b", "value": value,
                            "action_ts": "1.1"}]}
    return app.post_signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def test_hostile_input_gets_answers_fast_and_never_a_500(tmp_path):
    count = Count()
    audit = tmp_path / "audit.jsonl"
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_AUDIT_LOG=str(audit),
                      QFLOW_REFRESH_MAX_MINUTES="0")
        secret_data = {"variables": [f"db_password={API_SECRET}"], "error": f'{{\\"token\\": \\"{API_SECRET}\\"}}'}
        with run_app(env) as app:
            stop = threading.Event()

            def ordinary_people() -> None:  # someone keeps asking, all along
                while not stop.is_set():
                    url = slack.new_response_url()
                    count.ack(app.command(f"execution {new_execution(qualys)}", url), hostile=False)
                    slack.wait_for_responses(url)

            people = threading.Thread(target=ordinary_people)
            people.start()
            expected_urls: list[str] = []
            posted_channels: list[str] = []

            # 1. Texts built to stall a parser: as commands, mentions and the shortcut.
            for n, text in enumerate(hostile_texts().values()):
                response = count.ack(app.command(text, slack.new_response_url()))
                count.tried += 1
                count.answered += bool(response.status_code == 200 and response.json().get("text"))
                execution_id = new_execution(qualys, **secret_data)
                channel = f"C0HOSTILE{n}"
                count.ack(app.event({"type": "app_mention", "user": "U0ASKER", "user_team": "T0FAKE", "channel": channel,
                                     "text": f"<@U0BOT> {execution_id} {text}", "ts": f"1700000700.{n}"}, f"EvHOST{n}"))
                posted_channels.append(channel)
                url = slack.new_response_url()
                expected_urls.append(url)
                count.ack(app.message_shortcut(f"{execution_id} {text}", url))
                count.tried += 2

            # 2. Button values of every wrong shape.
            for value in hostile_button_values().values():
                url = slack.new_response_url()
                expected_urls.append(url)
                count.ack(clicked(app, url, value))
                count.tried += 1

            # 3. Links that disguise another host as Qualys, and odd ones that are Qualys.
            disguised_id, real_id = new_execution(qualys), new_execution(qualys)
            links = [link.format(id=disguised_id) for link in DISGUISED_LINKS] + \
                    [link.format(id=real_id) for link in QUALYS_LINKS[:1]]
            count.ack(app.event({"type": "link_shared", "channel": "C0LINKS", "user": "U0ASKER",
                                 "message_ts": "1700000800.1", "source": "conversations_history",
                                 "links": [{"domain": "x", "url": u} for u in links]}, "EvHOSTLINKS"))
            count.tried += len(links)

            # 4. Absurd Retry-After values from Qualys: each lookup still ends in an answer.
            for value in RETRY_AFTER_VALUES:
                execution_id = new_execution(qualys)
                qualys.fail_next(f"/qflowapi/v1/executions/{execution_id}",
                                 Reply(429, error_body(429, "Too Many Requests", "slow down"),
                                       {"Retry-After": value, "X-RateLimit-ToWait-Sec": value}))
                url = slack.new_response_url()
                expected_urls.append(url)
                count.ack(app.command(f"execution {execution_id}", url))
                count.tried += 1

            # 5. Junk and huge bodies at the HTTP front.
            junk = [b"payload=" + b"%5B" * 20_000, b"x" * 900_000, b'{"type": "event_callback", "event": ' + b"[" * 5000]
            for body in junk:
                count.ack(app.http.post(app.url + "/slack/events", content=body,
                                        headers={"Content-Type": "application/x-www-form-urlencoded"}))
                count.tried += 1
            oversized = app.http.post(app.url + "/slack/events", content=b"x" * (2 * 1024 * 1024))
            count.tried += 1
            count.answered += len(junk) + 1 if oversized.status_code == 413 else len(junk)

            answers = [slack.wait_for_responses(url)[0] for url in expected_urls]
            count.answered += sum(1 for a in answers if a.data.get("text"))
            for channel in posted_channels:
                slack.wait_for(lambda reqs, c=channel: [r for r in reqs if r.meta.get("api") == "chat.postMessage"
                                                        and r.data.get("channel") == c and r.meta.get("answered")])
            count.answered += len(posted_channels)
            [unfurl] = slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("api") == "chat.unfurl"
                                                   and r.data.get("channel") == "C0LINKS"] or None)
            unfurled = set(json.loads(unfurl.data["unfurls"]) if isinstance(unfurl.data["unfurls"], str)
                           else unfurl.data["unfurls"])
            count.answered += len(links) if unfurled == {links[-1]} else 0
            stop.set()
            people.join()
            assert app.stop() == 0
            log_text = app.log_text
    seen = [r.body.decode(errors="replace") for r in slack.requests] + [log_text, audit.read_text()]
    leaked = sum(text.count(secret) for text in seen for secret in (API_SECRET, BOT_TOKEN, SIGNING_SECRET))
    acks = sorted(count.hostile_acks + count.normal_acks)
    p99 = acks[min(len(acks) - 1, int(0.99 * (len(acks) - 1) + 0.5))]
    FIGURES.update({
        "hostile inputs tried": f"{count.tried} (14 stalling texts x command, mention, shortcut; "
                                f"{len(hostile_button_values())} forged button values; {len(links)} links; "
                                f"{len(RETRY_AFTER_VALUES)} absurd Retry-After values; {len(junk) + 1} junk bodies)",
        "hostile inputs answered": str(count.answered),
        "hostile: 500s": str(count.server_errors),
        "hostile: secrets leaked": str(leaked),
        "hostile: max ack": f"{max(count.hostile_acks) * 1000:.0f} ms hostile, {max(count.normal_acks) * 1000:.0f} ms "
                            f"for {len(count.normal_acks)} ordinary lookups alongside; p99 {p99 * 1000:.0f} ms",
        "hostile: traceback in the log": str("Traceback" in log_text),
    })
    assert count.server_errors == 0 and leaked == 0 and count.answered == count.tried, FIGURES
    assert max(acks) < 3.0 and "Traceback" not in log_text, FIGURES
