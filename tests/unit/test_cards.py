"""The card step: a card is rendered once per fetch, view and note, and reused (a storm shows hundreds of
people the same few executions); anything that changes what it shows renders it again."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import bot.cards
from bot.cards import Cards
from bot.lookup import Lookup
from bot.qflow.models import parse_execution
from bot.redact import Redactor
from bot.render import CardState, render_execution_card
from tests.fakes.qualys import load_example


def cards() -> Cards:
    return Cards(None, redactor=Redactor((), ()), audit=None, open_url=lambda e, w: f"https://q.test/{e}")


def lookup(example: str = "failed-with-steps.json", at: datetime | None = None) -> Lookup:
    return Lookup(parse_execution(load_example(example)), at or datetime(2026, 11, 28, tzinfo=UTC), True)


def test_the_same_fetch_view_and_note_is_rendered_once_and_equals_a_fresh_render():
    made, found = cards(), lookup()
    state = CardState(found.execution.id)
    first = made.render(found, state, "note")
    assert made.render(found, state, "note") is first
    assert first == render_execution_card(found.execution, state, fetched_at=found.fetched_at, note="note",
                                          redactor=Redactor((), ()), open_url=f"https://q.test/{found.execution.id}")


def test_another_view_note_fetch_or_execution_is_rendered_again():
    made, found = cards(), lookup()
    state = CardState(found.execution.id)
    first = made.render(found, state)
    others = [
        made.render(found, state.with_view("steps")),
        made.render(found, CardState(found.execution.id, compact=True)),
        made.render(found, state, "Following this run"),
        made.render(lookup(at=found.fetched_at + timedelta(seconds=1)), state),
    ]
    assert all(other is not first and other != first for other in others)
    # An equal fetch time but another execution object (a newer answer from Qualys): rendered from it.
    changed = Lookup(found.execution.model_copy(update={"status": "Success"}), found.fetched_at, True)
    again = made.render(changed, state)
    assert again is not first and again != first
    assert made.render(found, state) == first


def test_people_shown_a_card_at_the_same_moment_share_one_render(monkeypatch):
    made, found = cards(), lookup()
    state, entered, release, renders = CardState(found.execution.id), threading.Event(), threading.Event(), []

    def slow_render(*args, **kwargs):
        renders.append(1)
        entered.set()
        assert release.wait(10)
        return render_execution_card(*args, **kwargs)

    monkeypatch.setattr(bot.cards, "render_execution_card", slow_render)
    shown: list = []
    people = [threading.Thread(target=lambda: shown.append(made.render(found, state))) for _ in range(3)]
    people[0].start()
    assert entered.wait(10)  # the first is rendering; the other two arrive meanwhile
    for person in people[1:]:
        person.start()
    deadline = time.monotonic() + 10
    while made._rendered.joined < 2:  # both waiting for the first's render
        assert time.monotonic() < deadline, "the others never joined the render under way"
        time.sleep(0.001)
    release.set()
    for person in people:
        person.join(10)
    assert len(renders) == 1 and len(shown) == 3 and shown[0] is shown[1] is shown[2]
