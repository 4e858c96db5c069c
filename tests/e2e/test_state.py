"""State that outlives the process: the real app with its SQLite file across a restart, two replicas
sharing a real Redis, and Redis stopped under a running app."""

from __future__ import annotations

import json
import os
import socket
from urllib.parse import urlsplit

import pytest
import redis as redis_client

from tests.e2e.harness import app_env, link_shared, run_app, wait_until
from tests.fakes.slack import FakeSlack
from tests.fakes.world import fakes, new_execution

QUALYS_LINK = "https://qualysguard.qualys.com/qflow/#/executions/{}"


def unfurls(slack: FakeSlack, channel: str) -> list[dict]:
    return [r.data for r in slack.api_calls("chat.unfurl") if r.data.get("channel") == channel]


def mention_posts(slack: FakeSlack, channel: str) -> list[dict]:
    return [r.data for r in slack.api_calls("chat.postMessage") if r.data.get("channel") == channel]




def test_an_event_redelivered_after_a_restart_is_not_answered_again(tmp_path):
    with fakes() as (slack, qualys):
        execution = new_execution(qualys)
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_STATE_FILE=str(tmp_path / "s.sqlite3"))
        event = {"type": "app_mention", "user": "U0ASKER", "channel": "C0RESTART", "ts": "1700000900.1",
                 "text": f"<@U0BOT> {execution}"}
        with run_app(env) as first:
            first.event(event, "EvRESTART1")
            slack.wait_for(lambda reqs: mention_posts(slack, "C0RESTART") or None)
            assert first.stop() == 0
        with run_app(env) as second:  # the same file: Slack's retry reaches the restarted app
            assert second.event(event, "EvRESTART1", retry_num=1).status_code == 200
            second.wait_for_log("dropping a redelivered event EvRESTART1")
            assert second.stop() == 0
        assert len(mention_posts(slack, "C0RESTART")) == 1


def test_a_corrupt_state_file_stops_the_app_at_start_naming_it(tmp_path):
    with fakes() as (slack, qualys):
        path = tmp_path / "state.sqlite3"
        path.write_bytes(b"not a database at all\n" * 100)
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_STATE_FILE=str(path))
        with run_app(env, wait_for=None) as app:
            assert app.process.wait(timeout=30) == 2
            app.wait_for_log("QFLOW_STATE_FILE")
        assert str(path) in app.log_text and "Traceback" not in app.log_text
        assert path.read_bytes() == b"not a database at all\n" * 100


def test_a_corrupt_state_file_stops_several_workers_too_said_once_before_any_starts(tmp_path):
    """With WEB_CONCURRENCY, what would stop every worker is checked once before gunicorn starts any: the
    same words and exit code as one process (before: each worker said it as it failed to boot, and when
    two failed at once gunicorn itself crashed with exit 1)."""
    with fakes() as (slack, qualys):
        path = tmp_path / "state.sqlite3"
        path.write_bytes(b"not a database at all\n" * 100)
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_STATE_FILE=str(path),
                      WEB_CONCURRENCY="2")
        with run_app(env, wait_for=None) as app:
            assert app.process.wait(timeout=30) == 2
        assert app.log_text.count(str(path)) == 1 and "Booting worker" not in app.log_text
        assert "Traceback" not in app.log_text


def test_a_worker_that_cannot_start_exits_with_gunicorn_s_boot_error(monkeypatch):
    """What fails only in a worker (after the check before start) halts gunicorn, where any other exit
    code has it start the worker again, and again."""
    import bot.__main__ as main
    from bot import wsgi

    monkeypatch.setattr(main, "load_for_serving", lambda mode: object())
    monkeypatch.setattr(main, "build_for_serving", lambda settings: 2)
    with pytest.raises(SystemExit) as stopped:
        wsgi.create_app()
    assert stopped.value.code == wsgi.WORKER_BOOT_ERROR == 3


