"""The incident-storm benchmark's rival apps (benchmarks/storm_apps) do what BENCHMARKS.md says they do: the
floor acknowledges, the naive app fetches per request, the lean apps (threads, asyncio) answer every request
with our real card and fetch each execution once. A rival that answered nothing would be compared as fast."""

from __future__ import annotations

import pytest

from benchmarks.storm import start, storm, world
from tests.e2e.harness import app_env

REQUESTS, IN_FLIGHT, EXECUTIONS = 12, 3, 3


@pytest.mark.parametrize("name", ["floor", "naive", "threads", "async"])
def test_rival_app_answers_the_storm(name: str) -> None:
    with world(0.0, EXECUTIONS, 1) as (slack, qualys, ids):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_TIMEOUT_SECONDS="30")
        with start(name, env, None) as app:  # type: ignore[arg-type]  # no Redis: only ours-2 uses it
            figures = storm(app, slack, qualys, REQUESTS, IN_FLIGHT, ids, answers=name != "floor")
        answers = [r for r in slack.requests if r.meta.get("answered")
                   and (r.meta.get("response_url") or r.meta.get("api") == "chat.unfurl")]
    # Every request acknowledged with a 200 (how fast is the benchmark's business, not this test's).
    assert figures["unacknowledged"] == 0 and figures["refused"] == 0, (figures, app.log_text)
    if name == "floor":
        assert figures["qualys"] == 0 and answers == []
        return
    assert figures["lost"] == 0
    assert figures["qualys"] == (REQUESTS if name == "naive" else EXECUTIONS)
    if name != "naive":  # the real card: its buttons, its fallback naming the execution, the steps shown to the clicks
        cards = [r.data for r in answers if r.meta.get("response_url")]
        unfurls = [r.data["unfurls"] for r in answers if r.meta.get("api") == "chat.unfurl"]
        assert len(cards) == 2 * REQUESTS // 3 and len(unfurls) == REQUESTS // 3
        assert all(any(e in card["text"] for e in ids) and "'button'" in str(card["blocks"]) for card in cards)
        assert sum("*Steps* ·" in str(card["blocks"]) for card in cards) == REQUESTS // 3  # the clicks' view
        assert all(len(unfurl) == 1 and "'button'" in str(unfurl) for unfurl in unfurls)
