"""Where a card goes, and how it is updated in place: a response_url, a channel message, an unfurl.

Slack may refuse (not in channel, archived, unfurls disabled): each refusal is logged once
per channel and reason, and reported back so the caller can tell the asker where Slack allows.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from cachetools import TTLCache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from ..render import SlackMessage
from .http_answers import text_of
from .keepalive import WEBHOOK_LOG, Encoded, KeptAliveWebhookClient, env_proxy, post_json, user_agent
from .retries import slack_retry_handlers

log = logging.getLogger(__name__)

# Errors that mean "the app may not post here", as opposed to a fault worth a stack trace.
REFUSALS = frozenset({
    "not_in_channel", "channel_not_found", "is_archived", "restricted_action", "cannot_reply_to_message",
    "msg_too_long", "no_permission", "ekm_access_denied", "team_access_not_granted", "not_allowed_token_type",
    "cannot_unfurl_url", "cannot_find_service", "cannot_unfurl_message", "cannot_prompt", "missing_scope",
    "channel_is_archived", "user_not_in_channel", "invalid_unfurl_id", "invalid_source", "message_not_found",
    "cant_update_message", "edit_window_closed",
})


class _LogOnce:
    """Log each (where, why) once an hour, so a channel that refuses us does not flood the log."""

    def __init__(self) -> None:
        self._seen: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=4096, ttl=3600)
        self._lock = threading.Lock()

    def __call__(self, where: str, why: str, what: str) -> None:
        with self._lock:
            if (where, why) in self._seen:
                return
            self._seen[(where, why)] = True
        log.warning("Slack refused to %s in %s (%s); moving on", what, where, why)


log_refusal_once = _LogOnce()


class Destination(Protocol):
    @property
    def key(self) -> str | None:
        """Identifies the card for updates in place (None: it cannot be followed)."""
        ...

    def send(self, message: SlackMessage) -> bool:
        """Post the card, or update it in place after the first time; False when Slack refused."""
        ...

    @property
    def updates_left(self) -> int:
        """How many more sends Slack allows here."""
        ...

    def describe(self) -> dict[str, Any]:
        """Plain data that `destination_from` turns back into this destination (for the state store)."""
        ...


class ResponseUrl:
    """A `response_url`: usable 5 times within 30 minutes; later sends replace the first."""

    MAX_USES = 5

    def __init__(self, url: str, *, key: str | None = None, on_error: Callable[[str, str], None] | None = None,
                 uses: int = 0, **first_options: Any) -> None:
        self.url = url
        self._on_error = on_error
        self._key = key
        self._first = first_options
        self._uses = uses
        self._client: WebhookClient | None = None  # only behind a proxy (slack_sdk's path): made on the first send

    @property
    def key(self) -> str | None:
        return self._key

    @property
    def updates_left(self) -> int:
        return self.MAX_USES - self._uses

    def describe(self) -> dict[str, Any]:
        """What it takes to send here again after a restart (the URL is a capability: kept in the state store)."""
        return {"kind": "response_url", "url": self.url, "key": self._key, "uses": self._uses}

    def send(self, message: SlackMessage, **options: Any) -> bool:
        chosen = options or (self._first if self._uses == 0 else {"replace_original": True})
        self._uses += 1
        try:
            status, body = self._post(message, chosen)
        except Exception:
            if self._on_error:
                self._on_error("response_url", "unreachable")
            raise
        if status != 200:
            if self._on_error:
                self._on_error("response_url", f"http_{status}")
            log.warning("response_url answered %s: %s", status, body[:200])
            return False
        return True

    def _post(self, message: SlackMessage, options: dict[str, Any]) -> tuple[int, str]:
        """The message and options as slack_sdk's WebhookClient sends them (those set), with its retries."""
        fields = {key: value for key, value in {"text": message.text, **options}.items() if value is not None}
        if env_proxy() is not None:  # slack_sdk's own path knows proxies
            if self._client is None:
                self._client = KeptAliveWebhookClient(self.url, timeout=10, retry_handlers=slack_retry_handlers())
            response = self._client.send_dict({**fields, **({"blocks": message.blocks} if message.blocks else {})})
            return response.status_code, str(response.body)
        status, headers, answer = post_json(self.url, webhook_body(message, fields), {"User-Agent": user_agent()},
                                            slack_retry_handlers(), timeout=10, logger=WEBHOOK_LOG)
        return status, text_of(headers, answer)


def webhook_body(message: SlackMessage, fields: dict[str, Any]) -> bytes:
    """`fields` and the message's blocks (when it has some) as one JSON object, the blocks' JSON the
    message's own (encoded once for everyone it is sent to)."""
    return with_json(json.dumps({k: v for k, v in fields.items() if k != "blocks"}),
                     "blocks", message.blocks_json() if message.blocks else None).encode()


def with_json(encoded: str, key: str, value_json: str | None) -> str:
    """The JSON object `encoded` with `key` set to the JSON `value_json` (unchanged when that is None)."""
    if value_json is None:
        return encoded
    return f"{encoded[:-1]}{', ' if encoded != '{}' else ''}{json.dumps(key)}: {value_json}}}"