def test_two_replicas_sharing_redis_answer_a_retried_event_once(redis_server):
    redis_server.flush()
    with fakes() as (slack, qualys):
        execution = new_execution(qualys)
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), REDIS_URL=redis_server.url)
        event = link_shared("C0TWO", "1700000950.000001", QUALYS_LINK.format(execution))
        with run_app(env) as one, run_app(env) as two:
            assert one.event(event, "EvTWO1").status_code == 200
            slack.wait_for(lambda reqs: unfurls(slack, "C0TWO") or None)
            assert two.event(event, "EvTWO1", retry_num=1).status_code == 200  # Slack retried; the other replica got it
            two.wait_for_log("dropping a redelivered event EvTWO1")
            health = json.loads(two.http.get(two.url + "/healthz").text)
            assert health == {"status": "ok", "state": "redis", "degraded": False}
            assert one.stop() == 0 and two.stop() == 0
        assert len(unfurls(slack, "C0TWO")) == 1


def test_with_redis_stopped_every_lookup_is_still_answered_and_redis_is_used_again_when_back(redis_server):
    redis_server.flush()
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), REDIS_URL=redis_server.url)
        with run_app(env) as app:
            def lookup() -> dict:
                url = slack.new_response_url()
                assert app.command(f"execution {new_execution(qualys)}", url).status_code == 200
                [answer] = slack.wait_for_responses(url)
                return answer.data

            assert lookup()["blocks"][0]["type"] == "header"
            redis_server.stop()
            try:
                for _ in range(3):
                    assert lookup()["blocks"][0]["type"] == "header"
                health = app.http.get(app.url + "/healthz")
                assert health.status_code == 200 and health.json()["degraded"] is True
                assert 'qflow_state_degraded{backend="redis"} 1.0' in app.http.get(app.url + "/metrics").text
            finally:
                redis_server.start()
            # Tried again within 5 s of the last failure: wait (bounded) until a request finds it back.
            def back() -> bool:
                lookup()
                return app.http.get(app.url + "/healthz").json()["degraded"] is False
            wait_until(back, "the app never went back to Redis", timeout=20)
            assert app.stop() == 0
        assert app.log_text.count("state store failed") == 1, app.log_text
        assert "answers again" in app.log_text and "Traceback" not in app.log_text


def test_doctor_checks_the_state_store(tmp_path, redis_server):
    from tests.e2e.test_cli import run

    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_STATE_FILE=str(tmp_path / "s.sqlite3"))
        assert f"✓ state: SQLite file {tmp_path / 's.sqlite3'}" in run(["doctor"], env).stdout
        (tmp_path / "bad.sqlite3").write_bytes(b"junk" * 500)
        bad = run(["doctor"], {**env, "QFLOW_STATE_FILE": str(tmp_path / "bad.sqlite3")})
        assert bad.returncode == 1 and "✗ state: The state file" in bad.stdout and "bad.sqlite3" in bad.stdout
        redis = {**env, "REDIS_URL": redis_server.url.replace("127.0.0.1", ":s3cretpass@127.0.0.1")}
        ok = run(["doctor"], redis)
        assert f"✓ state: Redis at 127.0.0.1:{redis_server.port} answers" in ok.stdout
        down = run(["doctor"], {**redis, "REDIS_URL": f"redis://127.0.0.1:{redis_server.port + 1}/0"})
        assert down.returncode == 1 and "does not answer" in down.stdout
        admin = redis_client.Redis.from_url(redis_server.url)
        admin.execute_command("ACL", "SETUSER", "nosorted", "on", ">s3cretpass", "~*", "&*", "+@all", "-@sortedset")
        try:  # answers, but an ACL refuses the sorted sets the app's scripts use
            refused = run(["doctor"], {**redis, "REDIS_URL": redis_server.url.replace("redis://",
                                                                                     "redis://nosorted:s3cretpass@")})
        finally:
            admin.execute_command("ACL", "DELUSER", "nosorted")
            admin.close()
        assert refused.returncode == 1 and "refuses a command the app needs" in refused.stdout, refused.stdout
        assert "s3cretpass" not in ok.stdout + down.stdout + refused.stdout


