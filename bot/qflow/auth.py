"""Service tokens for the QFlow API: a static JWT, or a service account's JWTs, renewed."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import httpx

from .errors import (
    AuthenticationFailed,
    InvalidResponse,
    QFlowConnectionError,
    QFlowError,
    QFlowTimeout,
    status_error_for,
)
from .retry import parse_retry_after

# Qualys user JWTs last 4 hours; renew this long before `exp`.
RENEW_MARGIN_SECONDS = 300.0
DEFAULT_LIFETIME_SECONDS = 4 * 3600.0
MAX_TOKEN_BYTES = 64 * 1024


# Told of every HTTP call to Qualys: endpoint ("auth", "execution", "steps", "workflow"), outcome ("ok" or
# the error's), seconds, and the answer's headers (None when they are not kept).
CallObserver = Callable[[str, str, float, Mapping[str, str] | None], None]


class TokenProvider(Protocol):
    def token(self) -> str:
        """A JWT to send as `Authorization: Bearer`."""
        ...

    def invalidate(self, token: str) -> bool:
        """Forget `token` after a 401; True when asking again may give a different one."""
        ...


class StaticToken:
    """A JWT the operator pasted in; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def invalidate(self, token: str) -> bool:
        return False

    def __repr__(self) -> str:
        return "StaticToken(***)"


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, read without checking its signature."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class ServiceAccountToken:
    """JWTs from `POST <gateway>/auth` for a service account, reused until shortly before `exp`."""

    def __init__(
        self,
        gateway_url: str,
        username: str,
        password: str,
        http: httpx.Client,
        *,
        clock: Callable[[], float] = time.time,
        observe: CallObserver | None = None,
    ) -> None:
        self._observe = observe
        self._url = gateway_url.rstrip("/") + "/auth"
        self._username = username
        self._password = password
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.logins = 0

    def __repr__(self) -> str:
        return f"ServiceAccountToken({self._url!r}, username=***)"

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._token = self._login()
            return self._token

    def invalidate(self, token: str) -> bool:
        with self._lock:
            if self._token == token:
                self._token = None
        return True

    def _login(self) -> str:
        self.logins += 1
        started = time.perf_counter()
        try:
            token = self._login_once()
        except QFlowError as error:
            if self._observe:
                self._observe("auth", error.outcome, time.perf_counter() - started, None)
            raise
        if self._observe:
            self._observe("auth", "ok", time.perf_counter() - started, None)
        return token

    def _login_once(self) -> str:
        try:
            with self._http.stream(
                "POST", self._url,
                data={"username": self._username, "password": self._password, "token": "true"},
                headers={"Accept": "text/plain, application/json"},
            ) as response:
                raw = b""
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_TOKEN_BYTES:
                        raise InvalidResponse("the /auth reply is too large to be a JWT", response.status_code)
        except httpx.TimeoutException as e:
            raise QFlowTimeout("timed out getting a service token") from e
        except httpx.TransportError as e:
            raise QFlowConnectionError(f"could not reach the Qualys gateway: {type(e).__name__}") from e
        if response.status_code in (400, 401, 403):
            raise AuthenticationFailed(response.status_code)
        if not response.is_success:
            raise status_error_for(response.status_code, "", parse_retry_after(response.headers))
        token = raw.decode("utf-8", errors="replace").strip().strip('"')
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if token.count(".") != 2 or any(ch.isspace() for ch in token):
            raise InvalidResponse("the /auth reply is not a JWT", response.status_code)
        now = self._clock()
        exp = jwt_expiry(token) or now + DEFAULT_LIFETIME_SECONDS
        # A token that lives less than twice the margin is renewed halfway through its life.
        self._renew_at = max(now, exp - min(RENEW_MARGIN_SECONDS, (exp - now) / 2))
        return token
