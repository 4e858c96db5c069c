"""`/qflow watch`: a card in the channel for everyone, kept current, one thread reply when the run ends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.e2e.harness import RunningApp, app_env, run_app
from tests.e2e.harness import slash as _slash
from tests.fakes._server import Reply
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack
from tests.fakes.world import fakes, new_execution
from tests.slack_checks import all_text, assert_valid_message, buttons


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[RunningApp, FakeSlack, FakeQualys]]:
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_SECONDS="0.1",
                      QFLOW_MAX_WATCHES="3")
        with run_app(env) as app:
            yield app, slack, qualys
            assert app.stop() == 0
        for request in slack.requests:
            if isinstance(request.data, dict) and request.data.get("blocks"):
                assert_valid_message(request.data)




def slash(app, slack, text, channel, user="U0WATCHER"):
    return _slash(app, slack, text, channel, user)


def posts(slack: FakeSlack, channel: str, method: str = "chat.postMessage") -> list[dict]:
    """What the app sent there; a posted message carries the `ts` Slack gave it."""
    return [{**r.data, **({"ts": r.meta["ts"]} if "ts" in r.meta else {})} for r in slack.api_calls(method)
            if r.data.get("channel") == channel]


def test_a_watched_run_goes_from_running_to_failed_with_one_thread_reply(world):
    app, slack, qualys = world
    run = new_execution(qualys, "running.json")
    answer = slash(app, slack, f"watch {run}", "C0WATCH1")
    assert "Watching" in all_text(answer)
    [card] = posts(slack, "C0WATCH1")
    assert "thread_ts" not in card and "Stop watching" in buttons(card) and "<@U0WATCHER>" in all_text(card)
    qualys.executions[run].update(status="Failed", error="AccessDenied: <!channel> look", endDate=1746007633052)
    slack.wait_for(lambda reqs: [p for p in posts(slack, "C0WATCH1") if p.get("thread_ts")] or None)
    final = slack.wait_for(lambda reqs: [u for u in posts(slack, "C0WATCH1", "chat.update")
                                          if "❌" in json.dumps(u, ensure_ascii=False)] or None)[-1]
    assert "Stop watching" not in buttons(final) and "the run ended" in all_text(final)
    deadline = time.monotonic() + 10  # the watch ends just after its final card and reply are sent
    while "Nothing is watched" not in all_text(slash(app, slack, "watches", "C0WATCH1")):
        assert time.monotonic() < deadline, "the watch did not end with the run"
    replies = [p for p in posts(slack, "C0WATCH1") if p.get("thread_ts")]
    assert len(replies) == 1 and replies[0]["thread_ts"] == card["ts"]
    reply = all_text(replies[0])
    assert reply.startswith("<@U0WATCHER> ❌ Failed") and "AccessDenied" in reply
    assert "<!channel>" not in reply and "&lt;!channel&gt;" in reply  # API text never pings anyone


def test_watching_a_finished_run_answers_with_its_card(world):
    app, slack, qualys = world
    done = new_execution(qualys)
    answer = slash(app, slack, f"watch {done}", "C0WATCH2")
    assert "already finished" in all_text(answer) and answer["blocks"][0]["type"] == "header"
    assert posts(slack, "C0WATCH2") == []


def test_unwatch_the_stop_button_the_list_and_the_limit(world):
    app, slack, qualys = world
    a, b, c, d = (new_execution(qualys, "running.json") for _ in range(4))
    for run in (a, b, c):
        assert "Watching" in all_text(slash(app, slack, f"watch {run}", "C0WATCH3"))
    assert "already watched" in all_text(slash(app, slack, f"watch {a}", "C0WATCH3"))
    assert "QFLOW_MAX_WATCHES" in all_text(slash(app, slack, f"watch {d}", "C0WATCH3"))  # the limit is 3
    listed = all_text(slash(app, slack, "watches", "C0WATCH3", user="U0OTHER"))
    assert all(run in listed for run in (a, b, c)) and "<@U0WATCHER>" in listed

    assert "Stopped watching" in all_text(slash(app, slack, f"unwatch {a}", "C0WATCH3"))
    assert "Nothing watches" in all_text(slash(app, slack, f"unwatch {a}", "C0WATCH3"))
    card = next(p for p in posts(slack, "C0WATCH3") if b in json.dumps(p))
    container = {"type": "message", "message_ts": card["ts"], "channel_id": "C0WATCH3"}
    assert app.click(buttons(card)["Stop watching"], slack.new_response_url(), container=container).status_code == 200
    # This card's own update: a's (unwatched above) already says "Watch stopped by".
    slack.wait_for(lambda reqs: [u for u in posts(slack, "C0WATCH3", "chat.update")
                                 if u.get("ts") == card["ts"] and "Watch stopped by" in all_text(u)] or None)
    listed = all_text(slash(app, slack, "watches", "C0WATCH3"))
    assert b not in listed and c in listed
    assert "Watching" in all_text(slash(app, slack, f"watch {d}", "C0WATCH3"))  # a slot is free again


def test_where_the_app_cannot_post_the_asker_is_told_how_to_add_it(world):
    app, slack, qualys = world
    slack.fail_next("chat.postMessage", Reply(200, json.dumps({"ok": False, "error": "not_in_channel"})))
    answer = slash(app, slack, f"watch {new_execution(qualys, 'running.json')}", "C0WATCH4")
    assert "/invite @QFlow" in all_text(answer)


def test_a_watch_resumes_after_a_restart_and_replies_once(tmp_path):
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_SECONDS="0.1",
                      QFLOW_STATE_FILE=str(tmp_path / "state.sqlite3"))
        run = new_execution(qualys, "running.json")
        with run_app(env) as first:
            assert "Watching" in all_text(slash(first, slack, f"watch {run}", "C0WATCHR"))
            assert first.stop() == 0
        qualys.executions[run].update(status="Success", endDate=1746007633052)  # it ends while the app is down
        with run_app(env) as second:
            slack.wait_for(lambda reqs: [p for p in posts(slack, "C0WATCHR") if p.get("thread_ts")] or None)
            assert second.stop() == 0
        with run_app(env) as third:  # a later start finds nothing left to do
            assert "Nothing is watched" in all_text(slash(third, slack, "watches", "C0WATCHR"))
            assert third.stop() == 0
        replies = [p for p in posts(slack, "C0WATCHR") if p.get("thread_ts")]
        assert len(replies) == 1 and all_text(replies[0]).startswith("<@U0WATCHER> ✅ Success")


def test_the_home_tab_shows_a_person_their_lookups_watches_subscriptions_and_the_app_s_health(world):
    app, slack, qualys = world
    slack.memberships["U0WATCHER"] = ["C0HOMECH"]
    looked_up = new_execution(qualys)
    url = slack.new_response_url()
    form = {"command": "/qflow", "text": f"execution {looked_up}", "user_id": "U0WATCHER", "channel_id": "C0HOMECH",
            "team_id": "T0FAKE", "response_url": url, "trigger_id": "1"}
    app.post_signed(urlencode(form), "application/x-www-form-urlencoded")
    slack.wait_for_responses(url)
    watched = new_execution(qualys, "running.json")
    slash(app, slack, f"watch {watched}", "C0HOMECH")
    slash(app, slack, "subscribe f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a", "C0HOMECH")
    slash(app, slack, "subscribe f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a all", "C0NOTMINE", user="U0SOMEONE")
    assert app.event({"type": "app_home_opened", "user": "U0WATCHER", "channel": "D0HOME", "tab": "home"},
                     "EvHOME1").status_code == 200
    [published] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "views.publish"
                                               and r.data.get("user_id") == "U0WATCHER"] or None)
    view = published["view"] if isinstance(published["view"], dict) else json.loads(published["view"])
    assert_valid_message({"text": "home", "blocks": view["blocks"]})
    text = all_text({"blocks": view["blocks"]})
    assert looked_up in text and watched in text and "<#C0HOMECH>" in text
    assert "C0NOTMINE" not in text  # subscriptions of channels the person is not in stay out
    assert "Qualys: ✅ answered" in text and "Rate budget:" in text and "Service token: valid until" in text
    slash(app, slack, f"unwatch {watched}", "C0HOMECH")
    slash(app, slack, "unsubscribe f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a", "C0HOMECH")