def execution_calls_by(qualys, execution: str, token: str) -> int:
    return len([r for r in qualys.execution_calls(execution) if r.headers.get("authorization") == f"Bearer {token}"])


def test_a_followed_card_resumes_after_a_restart_and_shows_the_final_state_once(tmp_path):
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_STATE_FILE=str(tmp_path / "s.sqlite3"),
                      QFLOW_REFRESH_SECONDS="0.2")
        execution = new_execution(qualys, "running.json")
        url = slack.new_response_url()
        with run_app(env) as first:
            first.command(f"execution {execution}", url)
            [card] = slack.wait_for_responses(url)
            assert "Following this run" in json.dumps(card.data)
            assert first.stop() == 0  # a deploy: the card is still being followed
        qualys.executions[execution].update(status="Failed", error="Boom", endDate=1746007633052)  # meanwhile
        with run_app(env) as second:
            final = slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("response_url") == url
                                                 and "❌" in json.dumps(r.data, ensure_ascii=False)] or None)
            assert final[0].data["replace_original"] is True and "Following" not in json.dumps(final[0].data)
            wait_until(lambda: second.http.get(second.url + "/metrics").text.count("qflow_followed_cards 0.0") == 1,
                       "the finished card was never let go")
            assert second.stop() == 0
        assert len(slack.responses(url)) == 2  # the card, and its final state once


def test_two_replicas_one_refreshes_a_card_and_the_other_takes_over_when_it_dies(redis_server):
    redis_server.flush()
    with fakes() as (slack, qualys):
        token_one, token_two = qualys.issue_token(), qualys.issue_token()
        # A lease lapses after 2 intervals without a refresh: 0.5 s gives a loaded machine 1 s to refresh in.
        env = app_env(slack, qualys, REDIS_URL=redis_server.url, QFLOW_REFRESH_SECONDS="0.5",
                      QFLOW_CACHE_RUNNING_SECONDS="0.1")
        execution = new_execution(qualys, "running.json")
        link = QUALYS_LINK.format(execution)
        with run_app({**env, "QUALYS_TOKEN": token_one}) as one, run_app({**env, "QUALYS_TOKEN": token_two}) as two:
            one.event(link_shared("C0FOLLOW2", "1700000960.000001", link), "EvFOLLOW2")
            slack.wait_for(lambda reqs: unfurls(slack, "C0FOLLOW2") or None)
            wait_until(lambda: execution_calls_by(qualys, execution, token_one) >= 3, "replica one never refreshed")
            assert execution_calls_by(qualys, execution, token_two) == 0  # the lease keeps replica two out
            # It dies in the middle of a fetch, without giving back the card's lease or the fetch's.
            held = qualys.held
            qualys.gate.clear()
            wait_until(lambda: qualys.held > held, "replica one never fetched again")
            one.process.kill()
            one.process.wait()
            qualys.gate.set()
            wait_until(lambda: execution_calls_by(qualys, execution, token_two) >= 1, "replica two never took over")
            qualys.executions[execution].update(status="Success", endDate=1746007633052)
            slack.wait_for(lambda reqs: [u for u in unfurls(slack, "C0FOLLOW2") if "✅" in json.dumps(u, ensure_ascii=False)]
                           or None)
            assert two.stop() == 0
        finals = [u for u in unfurls(slack, "C0FOLLOW2") if "✅" in json.dumps(u, ensure_ascii=False)]
        assert len(finals) == 1


