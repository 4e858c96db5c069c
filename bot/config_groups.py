"""The settings' groups: each variable with its environment name, default and check (the checks'
words are in config_fields.py). bot/config.py reads them into one Settings object."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .config_fields import (
    DEFAULT_STATE_FILE,
    audit_target,
    bearer_stripped,
    checked,
    choice,
    cpu_setting,
    domains,
    flag,
    http_url,
    number,
    patterns,
    reserve_setting,
    slack_ids,
    state_path,
    template,
)
from .qflow.platforms import PLATFORMS

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_OPEN_URL_TEMPLATE = "{ui_url}/"


class _Group(BaseSettings):
    """A group of variables, read by their environment names from the one mapping load_settings is
    given (the environment with .env merged in, or a test's): no other source, so nothing leaks in."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class SlackSettings(_Group):
    bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    api_url: Annotated[str, checked(f"SLACK_API_URL should be an http(s) URL like {DEFAULT_SLACK_API_URL}", http_url)] \
        = Field(DEFAULT_SLACK_API_URL, validation_alias="SLACK_API_URL")
    host: str = Field("0.0.0.0", validation_alias="HOST")
    port: int  = number("PORT", 3000, 0, 65535)


class QualysSettings(_Group):
    platform: Annotated[str | None, choice("QUALYS_PLATFORM", tuple(PLATFORMS),
                                            f"should be one of {', '.join(PLATFORMS)} (or set QUALYS_BASE_URL)")] \
        = Field(None, validation_alias="QUALYS_PLATFORM")
    base_url: Annotated[str | None, checked("QUALYS_BASE_URL should be your Qualys gateway URL, like "
                                             "https://gateway.qg1.apps.qualys.com", http_url)] \
        = Field(None, validation_alias="QUALYS_BASE_URL")
    ui_url: Annotated[str | None, checked("QUALYS_UI_URL should be the Qualys web UI URL, like "
                                           "https://qualysguard.qualys.com", http_url)] \
        = Field(None, validation_alias="QUALYS_UI_URL")
    token: Annotated[SecretStr | None, BeforeValidator(bearer_stripped)] = Field(None, validation_alias="QUALYS_TOKEN")
    username: str | None = Field(None, validation_alias="QUALYS_USERNAME")
    password: SecretStr | None = Field(None, validation_alias="QUALYS_PASSWORD")
    execution_method: Annotated[str, choice("QFLOW_EXECUTION_METHOD", ("POST", "GET"),
                                             "should be POST (as in the API's sample) or GET")] \
        = Field("POST", validation_alias="QFLOW_EXECUTION_METHOD")
    open_url_template: Annotated[str, AfterValidator(template)] = Field(DEFAULT_OPEN_URL_TEMPLATE,
                                                                         validation_alias="QFLOW_OPEN_URL_TEMPLATE")


class TuningSettings(_Group):
    request_timeout: float  = number("QFLOW_TIMEOUT_SECONDS", 10.0, 0.1, 120.0, "a number of seconds")
    max_attempts: int  = number("QFLOW_MAX_ATTEMPTS", 3, 1, 10)
    workers: int  = number("QFLOW_WORKERS", 16, 1, 256)
    cache_finished_seconds: float  = number("QFLOW_CACHE_FINISHED_SECONDS", 3600.0, 0.0, 86400.0, "a number of seconds")
    cache_running_seconds: float  = number("QFLOW_CACHE_RUNNING_SECONDS", 10.0, 0.0, 3600.0, "a number of seconds")
    cache_mb: int  = number("QFLOW_CACHE_MB", 64, 1, 16384)
    names_wait_seconds: float = number("QFLOW_NAMES_WAIT_SECONDS", 0.0, 0.0, 30.0, "a number of seconds")
    refresh_seconds: float  = number("QFLOW_REFRESH_SECONDS", 30.0, 0.1, 3600.0, "a number of seconds")
    refresh_max_minutes: float  = number("QFLOW_REFRESH_MAX_MINUTES", 30.0, 0.0, 1440.0, "a number of minutes")
    max_cards: int  = number("QFLOW_MAX_CARDS", 4, 1, 5)
    max_watches: int = number("QFLOW_MAX_WATCHES", 50, 1, 500)
    subscription_poll_seconds: float = number("QFLOW_SUBSCRIPTION_POLL_SECONDS", 60.0, 1.0, 86400.0,
                                              "a number of seconds")
    watch_max_hours: float = number("QFLOW_WATCH_MAX_HOURS", 24.0, 0.01, 168.0, "a number of hours")
    web_concurrency: int = number("WEB_CONCURRENCY", 1, 1, 64)
    http_threads: int = number("QFLOW_HTTP_THREADS", 8, 1, 256)
    interpreter_cpu: Annotated[str, BeforeValidator(cpu_setting)] = Field("auto",
                                                                           validation_alias="QFLOW_INTERPRETER_CPU")
    rate_reserve: Annotated[str, AfterValidator(reserve_setting)] = Field("20%", validation_alias="QFLOW_RATE_RESERVE")
    link_domains: Annotated[tuple[str, ...], BeforeValidator(domains)] = Field((), validation_alias="QFLOW_LINK_DOMAINS")
    redact_patterns: Annotated[tuple[str, ...], BeforeValidator(patterns)] = Field(
        (), validation_alias="QFLOW_REDACT_PATTERNS")
    audit_log: Annotated[str, AfterValidator(audit_target)] = Field("-", validation_alias="QFLOW_AUDIT_LOG")
    log_level: Annotated[str, choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"),
                                      "should be DEBUG, INFO, WARNING or ERROR")] = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: Annotated[str, choice("LOG_FORMAT", ("TEXT", "JSON"), "should be text or json")] = Field(
        "TEXT", validation_alias="LOG_FORMAT")
    debug_libraries: Annotated[bool, flag("QFLOW_DEBUG_LIBRARIES")] = Field(False, validation_alias="QFLOW_DEBUG_LIBRARIES")


