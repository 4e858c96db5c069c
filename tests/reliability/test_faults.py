"""The reliability suite: the real app process against the loopback fakes, with every fault the
product must survive injected on purpose (scripted, not random, so every run is the same).

Afterwards the app is stopped with SIGTERM, which drains the work in flight, and everything the
fakes received is counted: every request must have exactly one answer, and no secret may have
reached Slack, the log or the audit log. The figures are printed at the end of the test run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bot.lookup import LOOKUP_BUDGET_SECONDS
from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import PASSWORD, USERNAME, FakeQualys, error_body
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.world import fakes, new_execution
from tests.reliability.figures import FIGURES
from tests.slack_checks import assert_valid_message

API_SECRET = "SuperSecret-Var-123!"  # inside the API data: must never reach Slack unmasked
HTML = Reply(200, "<html><body><h1>Gateway error</h1></body></html>", content_type="text/html")
HTML_502 = Reply(502, "<html><body>Bad Gateway</body></html>", content_type="text/html")


def err(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, error_body(status, "Error", "injected"), headers or {})


# Each entry: a name, and the replies the gateway gives the first calls for one execution.
QUALYS_FAULTS: list[tuple[str, list[Reply | float]]] = [
    ("timeout, then ok", [0.8]),
    ("timeouts", [0.8, 0.8, 0.8]),
    ("connection reset, then ok", [Reply(fault="reset")]),
    ("connection resets", [Reply(fault="reset")] * 3),
    *[(f"{s}, then ok", [err(s)]) for s in (500, 502, 503, 504)],
    *[(f"{s}s", [err(s)] * 3) for s in (500, 502, 503, 504)],
    ("429 with Retry-After, then ok", [err(429, {"Retry-After": "0"})]),
    ("429 with a long Retry-After", [err(429, {"Retry-After": "3600"})]),
    ("429 without Retry-After, then ok", [err(429)]),
    ("429s without Retry-After", [err(429)] * 3),
    ("HTML error page", [HTML]),
    ("HTML 502 page, then ok", [HTML_502]),
    ("truncated JSON", [Reply(200, '{"data": {"id": "0e71f117-648f')]),
    ("truncated body, then ok", [Reply(200, '{"data": {"id": "0e71', fault="truncate")]),
    # A whole answer that arrives one byte at a time: each read is quick, the answer never ends.
    ("answers that drip", [Reply(200, json.dumps({"data": {"status": "Success", "pad": "x" * 400}}),
                                 fault="drip")] * 3),
    ("an answer that drips, then ok", [Reply(200, json.dumps({"data": {"pad": "x" * 400}}), fault="drip")]),
]


class Tally:
    """What was sent, and what each request must end with."""

    def __init__(self) -> None:
        self.response_urls: list[str] = []  # one answer each
        self.sent_at: dict[str, float] = {}  # when each command was sent
        self.unfurls: list[tuple[str, str]] = []  # (channel, ts): one successful unfurl each
        self.mentions: list[str] = []  # channel: one successful card each
        self.refused = 0
        self.acks: list[float] = []
        self.qualys_faults = 0
        self.slack_faults = 0

    def ack(self, response: httpx.Response, expected: int = 200) -> None:
        assert response.status_code == expected, response.text
        self.acks.append(response.elapsed.total_seconds())


def command(app: RunningApp, slack: FakeSlack, tally: Tally, execution_id: str) -> None:
    url = slack.new_response_url()
    tally.response_urls.append(url)
    tally.sent_at[url] = time.perf_counter()
    tally.ack(app.command(f"execution {execution_id}", url))


def test_every_request_ends_in_exactly_one_answer_and_no_secret_leaks(tmp_path):
    audit = tmp_path / "audit.jsonl"
    tally = Tally()
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_USERNAME=USERNAME, QUALYS_PASSWORD=PASSWORD, QFLOW_TIMEOUT_SECONDS="0.5",
                      QFLOW_REFRESH_MAX_MINUTES="0", QFLOW_AUDIT_LOG=str(audit))
        with run_app(env) as app, ThreadPoolExecutor(max_workers=8) as pool:
            # Secrets the API might carry: under secret-looking keys, in a URL, inside error text.
            secret_vars = {"variables": ["region=us-east-1", f"db_password={API_SECRET}",
                                         f"hook=https://svc:{API_SECRET}@hooks.example/x"],
                           "tags": [f"api_token={API_SECRET}"], "error": f"login failed: password={API_SECRET}"}

            # 1. Qualys faults, many at once.
            cases = []
            for _name, replies in QUALYS_FAULTS:
                execution_id = new_execution(qualys, "failed-with-steps.json", **secret_vars)
                qualys.fail_next(f"/qflowapi/v1/executions/{execution_id}", *replies)
                tally.qualys_faults += len(replies)
                cases.append(execution_id)
            list(pool.map(lambda e: command(app, slack, tally, e), cases))

            # 2. The JWT expires mid-run, then the /auth endpoint has an outage.
            for token in list(qualys.valid_tokens):
                qualys.expire(token)
            list(pool.map(lambda e: command(app, slack, tally, e), [new_execution(qualys) for _ in range(6)]))
            for token in list(qualys.valid_tokens):
                qualys.expire(token)
            qualys.fail_next("/auth", err(503), Reply(fault="reset"), err(503), err(503))
            tally.qualys_faults += 4
            list(pool.map(lambda e: command(app, slack, tally, e), [new_execution(qualys) for _ in range(6)]))

            # 3. Slack faults: response_url failures, Web API 429s and 5xx.
            slack.fail_next("response", Reply(500, "oops"), Reply(429, "slow down", {"Retry-After": "0"}),
                            Reply(503, "busy"))
            tally.slack_faults += 3
            list(pool.map(lambda e: command(app, slack, tally, e), [new_execution(qualys) for _ in range(4)]))
            slack.fail_next("chat.unfurl", Reply(429, json.dumps({"ok": False, "error": "ratelimited"}),
                                                 {"Retry-After": "0"}), Reply(500, "{}"), Reply(503, "{}"))
            slack.fail_next("chat.postMessage", Reply(429, json.dumps({"ok": False, "error": "ratelimited"}),
                                                      {"Retry-After": "0"}), Reply(502, "{}"))
            tally.slack_faults += 5

            # 4. Events, each delivered three times (Slack's retries), unfurls and mentions.
            for n in range(6):
                execution_id = new_execution(qualys, **secret_vars)
                ts = f"1700000300.{n:06d}"
                event = {"type": "link_shared", "channel": "C0REL", "user": "U0ASKER", "message_ts": ts,
                         "source": "conversations_history",
                         "links": [{"domain": "qualysguard.qualys.com",
                                    "url": f"https://qualysguard.qualys.com/e/{execution_id}"}]}
                tally.unfurls.append(("C0REL", ts))
                for retry in (None, 1, 2):
                    tally.ack(app.event(event, f"EvREL{n}", retry_num=retry))
            for n in range(3):
                channel = f"C0MENTION{n}"
                tally.mentions.append(channel)
                event = {"type": "app_mention", "user": "U0ASKER", "channel": channel, "ts": f"1700000400.{n}",
                         "text": f"<@U0BOT> {new_execution(qualys)}"}
                for retry in (None, 1):
                    tally.ack(app.event(event, f"EvMEN{n}", retry_num=retry))

            # 5. Clicks on a card, under the same faults.
            card_id = new_execution(qualys, "failed-with-steps.json")
            url = slack.new_response_url()
            tally.response_urls.append(url)
            tally.ack(app.command(f"execution {card_id}", url))
            [card] = slack.wait_for_responses(url)
            qualys.fail_next(f"/qflowapi/v1/executions/{card_id}", err(503), Reply(fault="reset"))
            tally.qualys_faults += 2
            for element in [e for b in card.data["blocks"] if b["type"] == "actions" for e in b["elements"]]:
                if element["action_id"] in ("qflow_steps", "qflow_errors", "qflow_refresh"):
                    click_url = slack.new_response_url()
                    tally.response_urls.append(click_url)
                    tally.ack(app.click(element, click_url))

            # 6. Forged and replayed requests: refused, and nothing happens (a replay would answer twice).
            forged_id = new_execution(qualys)
            refused = [
                app.command(f"execution {forged_id}", slack.new_response_url(), secret="wrong-secret"),
                app.command(f"execution {forged_id}", slack.new_response_url(), timestamp=int(time.time()) - 301),
                app.post_signed("payload=%7B%7D", "application/x-www-form-urlencoded",
                                headers={"X-Slack-Signature": "v0=" + "0" * 64}),
            ]
            replay_url = slack.new_response_url()
            tally.response_urls.append(replay_url)
            original = app.command(f"execution {card_id}", replay_url)
            tally.ack(original)
            slack.wait_for_responses(replay_url)
            refused.append(app.http.post(app.url + "/slack/events", content=original.request.content,
                                         headers=original.request.headers))
            assert [r.status_code for r in refused] == [401] * 4
            tally.refused = len(refused)

            assert app.stop() == 0  # SIGTERM: stop taking requests, finish all work in flight
            log_text = app.log_text
        assert qualys.execution_calls(forged_id) == []  # the forged requests called nothing

        figures = count(slack, qualys, tally, audit.read_text(), log_text)
    FIGURES.update(figures)
    assert figures["lost"] == "0" and figures["duplicated"] == "0" and figures["secrets leaked"] == "0", figures
    assert float(figures["slowest answer"].split()[0]) < LOOKUP_BUDGET_SECONDS, figures


def count(slack: FakeSlack, qualys: FakeQualys, tally: Tally, audit_text: str, log_text: str) -> dict[str, str]:
    answers = Counter(r.meta["response_url"] for r in slack.requests if r.meta.get("answered")
                      and "response_url" in r.meta)
    unfurled = Counter((r.data.get("channel"), r.data.get("ts")) for r in slack.api_calls("chat.unfurl")
                       if r.meta.get("answered"))
    posted = Counter(r.data.get("channel") for r in slack.api_calls("chat.postMessage") if r.meta.get("answered"))
    outcomes = [answers[u] for u in tally.response_urls] + [unfurled[k] for k in tally.unfurls] + \
               [posted[c] for c in tally.mentions]
    for request in slack.requests:  # everything delivered passes Slack's rules
        data: Any = request.data
        if isinstance(data, dict) and data.get("blocks"):
            assert_valid_message(data)
        if request.meta.get("api") == "chat.unfurl":
            for unfurl in data["unfurls"].values():
                assert_valid_message({"text": "unfurl", "blocks": unfurl["blocks"]})
    secrets = [PASSWORD, BOT_TOKEN, SIGNING_SECRET, API_SECRET, *qualys.valid_tokens, *qualys.expired_tokens]
    seen = [r.body.decode(errors="replace") for r in slack.requests] + [audit_text, log_text]
    leaked = sum(text.count(secret) for text in seen for secret in secrets)
    audit_lines = [json.loads(line) for line in audit_text.splitlines()]
    first_answer = {}
    for r in slack.requests:
        if r.meta.get("answered") and r.meta.get("response_url") in tally.sent_at:
            first_answer.setdefault(r.meta["response_url"], r.at)
    slowest = max(at - tally.sent_at[url] for url, at in first_answer.items())
    return {
        "requests sent": str(len(outcomes)),
        "answered": str(sum(1 for n in outcomes if n >= 1)),
        "lost": str(sum(1 for n in outcomes if n == 0)),
        "duplicated": str(sum(n - 1 for n in outcomes if n > 1)),
        "secrets leaked": str(leaked),
        "refused (forged, stale, replayed)": str(tally.refused),
        "max ack time": f"{max(tally.acks) * 1000:.0f} ms over {len(tally.acks)} acks (Slack allows 3000)",
        "slowest answer": f"{slowest:.1f} s after its command (QFLOW_TIMEOUT_SECONDS 0.5 per answer, dripping "
                          f"bodies included; a lookup's budget is {LOOKUP_BUDGET_SECONDS:g} s)",
        "faults injected": f"{tally.qualys_faults} at Qualys, {tally.slack_faults} at Slack, "
                           f"{2 * len(tally.unfurls) + len(tally.mentions)} event redeliveries",
        "audit lines": f"{len(audit_lines)} ({', '.join(f'{k} {v}' for k, v in Counter(a['outcome'] for a in audit_lines).most_common())})",
    }
