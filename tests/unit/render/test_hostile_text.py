"""API text cannot change a card's formatting, generated: names, errors and values full of mrkdwn
formatting characters and invisible reordering characters render with exactly the formatting the
card has for plain names, and nothing invisible reaches Slack."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.qflow.models import parse_execution
from bot.render import CardState, render_execution_card
from tests.fakes.qualys import load_example
from tests.slack_checks import assert_valid_message, strings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
FORMATTING = "*_~`"
INVISIBLE = "\u202e\u202d\u202a\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u061c"
hostile = st.text(alphabet=st.sampled_from(list(FORMATTING + INVISIBLE) + list("ab1 -.:")), min_size=1, max_size=40)
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def neutral(text: str) -> str:
    """The same text with nothing hostile in it: formatting characters as letters, invisible ones gone."""
    return "".join("x" if ch in FORMATTING else "" if ch in INVISIBLE else ch for ch in text)


def payload(workflow: str, steps: list[str], error: str, variable: str, transform: Any) -> dict[str, Any]:
    data = copy.deepcopy(load_example("failed-with-steps.json"))
    data["workflowName"] = transform(workflow)
    for step, name in zip(data["steps"], steps, strict=False):
        step["name"] = transform(name)
        step["error"] = transform(error)
    data["variables"] = [f"note={transform(variable)}", f"{transform(variable)}=1"]
    data["error"] = transform(error)
    return data


def skeleton(message: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    texts = [message["text"], *strings(message["blocks"], mrkdwn_only=True)]
    return [(t.count("*"), t.count("~"), t.count("`"), len(_LOOSE_UNDERSCORE.findall(t))) for t in texts]


@given(hostile, st.lists(hostile, min_size=4, max_size=4), hostile, hostile,
       st.sampled_from(["summary", "steps", "errors"]), st.booleans())
def test_api_text_never_adds_or_ends_formatting(workflow, steps, error, variable, view, compact):
    state = CardState(EID, view, compact=compact)
    rendered = {}
    for name, transform in (("hostile", lambda t: t), ("neutral", neutral)):
        execution = parse_execution({"data": payload(workflow, steps, error, variable, transform)})
        rendered[name] = render_execution_card(execution, state, fetched_at=NOW).payload()
    assert_valid_message(rendered["hostile"])
    assert skeleton(rendered["hostile"]) == skeleton(rendered["neutral"])
    everything = "".join([rendered["hostile"]["text"], *strings(rendered["hostile"]["blocks"])])
    assert not set(everything) & set(INVISIBLE)


EMOJI_CODE = re.compile(r":[a-z0-9_+'-]{1,64}:", re.IGNORECASE)
emoji_names = st.lists(st.sampled_from([":white_check_mark:", ":x:", ":skin-tone-2:", ":+1:", "::", ":", "ok", " "]),
                       min_size=1, max_size=5).map("".join)


@given(emoji_names, st.lists(emoji_names, min_size=4, max_size=4), st.sampled_from(["summary", "steps", "errors"]),
       st.booleans())
def test_a_name_cannot_fake_a_status_marker_with_an_emoji_code(workflow, steps, view, compact):
    data = copy.deepcopy(load_example("failed-with-steps.json"))
    data["workflowName"] = workflow
    for step, name in zip(data["steps"], steps, strict=False):
        step["name"] = name
    message = render_execution_card(parse_execution({"data": data}), CardState(EID, view, compact=compact),
                                    fetched_at=NOW).payload()
    for text in strings(message["blocks"], mrkdwn_only=True):  # (error texts keep their colons: ARNs)
        assert not {":white_check_mark:", ":x:", ":skin-tone-2:", ":+1:"} & set(EMOJI_CODE.findall(text)), text
    assert all(b["text"].get("emoji") is False for b in message["blocks"] if b["type"] == "header")
