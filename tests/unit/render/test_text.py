from datetime import UTC, datetime

import pytest

from bot.render.text import code, date_token, escape, format_duration, joined, safe, short_id


def test_escape_entities_and_neutralise_formatting():
    assert escape("<!channel> & <@U1> *b* _i_ ~s~ `c` snake_case") == \
        "&lt;!channel&gt; &amp; &lt;@U1&gt; ∗b∗ ˍiˍ ∼s∼ ʼcʼ snake_case"
    assert escape("*b* _i_", formatting=False) == "*b* _i_"  # inside a code span nothing is formatted


def test_invisible_reordering_and_zero_width_characters_are_removed():
    assert escape("pay\u202egnp.exe \u2066x\u2069 a\u200bb\ufeff\u00ad") == "paygnp.exe x ab"


@pytest.mark.parametrize("limit", range(1, 30))
def test_safe_never_splits_an_entity_and_keeps_the_limit(limit):
    out = safe("&&&<<<>>> tail", limit)
    assert len(out) <= limit
    body = out.rstrip("…")
    assert body.count("&") == body.count(";")  # every & starts a whole entity


def test_code_cannot_be_closed_early():
    assert code("a`b") == "`aʼb`"


def test_joined_counts_what_did_not_fit():
    assert joined(["a", "b"], 100) == "a · b"
    out = joined([f"item{i}" for i in range(100)], 40)
    assert out.endswith("more") and len(out) <= 40
    assert joined(["a"], 100, unseen=5) == "a · +5 more"
    hidden = int(out.rsplit("+", 1)[1].split()[0])
    assert hidden + out.count(" · ") == 100


@pytest.mark.parametrize("seconds,text", [(None, "—"), (-1, "—"), (0.42, "0.4 s"), (12.06, "12.1 s"),
                                          (71.011, "1m 11s"), (3725, "1h 02m"), (90061, "1d 1h")])
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_date_token_has_a_readable_utc_fallback():
    moment = datetime(2025, 4, 30, 10, 6, 2, tzinfo=UTC)
    assert date_token(moment) == "<!date^1746007562^{date_short_pretty} {time}|2025-04-30 10:06 UTC>"
    assert date_token(moment, seconds=True).endswith("{time_secs}|2025-04-30 10:06:02 UTC>")


def test_short_ids():
    assert short_id("0e71f117-648f-4ad2-a3a9-8f1b857a1b70") == "…857a1b70"
    assert short_id("us-east-1") == "us-east-1"