def test_a_429_is_honoured_by_the_other_replica_too(redis_server):
    from tests.fakes._server import Reply
    from tests.fakes.qualys import error_body

    redis_server.flush()
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), REDIS_URL=redis_server.url)
        with run_app(env) as one, run_app(env) as two:
            first, second = new_execution(qualys), new_execution(qualys)
            qualys.fail_next(f"/qflowapi/v1/executions/{first}", Reply(
                429, error_body(429, "Too Many Requests", "slow down"),
                headers={"Retry-After": "120", "X-RateLimit-ToWait-Sec": "120", "X-RateLimit-Remaining": "0"}))
            url = slack.new_response_url()
            one.command(f"execution {first}", url)
            [answer] = slack.wait_for_responses(url)
            assert "rate limit" in json.dumps(answer.data).lower()
            url = slack.new_response_url()
            two.command(f"execution {second}", url)  # the other replica: it waits the 429 out too
            [answer] = slack.wait_for_responses(url)
            assert "rate limit" in json.dumps(answer.data).lower() and qualys.execution_calls(second) == []
            assert one.stop() == 0 and two.stop() == 0


def test_background_refreshes_pause_at_the_reserve_and_people_are_still_answered(tmp_path):
    with fakes() as (slack, qualys):
        qualys.rate_limit = 10  # a reserve of 20 %: two calls
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_SECONDS="0.1",
                      QFLOW_CACHE_RUNNING_SECONDS="0.05")
        with run_app(env) as app:
            running = new_execution(qualys, "running.json")
            url = slack.new_response_url()
            app.command(f"execution {running}", url)
            slack.wait_for_responses(url)
            app.wait_for_log("pausing background refreshes")
            paused_at = len(qualys.execution_calls(running))
            person = slack.new_response_url()
            app.command(f"execution {new_execution(qualys)}", person)  # a person's lookup still gets Qualys
            [answer] = slack.wait_for_responses(person)
            assert answer.data["blocks"][0]["type"] == "header"
            assert len(qualys.execution_calls(running)) == paused_at
            qualys.rate_limit = 10_000  # a new window
            qualys.executions[running].update(status="Success", endDate=1746007633052)
            app.command(f"execution {new_execution(qualys)}", slack.new_response_url())  # brings fresh figures
            app.wait_for_log("allows background refreshes again")
            slack.wait_for(lambda reqs: [r for r in reqs if r.meta.get("response_url") == url
                                         and "✅" in json.dumps(r.data, ensure_ascii=False)] or None)
            assert app.stop() == 0


def test_two_replicas_sharing_redis_make_one_qualys_call_per_execution(redis_server):
    redis_server.flush()
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), REDIS_URL=redis_server.url)
        executions = [new_execution(qualys) for _ in range(5)]
        with run_app(env) as one, run_app(env) as two:
            urls = []
            for round_ in range(4):  # each execution asked four times, alternating replicas
                for n, execution in enumerate(executions):
                    url = slack.new_response_url()
                    (one if (n + round_) % 2 else two).command(f"execution {execution}", url)
                    urls.append(url)
            for url in urls:
                [answer] = slack.wait_for_responses(url)
                assert answer.data["blocks"][0]["type"] == "header"
            assert one.stop() == 0 and two.stop() == 0
        assert [len(qualys.execution_calls(e)) for e in executions] == [1] * 5


