"""Settings: one frozen, typed object built once from the environment.

Every problem is collected, so a bad setup fails at start with one message
naming every bad variable and what it should be. Secret values are never
echoed back.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from .qflow.platforms import PLATFORMS, platform_for_gateway_host

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_OPEN_URL_TEMPLATE = "{ui_url}/"
OPEN_URL_FIELDS = frozenset({"ui_url", "gateway_url", "execution_id", "workflow_id"})

Mode = Literal["http", "socket"]


class ConfigError(Exception):
    """The settings are incomplete or wrong; `problems` names each bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "QFlow for Slack cannot start: fix these settings (in the environment or .env):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Settings:
    """Everything the app is configured with. Secrets are left out of repr()."""

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    host: str = "0.0.0.0"
    port: int = 3000
    qualys_gateway_url: str | None = None
    qualys_ui_url: str | None = None
    qualys_platform: str | None = None
    qualys_token: str | None = field(default=None, repr=False)
    qualys_username: str | None = None
    qualys_password: str | None = field(default=None, repr=False)
    execution_method: str = "POST"
    open_url_template: str = DEFAULT_OPEN_URL_TEMPLATE
    request_timeout: float = 10.0
    max_attempts: int = 3
    workers: int = 16
    cache_finished_seconds: float = 3600.0
    cache_running_seconds: float = 10.0
    cache_mb: int = 64
    link_domains: tuple[str, ...] = ()
    refresh_seconds: float = 30.0
    refresh_max_minutes: float = 30.0
    max_cards: int = 4
    redact_patterns: tuple[str, ...] = ()
    audit_log: str = "-"
    allowed_users: frozenset[str] = frozenset()
    allowed_usergroups: frozenset[str] = frozenset()
    allowed_channels: frozenset[str] = frozenset()
    denied_channels: frozenset[str] = frozenset()
    allow_shared_channels: bool = False
    policy_contact: str = "the app's admin"
    log_level: str = "INFO"
    debug_libraries: bool = False

    @property
    def mode(self) -> Mode:
        return "socket" if self.slack_app_token else "http"

    @property
    def qualys_link_domains(self) -> tuple[str, ...]:
        """Hosts whose links may be executions, beyond the platform table: the UI's, and the operator's."""
        ui_host = urlsplit(self.qualys_ui_url).hostname if self.qualys_ui_url else None
        return tuple(d for d in (*self.link_domains, ui_host) if d)

    @property
    def has_allow_lists(self) -> bool:
        return bool(self.allowed_users or self.allowed_usergroups)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value configured, for scrubbing output."""
        values = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.qualys_token,
                  self.qualys_password)
        return tuple(v for v in values if v)

    def open_url(self, execution_id: str, workflow_id: str | None) -> str | None:
        """The "Open in Qualys" link for an execution, or None when no UI URL is known."""
        if not self.qualys_ui_url and "{ui_url}" in self.open_url_template:
            return None
        return self.open_url_template.format(
            ui_url=(self.qualys_ui_url or "").rstrip("/"),
            gateway_url=(self.qualys_gateway_url or "").rstrip("/"),
            execution_id=execution_id,
            workflow_id=workflow_id or "",
        )


def _blank_to_none(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def load_settings(
    env: Mapping[str, str],
    *,
    need_slack: bool = True,
    need_qualys: bool = True,
    mode: Mode | None = None,
) -> Settings:
    """Settings from `env`; raises ConfigError naming every missing or malformed variable."""
    problems: list[str] = []
    get = lambda name: _blank_to_none(env, name)  # noqa: E731

    # --- Slack -----------------------------------------------------------------
    bot_token, signing_secret, app_token = get("SLACK_BOT_TOKEN"), get("SLACK_SIGNING_SECRET"), get("SLACK_APP_TOKEN")
    resolved_mode: Mode = mode or ("socket" if app_token else "http")
    if need_slack:
        _check_token(problems, "SLACK_BOT_TOKEN", bot_token, "xoxb-", "the Bot User OAuth Token",
                     "copy it from your Slack app's OAuth & Permissions page")
        if resolved_mode == "socket":
            _check_token(problems, "SLACK_APP_TOKEN", app_token, "xapp-", "an app-level token",
                         "Socket Mode needs one with the connections:write scope "
                         "(Basic Information → App-Level Tokens)")
        elif not signing_secret or _placeholder(signing_secret):
            problems.append(
                "SLACK_SIGNING_SECRET is not set (or is the .env.example placeholder): HTTP mode needs it to check "
                "requests come from Slack "
                "(Basic Information → App Credentials). Or set SLACK_APP_TOKEN to use Socket Mode"
            )
    slack_api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not _http_url(slack_api_url):
        problems.append(f"SLACK_API_URL should be an http(s) URL like {DEFAULT_SLACK_API_URL}")
    elif not slack_api_url.endswith("/"):
        slack_api_url += "/"
    host = get("HOST") or "0.0.0.0"
    port = _int(env, "PORT", 3000, 0, 65535, problems)

    # --- Qualys ----------------------------------------------------------------
    platform_name = get("QUALYS_PLATFORM")
    platform = None
    if platform_name:
        platform = PLATFORMS.get(platform_name.upper())
        if platform is None:
            problems.append(f"QUALYS_PLATFORM should be one of {', '.join(PLATFORMS)} (or set QUALYS_BASE_URL)")
    base_url = get("QUALYS_BASE_URL")
    gateway_url: str | None = None
    if base_url:
        if _http_url(base_url):
            gateway_url = base_url.rstrip("/")
        else:
            problems.append("QUALYS_BASE_URL should be your Qualys gateway URL, like https://gateway.qg1.apps.qualys.com")
    elif platform:
        gateway_url = platform.gateway_url
    elif need_qualys and not platform_name:
        problems.append(
            "QUALYS_PLATFORM or QUALYS_BASE_URL is not set: name your platform "
            f"({', '.join(PLATFORMS)}) or give the gateway URL"
        )
    ui_url = get("QUALYS_UI_URL")
    if ui_url and not _http_url(ui_url):
        problems.append("QUALYS_UI_URL should be the Qualys web UI URL, like https://qualysguard.qualys.com")
        ui_url = None
    if not ui_url:
        if platform:
            ui_url = platform.ui_url
        elif gateway_url and (known := platform_for_gateway_host(urlsplit(gateway_url).hostname or "")):
            ui_url = known.ui_url

    token, username, password = get("QUALYS_TOKEN"), get("QUALYS_USERNAME"), get("QUALYS_PASSWORD")
    if token and token.lower().startswith("bearer "):
        token = token[7:].strip()
    if need_qualys:
        if token and (username or password):
            problems.append(
                "QUALYS_TOKEN and QUALYS_USERNAME/QUALYS_PASSWORD are both set: keep one way to authenticate "
                "(a static JWT, or a service account the app logs in with)"
            )
        elif not token and not (username and password):
            if username or password:
                missing = "QUALYS_PASSWORD" if username else "QUALYS_USERNAME"
                problems.append(f"{missing} is not set: a service account needs both QUALYS_USERNAME and QUALYS_PASSWORD")
            else:
                problems.append(
                    "QUALYS_TOKEN or QUALYS_USERNAME + QUALYS_PASSWORD is not set: give the service account's "
                    "JWT, or its user name and password"
                )
        elif token and (token.count(".") != 2 or any(c.isspace() for c in token)):
            problems.append("QUALYS_TOKEN should be a JWT (three dot-separated parts, no spaces)")

    method = (get("QFLOW_EXECUTION_METHOD") or "POST").upper()
    if method not in ("POST", "GET"):
        problems.append("QFLOW_EXECUTION_METHOD should be POST (as in the API's sample) or GET")
    template = get("QFLOW_OPEN_URL_TEMPLATE") or DEFAULT_OPEN_URL_TEMPLATE
    template_problem = _check_template(template)
    if template_problem:
        problems.append(f"QFLOW_OPEN_URL_TEMPLATE {template_problem}")

    # --- tuning ----------------------------------------------------------------
    timeout = _float(env, "QFLOW_TIMEOUT_SECONDS", 10.0, 0.1, 120.0, problems)
    attempts = _int(env, "QFLOW_MAX_ATTEMPTS", 3, 1, 10, problems)
    workers = _int(env, "QFLOW_WORKERS", 16, 1, 256, problems)
    finished_ttl = _float(env, "QFLOW_CACHE_FINISHED_SECONDS", 3600.0, 0.0, 86400.0, problems)
    running_ttl = _float(env, "QFLOW_CACHE_RUNNING_SECONDS", 10.0, 0.0, 3600.0, problems)
    cache_mb = _int(env, "QFLOW_CACHE_MB", 64, 1, 16384, problems)
    link_domains = tuple(d.strip().lower() for d in (get("QFLOW_LINK_DOMAINS") or "").split(",") if d.strip())
    bad_domains = [d for d in link_domains if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", d)]
    if bad_domains:
        problems.append("QFLOW_LINK_DOMAINS should be comma-separated host names like qualys.example.com "
                        f"({len(bad_domains)} not valid)")
    refresh = _float(env, "QFLOW_REFRESH_SECONDS", 30.0, 0.1, 3600.0, problems)
    refresh_max = _number(env, "QFLOW_REFRESH_MAX_MINUTES", 30.0, 0.0, 1440.0, problems, whole=False,
                          unit="a number of minutes")
    max_cards = _int(env, "QFLOW_MAX_CARDS", 4, 1, 5, problems)
    redact_patterns = _patterns(get("QFLOW_REDACT_PATTERNS"), problems)
    audit_log = get("QFLOW_AUDIT_LOG") or "-"
    if audit_log != "-":
        folder = os.path.dirname(os.path.abspath(audit_log))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK) or os.path.isdir(audit_log):
            problems.append(f"QFLOW_AUDIT_LOG should be a file in a folder the app can write ({folder}), "
                            "or - for standard output")
    allowed_users = _ids(env, "QFLOW_ALLOWED_USERS", ("U", "W"), problems)
    allowed_usergroups = _ids(env, "QFLOW_ALLOWED_USERGROUPS", ("S",), problems)
    allowed_channels = _ids(env, "QFLOW_ALLOWED_CHANNELS", ("C", "G", "D"), problems)
    denied_channels = _ids(env, "QFLOW_DENIED_CHANNELS", ("C", "G", "D"), problems)
    shared = _flag(env, "QFLOW_ALLOW_SHARED_CHANNELS", problems)
    debug_libraries = _flag(env, "QFLOW_DEBUG_LIBRARIES", problems)
    policy_contact = get("QFLOW_POLICY_CONTACT") or "the app's admin"
    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append("LOG_LEVEL should be DEBUG, INFO, WARNING or ERROR")

    if problems:
        raise ConfigError(problems)
    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token if resolved_mode == "socket" else None,
        slack_api_url=slack_api_url,
        host=host,
        port=port,
        qualys_gateway_url=gateway_url,
        qualys_ui_url=ui_url.rstrip("/") if ui_url else None,
        qualys_platform=platform_name.upper() if platform and platform_name else None,
        qualys_token=token,
        qualys_username=username,
        qualys_password=password,
        execution_method=method,
        open_url_template=template,
        request_timeout=timeout,
        max_attempts=attempts,
        workers=workers,
        cache_finished_seconds=finished_ttl,
        cache_running_seconds=running_ttl,
        cache_mb=cache_mb,
        link_domains=link_domains,
        refresh_seconds=refresh,
        refresh_max_minutes=refresh_max,
        max_cards=max_cards,
        redact_patterns=redact_patterns,
        audit_log=audit_log,
        allowed_users=allowed_users,
        allowed_usergroups=allowed_usergroups,
        allowed_channels=allowed_channels,
        denied_channels=denied_channels,
        allow_shared_channels=shared,
        policy_contact=policy_contact,
        log_level=log_level,
        debug_libraries=debug_libraries,
    )


def _flag(env: Mapping[str, str], name: str, problems: list[str]) -> bool:
    value = (_blank_to_none(env, name) or "false").lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"{name} should be true or false (default false)")
    return value in ("true", "1", "yes")


def _patterns(raw: str | None, problems: list[str]) -> tuple[str, ...]:
    """QFLOW_REDACT_PATTERNS: a JSON list of regular expressions."""
    if not raw:
        return ()
    try:
        patterns = json.loads(raw)
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise ValueError
        for pattern in patterns:
            re.compile(pattern)
    except (ValueError, re.error):
        problems.append('QFLOW_REDACT_PATTERNS should be a JSON list of regular expressions, like ["ACME-[0-9]{6}"]')
        return ()
    return tuple(patterns)


def _ids(env: Mapping[str, str], name: str, prefixes: tuple[str, ...], problems: list[str]) -> frozenset[str]:
    """A comma-separated list of Slack ids, each starting with one of `prefixes`."""
    ids = frozenset(i.strip().upper() for i in (_blank_to_none(env, name) or "").split(",") if i.strip())
    if any(not re.fullmatch(r"[A-Z0-9]{3,30}", i) or not i.startswith(prefixes) for i in ids):
        problems.append(f"{name} should be comma-separated Slack ids starting with {' or '.join(prefixes)} "
                        "(copy them from a profile's or channel's details)")
        return frozenset()
    return ids


def _check_token(problems: list[str], name: str, value: str | None, prefix: str, kind: str, where: str) -> None:
    if not value:
        problems.append(f"{name} is not set: it is {kind} ({prefix}…); {where}")
    elif _placeholder(value):
        problems.append(f"{name} still holds the .env.example placeholder: it is {kind} ({prefix}…); {where}")
    elif not value.startswith(prefix):
        problems.append(f"{name} should be {kind}, which starts with {prefix}")


def _placeholder(value: str) -> bool:
    return "your-" in value.lower()


def _check_template(template: str) -> str | None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return "has unbalanced braces"
    unknown = names - OPEN_URL_FIELDS
    if unknown:
        return f"uses {', '.join(sorted('{' + n + '}' for n in unknown))}; it may use {{ui_url}}, " \
               "{gateway_url}, {execution_id} and {workflow_id}"
    sample = template.format(ui_url="https://ui.example", gateway_url="https://gw.example",
                             execution_id="0", workflow_id="0")
    if not _http_url(sample):
        return "should make an http(s) URL, like {ui_url}/…/{execution_id}"
    return None


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, problems: list[str],
            *, whole: bool, unit: str = "a number of seconds") -> float:
    raw = _blank_to_none(env, name)
    if raw is None:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        kind = "a whole number" if whole else unit
        problems.append(f"{name} should be {kind} from {low:g} to {high:g} (default {default:g})")
        return default
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    return int(_number(env, name, default, low, high, problems, whole=True))


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float, problems: list[str]) -> float:
    return _number(env, name, default, low, high, problems, whole=False)
