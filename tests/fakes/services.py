"""In-process stand-ins for the collaborators of the Slack layer's Answers, for unit tests that build
one by injection (nothing of the object under test is overwritten)."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.links import LinkMatcher
from bot.policy import ALLOW, Asker, Decision, Rule
from bot.render.refusals import render_denial
from bot.slack.answers import Answers


class InlinePool:
    """Runs each job at once, on the caller's thread."""

    def submit(self, job: Any, *args: Any) -> bool:
        job(*args)
        return True


class RecordingFollower:
    """Records what would be delivered, and follows nothing."""

    def __init__(self) -> None:
        self.delivered: list[dict[str, Any]] = []

    def deliver(self, state: Any, destination: Any, **options: Any) -> bool:
        self.delivered.append({"state": state, "destination": destination, **options})
        return True

    def find(self, key: str) -> None:
        return None


class Gate:
    """An access check with a fixed answer; a refusal is told through `deny_to`, as the real one does."""

    def __init__(self, decision: Decision = ALLOW) -> None:
        self.decision = decision
        self.asked: list[Asker] = []

    def allowed(self, asker: Asker, execution_ids: list[str], deny_to: Any) -> bool:
        self.asked.append(asker)
        if not self.decision.allowed:
            deny_to(render_denial(self.decision, "the app's admin"))
        return self.decision.allowed


DENY_ALL = Decision(False, Rule.USER_NOT_ALLOWED, "QFLOW_ALLOWED_USERS")


class NoLookups:
    """Cards that must not be looked up; audit lines are kept."""

    def __init__(self) -> None:
        self.audited: list[dict[str, Any]] = []

    def card(self, state: Any, **options: Any) -> Any:
        raise AssertionError(f"looked up {state.execution_id}")

    def record(self, **line: Any) -> None:
        self.audited.append(line)


class RecordingClient:
    """The Web API methods Answers may call directly, recorded."""

    def __init__(self) -> None:
        self.ephemeral: list[dict[str, Any]] = []

    def chat_postEphemeral(self, **kwargs: Any) -> dict[str, Any]:  # noqa: N802 - slack_sdk's name
        self.ephemeral.append(kwargs)
        return {"ok": True}


def answers_for(settings: Settings, *, gate: Gate | None = None, follower: RecordingFollower | None = None,
                cards: Any = None, client: Any = None, response_url: Any = None) -> Answers:
    """An Answers whose collaborators are the stand-ins above (or the ones given)."""
    extra = {"response_url": response_url} if response_url else {}
    return Answers(settings, client=client or RecordingClient(), cards=cards or NoLookups(),
                   follower=follower or RecordingFollower(), access=gate or Gate(), pool=InlinePool(),  # type: ignore[arg-type]
                   matcher=LinkMatcher(settings.qualys_link_domains), **extra)
