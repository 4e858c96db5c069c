import threading
from concurrent.futures import ThreadPoolExecutor

from bot.render import CardState
from bot.slack.follow import Follows

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


class Dest:
    def __init__(self, key):
        self.key = key
        self.updates_left = 5

    def send(self, message):
        return True


def test_ticks_until_the_tick_says_stop_then_forgets_the_card():
    pool = ThreadPoolExecutor(2)
    calls = []
    finished = threading.Event()

    def tick(follow):
        calls.append(follow.state.execution_id)
        if len(calls) == 3:
            finished.set()
            return False
        return True

    follows = Follows(tick, pool.submit, interval=0.01)
    assert follows.add(CardState(EID), Dest("k1"), seconds=60) is not None
    assert finished.wait(10)
    pool.shutdown(wait=True)
    follows.stop()
    assert calls == [EID] * 3 and len(follows) == 0 and follows.find("k1") is None


def test_a_newer_card_of_the_same_message_replaces_the_older():
    follows = Follows(lambda f: True, lambda job: None, interval=3600)
    first = follows.add(CardState(EID), Dest("same"), 60)
    second = follows.add(CardState(EID, "steps"), Dest("same"), 60)
    assert first.done and follows.find("same") is second and len(follows) == 1
    follows.stop()


def test_stop_ends_everything_and_refuses_new_follows():
    started = []
    follows = Follows(lambda f: started.append(f) or True, lambda job: job(), interval=3600)
    follows.add(CardState(EID), Dest("a"), 60)
    follows.stop()
    assert follows.add(CardState(EID), Dest("b"), 60) is None
    assert len(follows) == 0 and started == []


def test_the_number_followed_at_once_is_capped():
    follows = Follows(lambda f: True, lambda job: None, interval=3600, most=2)
    assert follows.add(CardState(EID), Dest("1"), 60) and follows.add(CardState(EID), Dest("2"), 60)
    assert follows.add(CardState(EID), Dest("3"), 60) is None
    follows.stop()
