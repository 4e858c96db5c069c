"""`/qflow subscribe`: a card per new failed run, exactly once, across restarts and replicas; no backfill;
the poll interval stretched to fit the rate budget."""

from __future__ import annotations

import math
import time

from tests.e2e.harness import app_env, run_app, wait_until
from tests.e2e.harness import slash as _slash
from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack
from tests.fakes.world import WORKFLOW_ID, execution_data, fakes
from tests.slack_checks import all_text


def slash(app, slack, text, channel, user="U0SUB"):
    return _slash(app, slack, text, channel, user)


def cards_in(slack: FakeSlack, channel: str) -> list[str]:
    """The execution ids of the cards posted in `channel` (one entry per post)."""
    return [r.data["blocks"][-1]["elements"][0]["text"].split("`")[1] for r in slack.api_calls("chat.postMessage")
            if r.data.get("channel") == channel and r.data.get("blocks")]


def lists(qualys: FakeQualys) -> int:
    return len(qualys.calls(f"/workflows/{WORKFLOW_ID}/executions"))




def run_data(status: str, *, minutes_ago: float = 0.0) -> dict:
    started = math.ceil((time.time() - minutes_ago * 60) * 1000)  # now: not floored to before the subscription
    example = "failed-with-steps.json" if status == "Failed" else "sample-response.json"
    return execution_data(example, status=status, startDate=started, endDate=started + 5000)


def run(qualys: FakeQualys, status: str, *, minutes_ago: float = 0.0) -> str:
    return qualys.add_execution(run_data(status, minutes_ago=minutes_ago))


def test_a_subscription_posts_each_new_failure_once_across_a_restart(tmp_path):
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_SUBSCRIPTION_POLL_SECONDS="1",
                      QFLOW_STATE_FILE=str(tmp_path / "state.sqlite3"))
        old = run(qualys, "Failed", minutes_ago=60)  # before the subscription: never posted
        with run_app(env) as app:
            answer = slash(app, slack, f"subscribe {WORKFLOW_ID}", "C0SUB")
            assert "Remediate public S3 buckets" in all_text(answer) and "failed" in all_text(answer)
            failed_one, failed_two, fine = run(qualys, "Failed"), run(qualys, "Failed"), run(qualys, "Success")
            wait_until(lambda: len(cards_in(slack, "C0SUB")) >= 2, "the failures were never posted")
            polled = lists(qualys)
            wait_until(lambda: lists(qualys) >= polled + 2, "the workflow was not polled again")
            listed = all_text(slash(app, slack, "subscriptions", "C0SUB"))
            assert WORKFLOW_ID in listed and "every 1 s" in listed
            assert app.stop() == 0
        assert sorted(cards_in(slack, "C0SUB")) == sorted([failed_one, failed_two])
        with run_app(env) as again:  # restarted: it polls on, and posts nothing twice
            polled = lists(qualys)
            wait_until(lambda: lists(qualys) >= polled + 2, "the restarted app did not poll")
            assert again.stop() == 0
        assert sorted(cards_in(slack, "C0SUB")) == sorted([failed_one, failed_two])
        assert old not in cards_in(slack, "C0SUB") and fine not in cards_in(slack, "C0SUB")


def test_all_mode_two_replicas_and_unsubscribe(redis_server):
    redis_server.flush()
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_SUBSCRIPTION_POLL_SECONDS="1",
                      REDIS_URL=redis_server.url)
        with run_app(env) as one, run_app(env) as two:
            assert "each new run when it ends" in all_text(slash(one, slack, "subscribe Remediate public S3 buckets all",
                                                                 "C0SUBALL"))
            runs = [run(qualys, "Success"), run(qualys, "Failed")]
            wait_until(lambda: len(cards_in(slack, "C0SUBALL")) >= 2, "the runs were never posted")
            polled = lists(qualys)
            wait_until(lambda: lists(qualys) >= polled + 3, "the workflow was not polled again")
            assert sorted(cards_in(slack, "C0SUBALL")) == sorted(runs)  # each once, whichever replica polled
            assert "Unsubscribed" in all_text(slash(two, slack, f"unsubscribe {WORKFLOW_ID}", "C0SUBALL"))
            assert "no subscriptions" in all_text(slash(one, slack, "subscriptions", "C0SUBALL"))
            assert one.stop() == 0 and two.stop() == 0


def test_a_small_rate_limit_stretches_the_poll_interval():
    with fakes() as (slack, qualys):
        qualys.rate_limit = 300  # per hour, the docs' example: 240 calls for background work
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_SUBSCRIPTION_POLL_SECONDS="1")
        with run_app(env) as app:
            slash(app, slack, f"subscribe {WORKFLOW_ID}", "C0SUBSLOW")
            listed = all_text(slash(app, slack, "subscriptions", "C0SUBSLOW"))
            assert "every 15 s" in listed and "the Qualys rate budget allows no more" in listed
            assert app.stop() == 0


def test_an_unknown_workflow_name_is_refused_clearly():
    with fakes() as (slack, qualys), run_app(app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token())) as app:
        assert "No workflow is named exactly" in all_text(slash(app, slack, "subscribe No such thing", "C0SUBX"))
        assert app.stop() == 0


def test_a_burst_posts_three_cards_then_one_message_listing_the_rest():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_SUBSCRIPTION_POLL_SECONDS="1")
        with run_app(env) as app:
            slash(app, slack, f"subscribe {WORKFLOW_ID}", "C0BURST")
            polled = lists(qualys)
            runs = qualys.add_executions([run_data("Failed") for _ in range(6)])  # one poll sees all six
            wait_until(lambda: lists(qualys) >= polled + 2, "the workflow was not polled")
            wait_until(lambda: len([r for r in slack.api_calls("chat.postMessage")
                                    if r.data.get("channel") == "C0BURST"]) >= 4, "the burst was not posted")
            assert app.stop() == 0
        posted = [r.data for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == "C0BURST"]
        assert len(posted) == 4 and [p["blocks"][0]["type"] for p in posted] == ["header"] * 3 + ["section"]
        summary = all_text(posted[-1])
        assert "3 more runs" in summary and sum(run_id in summary for run_id in runs) == 3


def test_subscribing_follows_the_access_policy():
    with fakes() as (slack, qualys), run_app(app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(),
                                                     QFLOW_DENIED_CHANNELS="C0SUBDENIED")) as app:
        slack.channels["C0SUBCONNECT"] = {"is_ext_shared": True}
        assert "QFLOW_ALLOW_SHARED_CHANNELS" in all_text(slash(app, slack, f"subscribe {WORKFLOW_ID}", "C0SUBCONNECT"))
        assert "QFLOW_DENIED_CHANNELS" in all_text(slash(app, slack, f"subscribe {WORKFLOW_ID}", "C0SUBDENIED"))
        assert "no subscriptions" in all_text(slash(app, slack, "subscriptions", "C0SUBCONNECT"))
        assert app.stop() == 0
