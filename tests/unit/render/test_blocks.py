"""The Block Kit builders (bot/render/blocks.py) held to slack_sdk's block models, on generated inputs:
where a model accepts, its `to_dict()` is the builder's dict; where a model refuses, the builder refuses
too (with slack_sdk's own error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.render import CardState
from bot.render.blocks import actions, button, context, divider, header, md, plain_text, section

# Lengths at and around every limit (75, 150, 255, 2000, 3000 characters), and anywhere.
lengths = st.one_of(st.sampled_from([n + d for n in (75, 150, 255, 2000, 3000) for d in (-1, 0, 1)]),
                    st.integers(1, 3100))
texts = st.one_of(st.text(min_size=1, max_size=8), lengths.map(lambda n: "é" * n))
ids = lengths.filter(lambda n: n < 400).map(lambda n: "a" * n)
block_ids = st.none() | ids
urls = st.none() | lengths.filter(lambda n: n > 18).map(lambda n: "https://x.example/" + "p" * (n - 18))
# Counts at and around every limit (10 fields or context elements, 25 buttons).
counts = st.one_of(st.sampled_from([1, 9, 10, 11, 24, 25, 26]), st.integers(1, 27))


def lists_of(items: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return counts.flatmap(lambda n: st.lists(items, min_size=n, max_size=n))


states = st.none() | st.builds(CardState, st.just("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
                               st.sampled_from(["summary", "steps", "errors"]), st.integers(0, 5))


def same(built: Callable[[], dict[str, Any]], model: Callable[[], Any]) -> None:
    """Both accept and give the same dict, or both refuse."""
    try:
        expected = model().to_dict()
    except SlackObjectFormationError:
        with pytest.raises(SlackObjectFormationError):
            built()
        return
    assert built() == expected


@given(texts)
def test_text_objects_are_the_models(text: str) -> None:
    same(lambda: md(text), lambda: MarkdownTextObject(text=text, verbatim=True))
    for emoji in (True, False):
        same(lambda e=emoji: plain_text(text, emoji=e), lambda e=emoji: PlainTextObject(text=text, emoji=e))


@given(texts, ids, states, urls, st.none() | st.sampled_from(["primary", "danger", "loud"]))
@example("b" * 75, "a" * 255, None, "u" * 3000, "primary")
@example("b" * 76, "a", None, None, None)
@example("b", "a" * 256, None, None, None)
@example("b", "a", None, "u" * 3001, None)
def test_buttons_are_the_models(caption: str, action_id: str, state: CardState | None, url: str | None,
                                style: str | None) -> None:
    same(lambda: button(caption, action_id, state, url=url, style=style),
         lambda: ButtonElement(text=PlainTextObject(text=caption, emoji=True), action_id=action_id,
                               value=state.to_value() if state else None, url=url, style=style))


@given(st.none() | texts, st.just([]) | lists_of(st.text(min_size=1, max_size=8) | lengths.filter(lambda n: n <= 2000).map(lambda n: 'f' * n)),
       block_ids)
@example("é" * 3000, ["f" * 2000] * 10, "b" * 255)
@example("é" * 3001, [], None)
@example(None, ["f"] * 11, None)
@example("t", [], "b" * 256)
def test_sections_are_the_models(text: str | None, fields: list[str], block_id: str | None) -> None:
    same(lambda: section(md(text) if text else None, fields=[md(f) for f in fields], block_id=block_id),
         lambda: SectionBlock(text=MarkdownTextObject(text=text, verbatim=True) if text else None,
                              fields=[MarkdownTextObject(text=f, verbatim=True) for f in fields] or None,
                              block_id=block_id))


@given(lists_of(texts), counts, ids, block_ids, texts)
@example(["e"] * 10, 25, "a" * 255, "b" * 255, "h" * 150)
@example(["e"] * 11, 26, "a", None, "h" * 151)
@example(["e"], 1, "a", "b" * 256, "h")
def test_context_actions_header_and_divider_are_the_models(elements: list[str], buttons: int, last_id: str,
                                                           block_id: str | None, title: str) -> None:
    action_ids = ["go"] * (buttons - 1) + [last_id]
    same(lambda: context(*map(md, elements)),
         lambda: ContextBlock(elements=[MarkdownTextObject(text=e, verbatim=True) for e in elements]))
    same(lambda: actions([button("Go", a) for a in action_ids], block_id=block_id),
         lambda: ActionsBlock(elements=[ButtonElement(text=PlainTextObject(text="Go", emoji=True), action_id=a)
                                        for a in action_ids], block_id=block_id))
    same(lambda: header(title), lambda: HeaderBlock(text=PlainTextObject(text=title, emoji=False)))
    assert divider() == DividerBlock().to_dict()


def test_what_slack_refuses_and_the_models_let_through_is_refused_too() -> None:
    """A field over 2000 characters, a context or actions block with no elements: Slack refuses them
    (invalid_blocks); the models leave them to Slack, the builders refuse them here."""
    with pytest.raises(SlackObjectFormationError):
        section(fields=[md("x" * 2001)])
    with pytest.raises(SlackObjectFormationError):
        context()
    with pytest.raises(SlackObjectFormationError):
        actions([])
