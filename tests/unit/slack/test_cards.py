import logging

from bot.config import load_settings
from bot.policy import ALLOW
from bot.slack.cards import CardService
from bot.slack.destinations import _LogOnce

ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "QUALYS_PLATFORM": "US1", "QUALYS_TOKEN": "a.b.c"}
A = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
B = "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"


class AllowAll:
    def check(self, asker):
        return ALLOW


def service(**env):
    cards = CardService(load_settings({**ENV, **env}), lookups=None, client=object())  # type: ignore[arg-type]
    cards.access = AllowAll()  # type: ignore[assignment]  # tests/unit/test_policy.py covers the policy
    jobs = []
    cards._submit = lambda job, *args: job(*args)  # run inline...
    cards.deliver = lambda *args: jobs.append(args[:4])  # ...up to the delivery, recorded instead
    return cards, jobs


def event(urls, source="conversations_history"):
    return {"channel": "C1", "message_ts": "1.2", "source": source, "unfurl_id": "U1",
            "links": [{"url": u} for u in urls]}


def test_unfurl_takes_qualys_execution_links_once_each_up_to_the_bound():
    cards, jobs = service(QFLOW_MAX_CARDS="2")
    first, same, other = (f"https://qualysguard.qualys.com/e/{A}", f"https://qualysguard.qualys.com/e/{A}",
                          f"https://qualysguard.qualys.eu/e/{B}")
    cards.answer_unfurl(event([first, same, "https://evil.example/e/" + A, other, f"https://qualysguard.qualys.com/e/{A}?x"]))
    assert [(state.execution_id, dest.url) for state, dest, *_ in jobs] == [(A, first), (B, other)]
    assert all(state.compact and not state.private for state, *_ in jobs)
    assert all(follow is True for *_, follow in jobs)
    cards.shutdown()


def test_composer_previews_are_skipped_and_only_audited():
    cards, jobs = service()
    audited = []
    cards.audit.record = lambda **line: audited.append(line)  # type: ignore[method-assign]
    cards.allowed = lambda *args: (_ for _ in ()).throw(AssertionError("checked a composer preview"))  # type: ignore[method-assign]
    for channel, source in (("COMPOSER", "composer"), ("COMPOSER", None), ("C1", "composer")):
        cards.answer_unfurl({**event([f"https://qualysguard.qualys.com/e/{A}"], source=source or ""),
                             "channel": channel})
    assert jobs == [] and [a["outcome"] for a in audited] == ["preview_skipped"] * 3
    cards.shutdown()


def test_refusals_are_logged_once_per_place_and_reason(caplog):
    once = _LogOnce()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            once("C1", "not_in_channel", "post a card")
        once("C2", "not_in_channel", "post a card")
        once("C1", "is_archived", "post a card")
    assert len(caplog.records) == 3
