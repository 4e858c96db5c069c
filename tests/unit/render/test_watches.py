"""Watch messages: inside Slack's limits, and API text never mentions or links anyone."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.qflow.models import parse_execution
from bot.render import CardState, render_execution_card
from bot.render.watches import render_watch_ended, render_watches, with_watch
from tests.hostile import hostile_texts
from tests.slack_checks import all_text, assert_valid_message, buttons

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
SPECIAL = re.compile(r"<[@#!]|<https?:")


def execution(status: str, error: str, name: str):
    return parse_execution({"data": {"id": EID, "status": status, "error": error, "workflowName": name,
                                     "steps": [{"eventOrder": 1, "status": "Failed", "error": error}]}})


@given(st.text(max_size=60), st.text(max_size=3000), st.text(max_size=300))
def test_the_thread_reply_escapes_everything_but_the_watcher(status, error, name):
    message = render_watch_ended(execution(status, error, name), "U0WATCHER").payload()
    assert_valid_message(message)
    text = all_text(message)
    assert text.startswith("<@U0WATCHER> ") and not SPECIAL.search(text.replace("<@U0WATCHER> ", ""))


def test_hostile_texts_and_a_forged_watcher():
    for text in list(hostile_texts(5000).values())[:6]:
        message = render_watch_ended(execution(text[:50], text, text), "<!channel>").payload()
        assert_valid_message(message)
        assert not SPECIAL.search(all_text(message))  # not even the watcher: it is not a user id


def test_the_watched_card_has_its_line_and_button_until_the_watch_ends():
    state = CardState(EID, private=False)
    card = render_execution_card(execution("Running", "", "wf"), state, fetched_at=__import__("datetime").datetime.now())
    watched = with_watch(card, state, "U0WATCHER", hours=24).payload()
    assert_valid_message(watched)
    assert "Stop watching" in buttons(watched) and "Watched by <@U0WATCHER>" in all_text(watched)
    ended = with_watch(card, state, "U0WATCHER", hours=24, ended=True).payload()
    assert "Stop watching" not in buttons(ended) and "the run ended" in all_text(ended)
    expired = with_watch(card, state, "U0WATCHER", hours=24, expired=True).payload()
    assert "Stop watching" not in buttons(expired) and "the most a watch lasts" in all_text(expired)
    stopped = with_watch(card, state, "U0WATCHER", hours=24, stopped_by="U0OTHER").payload()
    assert "Watch stopped by <@U0OTHER>" in all_text(stopped)


def test_the_list_of_watches_stays_inside_the_limits():
    rows = [(EID, f"U0{n:08d}", 1_700_000_000.0 + n) for n in range(200)]
    message = render_watches(rows, poll_seconds=30).payload()
    assert_valid_message(message)
    assert "(200)" in all_text(message) and "and 180 more" in all_text(message)
