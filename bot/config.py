"""Settings: read once from the environment into typed groups (pydantic-settings), then one frozen
object the app is built from.

Every problem is collected, so a bad setup fails at start with one message naming every bad
variable and what it should be. Secret values are never echoed back.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from .config_fields import placeholder
from .config_groups import (
    PolicySettings,
    QualysSettings,
    SlackSettings,
    StateSettings,
    TuningSettings,
    _Group,
)
from .qflow.platforms import PLATFORMS, platform_for_gateway_host

Mode = Literal["http", "socket"]


class ConfigError(Exception):
    """The settings are incomplete or wrong; `problems` names each bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "QFlow for Slack cannot start: fix these settings (in the environment or .env):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


class Settings(BaseModel):
    """Everything the app is configured with: the groups as read, and what follows from them."""

    model_config = ConfigDict(frozen=True)

    slack: SlackSettings
    qualys: QualysSettings
    tuning: TuningSettings
    policy: PolicySettings
    state: StateSettings
    mode: Mode
    qualys_gateway_url: str | None
    qualys_ui_url: str | None

    @property
    def socket_health_port(self) -> int | None:
        """In Socket Mode, where to serve /healthz and /metrics: PORT when it is set, else nowhere."""
        return self.slack.port if self.mode == "socket" and "port" in self.slack.model_fields_set else None

    @property
    def slack_api_url(self) -> str:
        url = self.slack.api_url
        return url if url.endswith("/") else url + "/"

    @property
    def qualys_link_domains(self) -> tuple[str, ...]:
        """Hosts whose links may be executions, beyond the platform table: the UI's, and the operator's."""
        ui_host = urlsplit(self.qualys_ui_url).hostname if self.qualys_ui_url else None
        return tuple(d for d in (*self.tuning.link_domains, ui_host) if d)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value configured, for scrubbing output."""
        values = (self.slack.bot_token, self.slack.signing_secret, self.slack.app_token, self.qualys.token,
                  self.qualys.password, self.state.redis_url)
        found = [v.get_secret_value() for v in values if v and v.get_secret_value()]
        redis_password = urlsplit(secret(self.state.redis_url) or "").password
        return tuple(found + ([redis_password] if redis_password else []))

    @property
    def open_url_is_run(self) -> bool:
        """Whether the "Open" link names the execution (the template holds `{execution_id}`)."""
        fields = string.Formatter().parse(self.qualys.open_url_template)
        return any(field == "execution_id" for _, field, _, _ in fields)

    def open_url(self, execution_id: str, workflow_id: str | None) -> str | None:
        """The "Open in Qualys" link for an execution, or None when no UI URL is known."""
        template = self.qualys.open_url_template
        if not self.qualys_ui_url and "{ui_url}" in template:
            return None
        return template.format(
            ui_url=(self.qualys_ui_url or "").rstrip("/"),
            gateway_url=(self.qualys_gateway_url or "").rstrip("/"),
            execution_id=execution_id,
            workflow_id=workflow_id or "",
        )


def secret(value: SecretStr | None) -> str | None:
    """A secret's value, or None when it is not set."""
    return value.get_secret_value() if value is not None else None


# --- loading ------------------------------------------------------------------------------------------


def _problems_of(error: ValidationError, group: type[_Group]) -> list[str]:
    """Each failed variable once, in the words its field gives (a custom message or its bounds)."""
    by_alias = {f.validation_alias: f for f in group.model_fields.values()}
    problems: list[str] = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        field = by_alias.get(name)
        extra = field.json_schema_extra if field and isinstance(field.json_schema_extra, dict) else {}
        if item["type"] == "value_error":
            message = str(item.get("ctx", {}).get("error", item["msg"]))
        else:
            message = str(extra.get("problem") or f"{name} is not valid")
        if message not in problems:
            problems.append(message)
    return problems


def _read(group: type[_Group], values: Mapping[str, str], problems: list[str]) -> Any:
    """The group from `values`; a bad variable is reported and read as its default instead."""
    try:
        return group(**values)
    except ValidationError as error:
        problems.extend(_problems_of(error, group))
        bad = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        return group(**{k: v for k, v in values.items() if k not in bad})