def _redis_url(value: SecretStr) -> bool:
    parts = urlsplit(value.get_secret_value())
    return parts.scheme in ("redis", "rediss") and bool(parts.hostname) or parts.scheme == "unix" and bool(parts.path)


class StateSettings(_Group):
    state_file: Annotated[str, AfterValidator(state_path)] = Field(DEFAULT_STATE_FILE,
                                                                    validation_alias="QFLOW_STATE_FILE")
    redis_url: Annotated[SecretStr | None, checked("REDIS_URL should be a Redis URL like redis://host:6379/0 "
                                                     "(rediss:// for TLS, unix:///path for a socket)", _redis_url)] \
        = Field(None, validation_alias="REDIS_URL")


class PolicySettings(_Group):
    allowed_users: Annotated[frozenset[str], slack_ids("QFLOW_ALLOWED_USERS", ("U", "W"))] = Field(
        frozenset(), validation_alias="QFLOW_ALLOWED_USERS")
    allowed_usergroups: Annotated[frozenset[str], slack_ids("QFLOW_ALLOWED_USERGROUPS", ("S",))] = Field(
        frozenset(), validation_alias="QFLOW_ALLOWED_USERGROUPS")
    allowed_channels: Annotated[frozenset[str], slack_ids("QFLOW_ALLOWED_CHANNELS", ("C", "G", "D"))] = Field(
        frozenset(), validation_alias="QFLOW_ALLOWED_CHANNELS")
    denied_channels: Annotated[frozenset[str], slack_ids("QFLOW_DENIED_CHANNELS", ("C", "G", "D"))] = Field(
        frozenset(), validation_alias="QFLOW_DENIED_CHANNELS")
    allow_shared_channels: Annotated[bool, flag("QFLOW_ALLOW_SHARED_CHANNELS")] = Field(
        False, validation_alias="QFLOW_ALLOW_SHARED_CHANNELS")
    policy_contact: str = Field("the app's admin", validation_alias="QFLOW_POLICY_CONTACT")
