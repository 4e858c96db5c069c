"""Each request acted on once: this process's memory on the ack path, the state store before the work."""

from __future__ import annotations

import contextvars

from bot.slack.once import Claim, SeenHere, gated, pend, request_scope
from bot.state import MemoryStore


def test_seen_here_says_first_once_per_key_until_its_time_is_up():
    now = [1000.0]
    seen = SeenHere(most=3, timer=lambda: now[0])
    assert seen.first("event:Ev1", 3600) and not seen.first("event:Ev1", 3600)
    assert seen.first("signature:1:v0=a", 600) and not seen.first("signature:1:v0=a", 600)
    now[0] += 601
    assert seen.first("signature:1:v0=a", 600) and not seen.first("event:Ev1", 3600)
    for n in range(10):  # bounded: the oldest are forgotten here (the store still refuses them)
        seen.first(f"event:Flood{n}", 3600)
    assert seen.first("event:Ev1", 3600)


def test_a_request_s_claim_is_made_once_for_all_its_jobs_and_refused_to_a_second_request():
    store, refusals = MemoryStore(), []
    first = Claim(store, "event:Ev1", 3600, lambda: refusals.append("first"))
    assert first.granted() and first.granted()  # the second job of the same request goes on
    again = Claim(store, "event:Ev1", 3600, lambda: refusals.append("again"))
    assert not again.granted() and not again.granted()
    assert refusals == ["again"]  # told once


def submitted_in_a_request(store: MemoryStore, key: str, job) -> tuple[contextvars.Context, object]:
    """`job` as a request's listener submits it (gated), and the context the pool runs it in."""
    with request_scope():
        pend(Claim(store, key, 60, lambda: None))
        return contextvars.copy_context(), gated(job)


def test_work_runs_only_for_the_request_that_holds_the_claim():
    store, ran = MemoryStore(), []
    plain = lambda: ran.append("outside")  # noqa: E731
    assert gated(plain) is plain  # submitted outside any request: not gated
    first = submitted_in_a_request(store, "signature:1:v0=a", lambda: ran.append("first"))
    again = submitted_in_a_request(store, "signature:1:v0=a", lambda: ran.append("again"))  # at another replica
    for context, job in (again, first):  # whichever runs first holds the claim; the other never runs
        context.run(job)
    assert ran == ["again"]
    assert gated(plain) is plain  # the requests' scopes have ended: nothing is pended any more


def test_jobs_that_a_gated_job_submits_are_part_of_its_request():
    store, inner_gated = MemoryStore(), []
    inner = lambda: None  # noqa: E731
    context, job = submitted_in_a_request(store, "event:Ev2", lambda: inner_gated.append(gated(inner) is not inner))
    context.run(job)
    assert inner_gated == [False]  # the unfurl's per-link deliveries are not claimed (and refused) again