def load_settings(
    env: Mapping[str, str],
    *,
    need_slack: bool = True,
    need_qualys: bool = True,
    mode: Mode | None = None,
) -> Settings:
    """Settings from `env` (the environment, with .env already merged in); raises ConfigError naming
    every missing or malformed variable, with how to fix it."""
    values = {k: v.strip() for k, v in env.items() if isinstance(v, str) and v.strip()}
    problems: list[str] = []
    slack: SlackSettings = _read(SlackSettings, values, problems)
    app_token = secret(slack.app_token)
    resolved_mode: Mode = mode or ("socket" if app_token else "http")
    if need_slack:
        problems[:0] = _slack_problems(slack, resolved_mode)
    qualys: QualysSettings = _read(QualysSettings, values, problems)
    platform = PLATFORMS.get(qualys.platform) if qualys.platform else None
    gateway_url = qualys.base_url.rstrip("/") if qualys.base_url else platform.gateway_url if platform else None
    if need_qualys:
        problems.extend(_qualys_problems(qualys, values))
    ui_url = qualys.ui_url or (platform.ui_url if platform else None)
    if not ui_url and gateway_url:
        known = platform_for_gateway_host(urlsplit(gateway_url).hostname or "")
        ui_url = known.ui_url if known else None
    tuning: TuningSettings = _read(TuningSettings, values, problems)
    policy: PolicySettings = _read(PolicySettings, values, problems)
    state: StateSettings = _read(StateSettings, values, problems)
    if problems:
        raise ConfigError(problems)
    if resolved_mode != "socket":
        slack = slack.model_copy(update={"app_token": None})
    return Settings(slack=slack, qualys=qualys, tuning=tuning, policy=policy, state=state, mode=resolved_mode,
                    qualys_gateway_url=gateway_url, qualys_ui_url=ui_url.rstrip("/") if ui_url else None)


def _slack_problems(slack: SlackSettings, mode: Mode) -> list[str]:
    problems: list[str] = []
    _check_token(problems, "SLACK_BOT_TOKEN", secret(slack.bot_token), "xoxb-", "the Bot User OAuth Token",
                 "copy it from your Slack app's OAuth & Permissions page")
    if mode == "socket":
        _check_token(problems, "SLACK_APP_TOKEN", secret(slack.app_token), "xapp-", "an app-level token",
                     "Socket Mode needs one with the connections:write scope (Basic Information → App-Level Tokens)")
    else:
        signing_secret = secret(slack.signing_secret)
        if not signing_secret or placeholder(signing_secret):
            problems.append(
                "SLACK_SIGNING_SECRET is not set (or is the .env.example placeholder): HTTP mode needs it to check "
                "requests come from Slack (Basic Information → App Credentials). Or set SLACK_APP_TOKEN to use "
                "Socket Mode"
            )
    return problems


def _qualys_problems(qualys: QualysSettings, values: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    if not values.get("QUALYS_BASE_URL") and not values.get("QUALYS_PLATFORM"):
        problems.append("QUALYS_PLATFORM or QUALYS_BASE_URL is not set: name your platform "
                        f"({', '.join(PLATFORMS)}) or give the gateway URL")
    token, username, password = secret(qualys.token), qualys.username, secret(qualys.password)
    if token and (username or password):
        problems.append("QUALYS_TOKEN and QUALYS_USERNAME/QUALYS_PASSWORD are both set: keep one way to "
                        "authenticate (a static JWT, or a service account the app logs in with)")
    elif not token and not (username and password):
        if username or password:
            missing = "QUALYS_PASSWORD" if username else "QUALYS_USERNAME"
            problems.append(f"{missing} is not set: a service account needs both QUALYS_USERNAME and QUALYS_PASSWORD")
        else:
            problems.append("QUALYS_TOKEN or QUALYS_USERNAME + QUALYS_PASSWORD is not set: give the service "
                            "account's JWT, or its user name and password")
    elif token and (token.count(".") != 2 or any(c.isspace() for c in token)):
        problems.append("QUALYS_TOKEN should be a JWT (three dot-separated parts, no spaces)")
    return problems


def _check_token(problems: list[str], name: str, value: str | None, prefix: str, kind: str, where: str) -> None:
    if not value:
        problems.append(f"{name} is not set: it is {kind} ({prefix}…); {where}")
    elif placeholder(value):
        problems.append(f"{name} still holds the .env.example placeholder: it is {kind} ({prefix}…); {where}")
    elif not value.startswith(prefix):
        problems.append(f"{name} should be {kind}, which starts with {prefix}")


__all__ = ["ConfigError", "Mode", "PolicySettings", "QualysSettings", "Settings", "SlackSettings", "TuningSettings",
           "load_settings", "secret"]
