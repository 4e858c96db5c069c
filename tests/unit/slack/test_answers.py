import logging

from bot.config import load_settings
from bot.slack.destinations import _LogOnce
from tests.fakes.services import NoLookups, RecordingFollower, answers_for

ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "QUALYS_PLATFORM": "US1", "QUALYS_TOKEN": "a.b.c"}
A = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
B = "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"


def event(urls, source="conversations_history"):
    return {"channel": "C1", "message_ts": "1.2", "source": source, "unfurl_id": "U1",
            "links": [{"url": u} for u in urls]}


def test_unfurl_takes_qualys_execution_links_once_each_up_to_the_bound():
    follower = RecordingFollower()
    answers = answers_for(load_settings({**ENV, "QFLOW_MAX_CARDS": "2"}), follower=follower)
    first, same, other = (f"https://qualysguard.qualys.com/e/{A}", f"https://qualysguard.qualys.com/e/{A}",
                          f"https://qualysguard.qualys.eu/e/{B}")
    answers.answer_unfurl(event([first, same, "https://evil.example/e/" + A, other,
                                 f"https://qualysguard.qualys.com/e/{A}?x"]))
    delivered = follower.delivered
    assert [(d["state"].execution_id, d["destination"].url) for d in delivered] == [(A, first), (B, other)]
    assert all(d["state"].compact and not d["state"].private for d in delivered)
    assert all(d["follow"] is True for d in delivered)


def test_composer_previews_are_skipped_and_only_audited():
    follower, cards = RecordingFollower(), NoLookups()
    answers = answers_for(load_settings(ENV), follower=follower, cards=cards)
    for channel, source in (("COMPOSER", "composer"), ("COMPOSER", None), ("C1", "composer")):
        answers.answer_unfurl({**event([f"https://qualysguard.qualys.com/e/{A}"], source=source or ""),
                               "channel": channel})
    assert follower.delivered == [] and [a["outcome"] for a in cards.audited] == ["preview_skipped"] * 3


def test_refusals_are_logged_once_per_place_and_reason(caplog):
    once = _LogOnce()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            once("C1", "not_in_channel", "post a card")
        once("C2", "not_in_channel", "post a card")
        once("C1", "is_archived", "post a card")
    assert len(caplog.records) == 3
