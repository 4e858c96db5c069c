"""Unfurls, mentions, DMs and the message shortcut, end to end, with self-refreshing cards."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.fakes._server import Reply
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import all_text, assert_valid_message, buttons

FAILED = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
_event_ids = iter(range(1, 10_000))


def event_id() -> str:
    return f"Ev{next(_event_ids):08d}"


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[RunningApp, FakeSlack, FakeQualys]]:
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_SECONDS="0.2",
                      QFLOW_REFRESH_MAX_MINUTES="5", QFLOW_LINK_DOMAINS="qflow.internal.example")
        with run_app(env) as app:
            yield app, slack, qualys
            assert app.stop() == 0
        for request in slack.requests:
            if request.meta.get("api") == "chat.unfurl":
                for unfurl in request.data["unfurls"].values():
                    assert_valid_message({"text": "unfurl", "blocks": unfurl["blocks"]})
            elif isinstance(request.data, dict) and request.data.get("blocks"):
                assert_valid_message(request.data)


def unfurls_for(slack: FakeSlack, channel: str, ts: str) -> list[dict]:
    return [r.data for r in slack.api_calls("chat.unfurl") if r.data.get("channel") == channel and r.data.get("ts") == ts]


def wait_calls(slack: FakeSlack, method: str, count: int = 1, **match: str) -> list[dict]:
    """Wait until `count` calls of a Web API method with these parameters arrived; their params."""
    def pick(reqs):
        found = [r.data for r in reqs if r.meta.get("api") == method
                 and all(r.data.get(k) == v for k, v in match.items())]
        return found if len(found) >= count else None
    return slack.wait_for(pick)


def wait_unfurls(slack, predicate, timeout=15.0):
    return slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.unfurl"
                                        and predicate(r.data)] or None, timeout)


def link_shared(channel, ts, urls, source="conversations_history", **extra):
    return {"type": "link_shared", "channel": channel, "user": "U0ASKER", "message_ts": ts, "source": source,
            "unfurl_id": f"U{ts}", "is_bot_user_member": True,
            "links": [{"domain": url.split("/")[2], "url": url} for url in urls], **extra}


def test_execution_links_on_qualys_hosts_unfurl_and_others_are_left_alone(world):
    app, slack, qualys = world
    a, b, c, d = (new_execution(qualys, "failed-with-steps.json") for _ in range(4))
    urls = [
        f"https://qualysguard.qualys.com/qflow/#/executions/{a}",                  # US1
        f"https://qualysguard.qg2.apps.qualys.eu/portal/execution/{b}?tab=steps",  # EU2
        f"https://qualysguard.qg1.apps.qualysksa.com/x?workflow=w&executionId={c}",  # KSA1
        f"https://qflow.internal.example/runs/{d}",                                 # QFLOW_LINK_DOMAINS
        f"https://evil.example.com/executions/{a}",                                 # not Qualys
        "https://qualysguard.qualys.com/portal/dashboard",                          # Qualys, no execution
    ]
    assert app.event(link_shared("C0LINKS", "1700000001.000001", urls), event_id()).status_code == 200
    wait_calls(slack, "chat.unfurl", 4, ts="1700000001.000001")
    calls = unfurls_for(slack, "C0LINKS", "1700000001.000001")
    unfurled = {url for call in calls for url in call["unfurls"]}
    assert unfurled == set(urls[:4]) and len(calls) == 4
    card = calls[0]["unfurls"][next(iter(calls[0]["unfurls"]))]["blocks"]
    text = all_text({"blocks": card})
    assert "❌ *Failed* · *Remediate public S3 buckets*" in text and "4 steps, 1 failed" in text
    assert {"Show steps", "Show errors", "Refresh", "Open Qualys ↗"} == set(buttons({"blocks": card}))


def test_composer_previews_wait_for_the_posted_message(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys)
    url = f"https://qualysguard.qualys.com/qflow/#/executions/{execution_id}"
    # While the link is typed, Slack names no channel: nothing is fetched, checked or shown.
    app.event(link_shared("COMPOSER", "U0ASKER-909b5454", [url], source="composer", unfurl_id="UNF-42"), event_id())
    app.wait_for_log(f'"execution_id":"{execution_id}","outcome":"preview_skipped"')
    assert qualys.execution_calls(execution_id) == []
    assert [r for r in slack.requests if "COMPOSER" in r.body.decode(errors="replace")] == []
    # Slack sends link_shared again once the message is posted, with its channel: that one unfurls.
    app.event(link_shared("C0COMPOSE", "1700000003.000001", [url]), event_id())
    [call] = wait_calls(slack, "chat.unfurl", channel="C0COMPOSE")
    assert call["ts"] == "1700000003.000001" and url in call["unfurls"]


def test_links_past_the_bound_are_not_unfurled(world):
    app, slack, qualys = world
    urls = [f"https://qualysguard.qualys.com/e/{new_execution(qualys)}" for _ in range(6)]
    app.event(link_shared("C0MANY", "1700000002.000001", urls), event_id())
    wait_calls(slack, "chat.unfurl", 4, channel="C0MANY")
    # Every lookup had finished by the time its unfurl was sent; the next event proves the queue moved on.
    probe = new_execution(qualys)
    app.event(link_shared("C0MANY2", "1700000002.000002", [f"https://qualysguard.qualys.com/e/{probe}"]), event_id())
    wait_calls(slack, "chat.unfurl", channel="C0MANY2")
    assert {u for c in unfurls_for(slack, "C0MANY", "1700000002.000001") for u in c["unfurls"]} == set(urls[:4])


def test_a_retried_event_unfurls_once(world):
    app, slack, qualys = world
    url = f"https://qualysguard.qualys.com/e/{new_execution(qualys)}"
    event = link_shared("C0RETRY", "1700000003.000001", [url])
    same = event_id()
    assert app.event(event, same).status_code == 200
    assert app.event(event, same, retry_num=1).status_code == 200
    assert app.event(event, same, retry_num=2).status_code == 200
    wait_calls(slack, "chat.unfurl", channel="C0RETRY")
    probe = f"https://qualysguard.qualys.com/e/{new_execution(qualys)}"  # a later event, to let any duplicate show
    app.event(link_shared("C0RETRY2", "1700000003.000002", [probe]), event_id())
    wait_calls(slack, "chat.unfurl", channel="C0RETRY2")
    assert len(unfurls_for(slack, "C0RETRY", "1700000003.000001")) == 1


def test_a_429_from_chat_unfurl_is_waited_out(world):
    app, slack, qualys = world
    slack.fail_next("chat.unfurl", Reply(429, json.dumps({"ok": False, "error": "ratelimited"}), {"Retry-After": "0"}))
    url = f"https://qualysguard.qualys.com/e/{new_execution(qualys)}"
    app.event(link_shared("C0RATE", "1700000004.000001", [url]), event_id())
    # The 429, then the same call again once Retry-After has passed.
    calls = wait_calls(slack, "chat.unfurl", 2, channel="C0RATE")
    assert calls[0] == calls[1] and url in calls[1]["unfurls"]


def test_buttons_inside_an_unfurl_call_chat_unfurl_again(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys, "failed-with-steps.json")
    url = f"https://qualysguard.qualys.com/e/{execution_id}"
    app.event(link_shared("C0CLICK", "1700000005.000001", [url]), event_id())
    [first] = wait_calls(slack, "chat.unfurl", channel="C0CLICK")
    show_steps = buttons({"blocks": first["unfurls"][url]["blocks"]})["Show steps"]
    container = {"type": "message_attachment", "is_app_unfurl": True, "channel_id": "C0CLICK",
                 "message_ts": "1700000005.000001", "app_unfurl_url": url, "attachment_id": 1}
    assert app.click(show_steps, "", container=container).status_code == 200
    calls = wait_calls(slack, "chat.unfurl", 2, channel="C0CLICK")
    expanded = all_text({"blocks": calls[1]["unfurls"][url]["blocks"]})
    assert calls[1]["ts"] == "1700000005.000001" and "*Steps* · 4 · 1 failed" in expanded
    assert "Hide steps" in buttons({"blocks": calls[1]["unfurls"][url]["blocks"]})


def test_a_running_execution_unfurl_follows_it_until_it_finishes(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys, "running.json")
    url = f"https://qualysguard.qualys.com/e/{execution_id}"
    app.event(link_shared("C0FOLLOW", "1700000006.000001", [url]), event_id())
    [first] = wait_calls(slack, "chat.unfurl", channel="C0FOLLOW")
    first_text = all_text({"blocks": first["unfurls"][url]["blocks"]})
    assert "⏳ *Running*" in first_text and "Following this run" in first_text
    qualys.executions[execution_id].update(status="Success", endDate=1746007633052)
    final = wait_unfurls(slack, lambda d: d.get("channel") == "C0FOLLOW"
                         and "✅" in json.dumps(d["unfurls"][url]["blocks"], ensure_ascii=False))
    text = all_text({"blocks": final[0]["unfurls"][url]["blocks"]})
    assert "Following this run" not in text and "as of" in text


def test_mentions_answer_in_their_thread_with_several_cards_bounded(world):
    app, slack, qualys = world
    ids = [new_execution(qualys) for _ in range(6)]
    text = "<@U0BOT> look at " + " and ".join(ids[:2])
    app.event({"type": "app_mention", "user": "U0ASKER", "text": text, "ts": "1700000007.000009",
               "thread_ts": "1700000007.000001", "channel": "C0MENTION"}, event_id())
    posts = wait_calls(slack, "chat.postMessage", 2, channel="C0MENTION")
    assert all(p["thread_ts"] == "1700000007.000001" for p in posts)
    assert {p["blocks"][0]["text"]["text"] for p in posts} == {"✅ Success · Remediate public S3 buckets"}
    assert all("Share in channel" not in buttons(p) for p in posts)

    app.event({"type": "app_mention", "user": "U0ASKER", "text": "<@U0BOT> " + " ".join(ids), "ts": "1700000008.1",
               "channel": "C0MANY"}, event_id())
    note = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.postMessage"
                                        and "at most 4 executions" in r.data.get("text", "")] or None)
    assert note[0]["thread_ts"] == "1700000008.1" and ids[5] in note[0]["text"]

    app.event({"type": "app_mention", "user": "U0ASKER", "text": "<@U0BOT> hello?", "ts": "1700000009.1",
               "channel": "C0HELLO"}, event_id())
    hello = wait_calls(slack, "chat.postMessage", channel="C0HELLO")
    assert "Send me a QFlow execution id" in hello[0]["text"]


def test_a_direct_message_is_answered_in_the_dm(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys)
    app.event({"type": "message", "channel_type": "im", "channel": "D0DM", "user": "U0ASKER",
               "text": f"what happened in <https://qualysguard.qualys.com/e/{execution_id}>?", "ts": "1700000010.1"},
              event_id())
    [post] = wait_calls(slack, "chat.postMessage", channel="D0DM")
    assert "thread_ts" not in post and execution_id in all_text(post)
    # The app's own messages and edits are not questions.
    app.event({"type": "message", "channel_type": "im", "channel": "D0DM", "bot_id": "B0BOT",
               "text": execution_id, "ts": "1700000010.2"}, event_id())
    app.event({"type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "D0DM",
               "ts": "1700000010.3"}, event_id())
    probe = new_execution(qualys)
    app.event({"type": "message", "channel_type": "im", "channel": "D0DM2", "user": "U0ASKER", "text": probe,
               "ts": "1700000010.4"}, event_id())
    wait_calls(slack, "chat.postMessage", channel="D0DM2")
    assert len([r for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "D0DM"]) == 1


def test_the_message_shortcut_answers_privately_with_share(world):
    app, slack, qualys = world
    a, b = new_execution(qualys), new_execution(qualys, "failed-with-steps.json")
    url = slack.new_response_url()
    text = f"two runs: <https://qualysguard.qualys.com/e/{a}|first> and {b}"
    assert app.message_shortcut(text, url).status_code == 200
    answers = slack.wait_for_responses(url, 2)
    for answer in answers:
        assert answer.data["response_type"] == "ephemeral" and "Share in channel" in buttons(answer.data)
        assert_valid_message(answer.data)
    assert {a, b} <= {eid for x in answers for eid in (a, b) if eid in all_text(x.data)}

    empty = slack.new_response_url()
    app.message_shortcut("nothing to see here", empty)
    [nothing] = slack.wait_for_responses(empty)
    assert "found no QFlow execution" in all_text(nothing.data)


def test_where_the_bot_may_not_post_it_says_so_privately_and_logs_once(world):
    app, slack, qualys = world
    refusal = Reply(200, json.dumps({"ok": False, "error": "not_in_channel"}))
    slack.fail_next("chat.postMessage", refusal, refusal)
    for n in (1, 2):
        app.event({"type": "app_mention", "user": "U0ASKER", "text": f"<@U0BOT> {new_execution(qualys)}",
                   "ts": f"1700000011.{n}", "channel": "C0PRIVATE"}, event_id())
    told = wait_calls(slack, "chat.postEphemeral", 2, channel="C0PRIVATE")
    assert told[0]["user"] == "U0ASKER" and "invite me" in told[0]["text"]
    app.wait_for_log("Slack refused to post a card in C0PRIVATE (not_in_channel)")


def test_a_private_slash_answer_follows_a_running_execution(world):
    app, slack, qualys = world
    execution_id = new_execution(qualys, "running.json")
    url = slack.new_response_url()
    app.command(f"execution {execution_id}", url)
    [first] = slack.wait_for_responses(url)
    assert "Following this run" in all_text(first.data)
    qualys.executions[execution_id].update(status="Failed", error="Boom", endDate=1746007633052)
    final = slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("response_url") == url
                                         and "❌" in json.dumps(r.data, ensure_ascii=False)] or None)
    assert final[0].data["replace_original"] is True and "Following" not in all_text(final[0].data)


def test_following_stops_at_its_limit_and_says_so():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_SECONDS="0.1",
                      QFLOW_REFRESH_MAX_MINUTES="0.01")
        with run_app(env) as app:
            execution_id = new_execution(qualys, "running.json")
            url = f"https://qualysguard.qualys.com/e/{execution_id}"
            app.event(link_shared("C0LIMIT", "1700000012.000001", [url]), event_id())
            stopped = wait_unfurls(slack, lambda d: "Stopped following" in json.dumps(d["unfurls"][url]["blocks"]))
            blocks = stopped[0]["unfurls"][url]["blocks"]
            assert "Refresh" in buttons({"blocks": blocks}) and "⏳" in all_text({"blocks": blocks})
            assert app.stop() == 0


def test_refused_unfurls_are_logged_once_and_the_app_moves_on(world):
    app, slack, qualys = world
    refused = Reply(200, json.dumps({"ok": False, "error": "cannot_unfurl_url"}))
    slack.fail_next("chat.unfurl", refused, refused)
    for n in (1, 2):
        url = f"https://qualysguard.qualys.com/e/{new_execution(qualys)}"
        app.event(link_shared("C0NOUNFURL", f"1700000013.00000{n}", [url, url]), event_id())  # a link twice
        wait_calls(slack, "chat.unfurl", n, channel="C0NOUNFURL")
    app.wait_for_log("Slack refused to unfurl a link in C0NOUNFURL (cannot_unfurl_url)")
    url = f"https://qualysguard.qualys.com/e/{new_execution(qualys)}"  # and the app carries on
    app.event(link_shared("C0NOUNFURL", "1700000013.000003", [url]), event_id())
    [last] = wait_calls(slack, "chat.unfurl", ts="1700000013.000003")
    assert url in last["unfurls"]