@pytest.mark.parametrize("shared", ["redis", "sqlite"])
def test_several_worker_processes_share_the_state(redis_server, shared):
    """Redis, or on one host the SQLite file: one Qualys call and one unfurl whichever worker answers."""
    redis_server.flush()
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), WEB_CONCURRENCY="3",
                      **({"REDIS_URL": redis_server.url} if shared == "redis" else {}))
        execution = new_execution(qualys)
        with run_app(env) as app:
            assert "(3 worker processes)" in app.log_text
            app.wait_for_log("takes requests", times=3)  # each worker says when it serves
            # More half-sent bodies than the workers have threads: they hold none (bot/slack/httpd.py)
            host, port = urlsplit(app.url).hostname, urlsplit(app.url).port
            stalled = [socket.create_connection((host, port), timeout=10) for _ in range(40)]
            for sock in stalled:
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\npayload=")
            urls = [slack.new_response_url() for _ in range(9)]
            for url in urls:
                assert app.command(f"execution {execution}", url).status_code == 200
            for url in urls:
                [answer] = slack.wait_for_responses(url)
                assert answer.data["blocks"][0]["type"] == "header"
            event = link_shared("C0WORKERS", "1700000970.000001", QUALYS_LINK.format(execution))
            for attempt in range(4):  # Slack's retries land on any worker
                assert app.event(event, "EvWORKERS1", retry_num=attempt or None).status_code == 200
            slack.wait_for(lambda reqs: unfurls(slack, "C0WORKERS") or None)
            master = os.sched_getaffinity(app.process.pid) if hasattr(os, "sched_getaffinity") else None
            for sock in stalled:
                sock.close()
            assert app.stop() == 0
        assert len(qualys.execution_calls(execution)) == 1 and len(unfurls(slack, "C0WORKERS")) == 1
        assert "Traceback" not in app.log_text
        pids = {line.split("pid: ")[1].rstrip(")") for line in app.log if "Booting worker with pid" in line}
        assert len(pids) == 3
        assert {line.rsplit("worker process ", 1)[1].split()[0] for line in app.log if "takes requests" in line} == pids
        if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2:
            # Each worker's interpreter keeps to one CPU (QFLOW_INTERPRETER_CPU=auto), the workers in turn
            kept = [int(line.rsplit("on CPU ", 1)[1].split()[0]) for line in app.log if "threads run on CPU" in line]
            assert len(kept) == 3 and set(kept) == set(sorted(os.sched_getaffinity(0))[:3])
            assert master == os.sched_getaffinity(0)  # gunicorn's own process is left free


def test_mention_cards_are_followed_and_a_card_promises_following_only_with_a_slot():
    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), QFLOW_REFRESH_SECONDS="0.2")
        with run_app(env) as app:
            running = new_execution(qualys, "running.json")
            app.event({"type": "app_mention", "user": "U0ASKER", "channel": "C0MENTIONF", "ts": "1700000980.1",
                       "text": f"<@U0BOT> {running}"}, "EvMENTIONF")
            [posted] = slack.wait_for(lambda reqs: mention_posts(slack, "C0MENTIONF") or None)
            assert "Following this run" in json.dumps(posted)
            qualys.executions[running].update(status="Success", endDate=1746007633052)
            [final] = slack.wait_for(lambda reqs: [r.data for r in reqs if r.meta.get("api") == "chat.update"
                                                   and r.data.get("channel") == "C0MENTIONF"] or None)
            assert "✅" in json.dumps(final, ensure_ascii=False) and "Following" not in json.dumps(final)
            # Its slot is given back just after its final card went: the ten below must not race that.
            wait_until(lambda: app.http.get(app.url + "/metrics").text.count("qflow_followed_cards 0.0") == 1,
                       "the finished card was never let go")

            # One person fills their ten slots; the eleventh card does not promise what will not happen.
            urls = []
            for _ in range(11):
                url = slack.new_response_url()
                app.command(f"execution {new_execution(qualys, 'running.json')}", url)
                urls.append(url)
            following = ["Following this run" in json.dumps(slack.wait_for_responses(url)[0].data) for url in urls]
            assert following.count(True) == 10 and following.count(False) == 1
            assert app.stop() == 0


def test_the_app_starts_and_answers_with_redis_down_from_the_start():
    from tests.redis_server import free_port

    with fakes() as (slack, qualys):
        env = app_env(slack, qualys, QUALYS_TOKEN=qualys.issue_token(), REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
        with run_app(env) as app:
            url = slack.new_response_url()
            app.command(f"execution {new_execution(qualys)}", url)
            [answer] = slack.wait_for_responses(url)
            assert answer.data["blocks"][0]["type"] == "header"
            health = app.http.get(app.url + "/healthz")
            assert health.status_code == 200 and health.json() == {"status": "ok", "state": "redis", "degraded": True}
            assert app.stop() == 0
        assert app.log_text.count("state store failed") == 1 and "Traceback" not in app.log_text
