"""A Web API client that tells the metrics of every call Slack refused or that never reached Slack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from .keepalive import KeptAliveWebClient

ErrorCounter = Callable[[str, str], None]  # (method, error code)


def slack_error_code(error: SlackApiError) -> str:
    """Slack's error code ("channel_not_found"…), or the HTTP status when the answer had none."""
    response = error.response
    code = response.get("error") if isinstance(response.data, dict) else None
    return code if isinstance(code, str) else f"http_{response.status_code}"


class CountedWebClient(KeptAliveWebClient):
    """slack_sdk's WebClient (on kept-alive connections); each failed call is counted by method and error before it is raised."""

    def __init__(self, *args: Any, on_error: ErrorCounter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_error = on_error

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            self._on_error(api_method, slack_error_code(error))
            raise
        except Exception:
            self._on_error(api_method, "unreachable")
            raise
