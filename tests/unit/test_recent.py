"""Each person's recent lookups: newest first, each execution once, at most KEEP; the same lookup again
within a minute (a storm's Refresh, Show steps, the link pasted again) is not written again."""

from __future__ import annotations

from bot.recent import KEEP, SAME_SECONDS, RecentLookups
from bot.state import MemoryStore


class CountingStore(MemoryStore):
    def __init__(self, clock):
        super().__init__(clock)
        self.puts = 0

    def put(self, kind, key, value, ttl=None):
        self.puts += 1
        super().put(kind, key, value, ttl)


def test_newest_first_each_once_at_most_keep_and_repeats_within_a_minute_not_written():
    now = [1000.0]
    store = CountingStore(lambda: now[0])
    recent = RecentLookups(store, clock=lambda: now[0])
    for n in range(KEEP + 2):
        recent.add("U0A", f"e{n}", "card")
        now[0] += 1
    assert [e for e, _, _ in recent.of("U0A")] == [f"e{n}" for n in range(KEEP + 1, 1, -1)]
    puts = store.puts
    for _ in range(20):
        recent.add("U0A", f"e{KEEP + 1}", "card")
    assert store.puts == puts  # the newest already: nothing written
    recent.add("U0A", f"e{KEEP + 1}", "not_found")  # another outcome is news
    recent.add("U0A", "e0", "card")  # so is one that has left the list (written 12 s ago, 12 lookups back)
    assert store.puts == puts + 2
    assert [(e, o) for e, o, _ in recent.of("U0A")][:2] == [("e0", "card"), (f"e{KEEP + 1}", "not_found")]
    recent.add("U0A", f"e{KEEP}", "card")  # back and forth between runs written within the minute: kept as is
    assert store.puts == puts + 2
    now[0] += SAME_SECONDS
    recent.add("U0A", f"e{KEEP}", "card")  # a minute on: written again, first, with its new time
    assert store.puts == puts + 3 and recent.of("U0A")[0][:1] == (f"e{KEEP}",) and recent.of("U0A")[0][2] == now[0]
    recent.add("U0B", "e3", "card")  # another person: their own list
    assert [e for e, _, _ in recent.of("U0B")] == ["e3"]


def test_with_a_pool_a_lookup_is_written_after_the_answer_and_the_newest_stays_first():
    now = [1000.0]
    store = CountingStore(lambda: now[0])
    later: list = []
    recent = RecentLookups(store, clock=lambda: now[0], defer=later.append)
    recent.add("U0A", "e1", "card")
    now[0] += 1
    recent.add("U0A", "e2", "card")
    assert store.puts == 0 and recent.of("U0A") == []  # nothing written before the answers went
    later.pop()()  # the newer lookup's write runs first (pools do not promise an order)
    later.pop()()
    assert [e for e, _, _ in recent.of("U0A")] == ["e2", "e1"]
    stopped = RecentLookups(store, clock=lambda: now[0], defer=lambda job: False)
    stopped.add("U0A", "e3", "card")  # a pool that has stopped: written at once
    assert [e for e, _, _ in recent.of("U0A")] == ["e3", "e2", "e1"]
