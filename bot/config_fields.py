"""What each setting may hold: checks that raise ValueError with the whole message a person reads
(naming the variable and what it should be), and the bounded-number fields that say their own."""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

from .cpu import AUTO, OFF

OPEN_URL_FIELDS = frozenset({"ui_url", "gateway_url", "execution_id", "workflow_id"})


def http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def placeholder(value: str) -> bool:
    """True for the `your-…` placeholders of .env.example."""
    return "your-" in value.lower()


def check_template(template: str, fields: Collection[str]) -> str | None:
    """What is wrong with an "Open in Qualys" URL template (None: nothing)."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return "has unbalanced braces"
    unknown = names - set(fields)
    if unknown:
        return f"uses {', '.join(sorted('{' + n + '}' for n in unknown))}; it may use {{ui_url}}, " \
               "{gateway_url}, {execution_id} and {workflow_id}"
    sample = template.format(ui_url="https://ui.example", gateway_url="https://gw.example",
                             execution_id="0", workflow_id="0")
    if not http_url(sample):
        return "should make an http(s) URL, like {ui_url}/…/{execution_id}"
    return None


def checked(message: str, test: Any) -> Any:
    def check(value: Any) -> Any:
        if value is not None and not test(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def slack_ids(name: str, prefixes: tuple[str, ...]) -> Any:
    """A comma-separated list of Slack ids, each starting with one of `prefixes`."""

    def parse(value: Any) -> frozenset[str]:
        ids = frozenset(i.strip().upper() for i in str(value or "").split(",") if i.strip())
        if any(not re.fullmatch(r"[A-Z0-9]{3,30}", i) or not i.startswith(prefixes) for i in ids):
            raise ValueError(f"{name} should be comma-separated Slack ids starting with {' or '.join(prefixes)} "
                             "(copy them from a profile's or channel's details)")
        return ids

    return BeforeValidator(parse)


def flag(name: str) -> Any:
    def parse(value: Any) -> bool:
        text = str(value if value is not None else "false").lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name} should be true or false (default false)")
        return text in ("true", "1", "yes")

    return BeforeValidator(parse)


def choice(name: str, choices: tuple[str, ...], message: str) -> Any:
    def parse(value: Any) -> str | None:
        if value is None:
            return None
        text = str(value).upper()
        if text not in choices:
            raise ValueError(f"{name} {message}")
        return text

    return BeforeValidator(parse)


def patterns(value: Any) -> tuple[str, ...]:
    """QFLOW_REDACT_PATTERNS: a JSON list of regular expressions."""
    if not value:
        return ()
    try:
        patterns = json.loads(value)
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise ValueError
        for pattern in patterns:
            re.compile(pattern)
    except (ValueError, re.error):
        raise ValueError('QFLOW_REDACT_PATTERNS should be a JSON list of regular expressions, like '
                         '["ACME-[0-9]{6}"]') from None
    return tuple(patterns)


def domains(value: Any) -> tuple[str, ...]:
    domains = tuple(d.strip().lower() for d in str(value or "").split(",") if d.strip())
    bad = [d for d in domains if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", d)]
    if bad:
        raise ValueError("QFLOW_LINK_DOMAINS should be comma-separated host names like qualys.example.com "
                         f"({len(bad)} not valid)")
    return domains


def audit_target(value: str) -> str:
    if value != "-":
        folder = os.path.dirname(os.path.abspath(value))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK) or os.path.isdir(value):
            raise ValueError(f"QFLOW_AUDIT_LOG should be a file in a folder the app can write ({folder}), "
                             "or - for standard output")
    return value


DEFAULT_STATE_FILE = "qflow-state.sqlite3"


def reserve_setting(value: str) -> str:
    """QFLOW_RATE_RESERVE: a share of the limit (`20%`, up to 90%) or a number of calls."""
    text = value.strip()
    try:
        ok = 0 <= float(text[:-1]) <= 90 if text.endswith("%") else text.isdigit() and int(text) <= 1_000_000
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("QFLOW_RATE_RESERVE should be a share of the Qualys limit like 20% (0% to 90%) "
                         "or a number of calls like 50")
    return text


def state_path(value: str) -> str:
    """QFLOW_STATE_FILE: a file in a folder that exists (whether it can be written is checked on opening)."""
    if value == ":memory:":  # nothing kept across restarts: one process only
        return value
    folder = os.path.dirname(os.path.abspath(value)) if value else ""
    if not value or os.path.isdir(value) or not os.path.isdir(folder):
        raise ValueError(f"QFLOW_STATE_FILE should be a file in a folder that exists ({folder or value!r})")
    return value


def template(value: str) -> str:
    problem = check_template(value, OPEN_URL_FIELDS)
    if problem:
        raise ValueError(f"QFLOW_OPEN_URL_TEMPLATE {problem}")
    return value


def bearer_stripped(value: Any) -> Any:
    return value[7:].strip() if isinstance(value, str) and value.lower().startswith("bearer ") else value


def number(env: str, default: float, low: float, high: float, unit: str | None = None) -> Any:
    """A bounded number; `unit` None: a whole number. Its message is made from these same facts."""
    kind = "a whole number" if unit is None else unit
    return Field(default, ge=low, le=high, validation_alias=env,
                 json_schema_extra={"problem": f"{env} should be {kind} from {low:g} to {high:g} (default {default:g})"})


MAX_CPU = 4095


def cpu_setting(value: object) -> str:
    """QFLOW_INTERPRETER_CPU: `auto`, `off` or a CPU number (bot/cpu.py)."""
    text = str(value if value is not None else AUTO).strip().lower() or AUTO
    if text in (AUTO, OFF):
        return text
    if text.isascii() and text.isdigit() and int(text) <= MAX_CPU:
        return str(int(text))
    raise ValueError(f"QFLOW_INTERPRETER_CPU should be auto (the default), off, or a CPU number from 0 to {MAX_CPU}")