class ChannelMessage:
    """A message the bot posts (in a channel, a thread or a DM) and later edits with chat.update."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str | None = None) -> None:
        self._client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.ts: str | None = None
        self.refusal: str | None = None

    @property
    def key(self) -> str | None:
        return f"msg:{self.channel}:{self.ts}" if self.ts else None

    @property
    def updates_left(self) -> int:
        return 1_000_000

    def describe(self) -> dict[str, Any]:
        return {"kind": "message", "channel": self.channel, "ts": self.ts, "thread_ts": self.thread_ts}

    def send(self, message: SlackMessage) -> bool:
        try:
            if self.ts is None:
                response = self._client.chat_postMessage(
                    channel=self.channel, thread_ts=self.thread_ts, text=message.text, blocks=message.blocks,
                    unfurl_links=False, unfurl_media=False,
                )
                self.ts = response.get("ts")
            else:
                self._client.chat_update(channel=self.channel, ts=self.ts, text=message.text, blocks=message.blocks)
        except SlackApiError as error:
            self.refusal = str(error.response.get("error", "unknown_error"))
            if self.refusal not in REFUSALS:
                raise
            log_refusal_once(self.channel, self.refusal, "post a card")
            return False
        return True


class Unfurl:
    """The unfurl of one link: chat.unfurl again with the same channel and ts changes it in place."""

    def __init__(self, client: WebClient, url: str, *, channel: str | None = None, ts: str | None = None,
                 unfurl_id: str | None = None, source: str | None = None) -> None:
        self._client = client
        self.url = url
        self.channel, self.ts, self.unfurl_id, self.source = channel, ts, unfurl_id, source
        self.refusal: str | None = None

    @property
    def key(self) -> str | None:
        # A composer preview is not a message yet: it is not followed.
        return f"unfurl:{self.channel}:{self.ts}:{self.url}" if self.channel and self.ts else None

    @property
    def updates_left(self) -> int:
        return 1_000_000

    def describe(self) -> dict[str, Any]:
        return {"kind": "unfurl", "url": self.url, "channel": self.channel, "ts": self.ts}

    def send(self, message: SlackMessage) -> bool:
        where: dict[str, Any] = (
            {"channel": self.channel, "ts": self.ts} if self.channel and self.ts
            else {"unfurl_id": self.unfurl_id, "source": self.source}
        )
        where = {key: value for key, value in where.items() if value is not None}
        # chat_unfurl's body, its blocks the message's own JSON (encoded once for everyone it is sent to)
        unfurls = "{" + json.dumps(self.url) + ': {"blocks": ' + message.blocks_json() + "}}"
        fields = {**where, "unfurls": {self.url: {"blocks": message.blocks}}}
        try:
            self._client.api_call("chat.unfurl", json=Encoded(fields, body=with_json(json.dumps(where), "unfurls",
                                                                                       unfurls).encode()))
        except SlackApiError as error:
            self.refusal = str(error.response.get("error", "unknown_error"))
            if self.refusal not in REFUSALS:
                raise
            log_refusal_once(self.channel or "a message being written", self.refusal, "unfurl a link")
            return False
        return True


def _text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def destination_from(data: object, client: WebClient,
                     response_url: Callable[..., ResponseUrl] = ResponseUrl) -> Destination | None:
    """The destination `describe()` gave, or None for anything else (an old or damaged record)."""
    if not isinstance(data, dict):
        return None
    kind, url, channel, ts = data.get("kind"), _text_field(data, "url"), _text_field(data, "channel"), \
        _text_field(data, "ts")
    if kind == "response_url" and url:
        uses = data.get("uses")
        return response_url(url, key=_text_field(data, "key"), replace_original=True,
                            uses=uses if isinstance(uses, int) and 0 <= uses <= ResponseUrl.MAX_USES else ResponseUrl.MAX_USES)
    if kind == "unfurl" and url and channel and ts:
        return Unfurl(client, url, channel=channel, ts=ts)
    if kind == "message" and channel and ts:
        message = ChannelMessage(client, channel, _text_field(data, "thread_ts"))
        message.ts = ts
        return message
    return None


def send_safely(destination: Destination, message: SlackMessage) -> bool:
    """Send through `destination`; any failure is logged and reported as False, never raised."""
    try:
        return destination.send(message)
    except (SlackApiError, OSError, ValueError) as error:
        log.warning("could not deliver a card: %s", type(error).__name__)
        return False
    except Exception:
        log.exception("could not deliver a card")
        return False


def ephemeral_sender(client: WebClient, channel: str | None, user: str | None) -> Callable[[SlackMessage], None]:
    """Sends a private (ephemeral) message to `user` in `channel`; quietly nothing when either is unknown."""

    def send(message: SlackMessage) -> None:
        if not channel or not user:
            return
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=message.text, blocks=message.blocks)
        except SlackApiError as error:
            log.info("could not post privately to %s: %s", user, error.response.get("error"))

    return send
