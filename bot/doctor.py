"""`qflow-bot doctor`: checks settings, Slack and Qualys, and says how to fix what is wrong."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError

from .config import ConfigError, Settings, load_settings, secret
from .qflow import (
    AuthenticationFailed,
    ExecutionNotFound,
    QFlowError,
)
from .qflow.auth import jwt_expiry
from .render.errors import words_for
from .wiring import build_web_client

PROBE_ID = "00000000-0000-4000-8000-000000000000"  # a well-formed id that no execution has
# The bot scopes manifest.yml asks for; usergroups:read only matters with QFLOW_ALLOWED_USERGROUPS.
SCOPES = ("commands", "chat:write", "links:read", "links:write", "app_mentions:read", "im:history",
          "channels:read", "groups:read", "im:read", "mpim:read")

Print = Callable[[str], None]

SLACK_HINTS = {
    "invalid_auth": "SLACK_BOT_TOKEN was refused: copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions",
    "not_authed": "SLACK_BOT_TOKEN was not sent: check it is set",
    "account_inactive": "the app was uninstalled or its token revoked: reinstall the app and copy the new token",
    "token_revoked": "the token was revoked: reinstall the app and copy the new SLACK_BOT_TOKEN",
}


def run_doctor(env: Mapping[str, str], out: Print, execution_id: str | None = None) -> int:
    """Run every check it can; 0 when all pass, 1 otherwise."""
    ok = True
    settings: Settings | None = None
    try:
        settings = load_settings(env)
        mode = "Socket Mode" if settings.mode == "socket" else f"HTTP on port {settings.slack.port}"
        out(f"✓ settings: complete ({mode})")
    except ConfigError as error:
        ok = False
        out("✗ settings: " + str(len(error.problems)) + " problem(s)")
        for problem in error.problems:
            out(f"    - {problem}")

    if settings:
        out(f"✓ policy: {policy_summary(settings)}")
        ok &= _check_state(settings, out)

    slack = settings or _partial(env, need_slack=True, need_qualys=False)
    if slack and secret(slack.slack.bot_token):
        ok &= _check_slack(slack, out)
    else:
        out("- Slack: not checked until the Slack settings above are fixed")

    qualys = settings or _partial(env, need_slack=False, need_qualys=True)
    if qualys and qualys.qualys_gateway_url:
        ok &= _check_qualys(qualys, out, execution_id)
    else:
        out("- Qualys: not checked until the Qualys settings above are fixed")
    out("All checks passed." if ok else "Some checks failed: fix the ✗ lines and run `scripts/run doctor` again.")
    return 0 if ok else 1


def _check_state(settings: Settings, out: Print) -> bool:
    """The state store opens and answers: the SQLite file (created if new), or Redis."""
    from .state import StateError

    redis_url = secret(settings.state.redis_url)
    if redis_url:
        from urllib.parse import urlsplit

        from .state.redis_store import RedisStore

        parts = urlsplit(redis_url)  # named without its password
        where = f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else parts.path
        import redis

        try:
            store = RedisStore(redis_url)
            try:
                store.ping()
                store.check()
            finally:
                store.close()
        except StateError as error:
            out(f"✗ state: {error}")
            return False
        except redis.ResponseError as error:  # answers, but refuses what the app needs (an ACL)
            out(f"✗ state: Redis at {where} refuses a command the app needs ({str(error)[:200]}): allow the app's "
                "user scripts (EVALSHA, SCRIPT LOAD), strings, sorted sets and SCAN on ~qflow:*, and PUBLISH/SUBSCRIBE "
                "on &qflow:changed; until then each replica keeps its state in memory (not shared)")
            return False
        except Exception as error:
            out(f"! state: Redis at {where} does not answer ({type(error).__name__}): the app would start and keep "
                "its state in memory until Redis answers (not shared by replicas meanwhile)")
            return False
        out(f"✓ state: Redis at {where} answers (shared by every replica)")
        return True
    if settings.state.state_file == ":memory:":
        out("✓ state: in this process's memory (QFLOW_STATE_FILE=:memory:): nothing is kept across restarts")
        return True
    from .state.sqlite import SqliteStore

    try:
        SqliteStore(settings.state.state_file).close()
    except StateError as error:
        out(f"✗ state: {error}")
        return False
    out(f"✓ state: SQLite file {os.path.abspath(settings.state.state_file)} (kept across restarts)")
    return True


def policy_summary(settings: Settings) -> str:
    """Who may look up executions where, in one line."""
    who = ("everyone in the installing workspace" if not (settings.policy.allowed_users or settings.policy.allowed_usergroups)
           else f"{len(settings.policy.allowed_users)} listed people and members of {len(settings.policy.allowed_usergroups)} "
                "user group(s)")
    parts = [who]
    if settings.policy.allowed_channels:
        parts.append(f"in {len(settings.policy.allowed_channels)} listed channel(s) and DMs with the app")
    if settings.policy.denied_channels:
        parts.append(f"never in {len(settings.policy.denied_channels)} denied channel(s)")
    parts.append("Slack Connect channels " + ("allowed" if settings.policy.allow_shared_channels else "get no details"))
    parts.append(f"audit log: {'standard output' if settings.tuning.audit_log == '-' else settings.tuning.audit_log}")
    return "; ".join(parts)


def _partial(env: Mapping[str, str], *, need_slack: bool, need_qualys: bool) -> Settings | None:
    try:
        return load_settings(env, need_slack=need_slack, need_qualys=need_qualys)
    except ConfigError:
        return None


def _installation(auth: Mapping[str, object]) -> str:
    """What the token is installed on, in words: a workspace, a workspace of a Grid organisation, or
    the whole organisation (then its people are members whichever workspace they are in)."""
    from .slack.access import home_of

    home, name = home_of(auth), auth.get("team")
    if home and home.org_wide:
        return (f"installed org-wide on Enterprise Grid organisation {home.enterprise} ({name!r}): people of "
                "every workspace of the organisation are members")
    if home and home.enterprise:
        return (f"installed on workspace {name!r} of Enterprise Grid organisation {home.enterprise} (people of "
                "its other workspaces are members too)")
    return f"installed on workspace {name!r}"


def _check_slack(settings: Settings, out: Print) -> bool:
    client = build_web_client(settings)
    try:
        auth = client.auth_test()
    except SlackApiError as e:
        code = str(e.response.get("error", "unknown_error"))
        out(f"✗ Slack: auth.test failed ({code}): {SLACK_HINTS.get(code, 'see https://api.slack.com/methods/auth.test')}")
        return False
    except Exception as e:  # urllib errors: DNS, refused, TLS
        out(f"✗ Slack: could not reach {settings.slack_api_url} ({type(e).__name__}): check SLACK_API_URL and the network")
        return False
    out(f"✓ Slack: bot token works: {_installation(auth.data if isinstance(auth.data, dict) else {})}, "
        f"bot user @{auth.get('user')}")
    granted = {s.strip() for s in (auth.headers.get("x-oauth-scopes") or auth.headers.get("X-OAuth-Scopes") or "").split(",")
               if s.strip()}
    if granted:
        wanted = [*SCOPES, *(["usergroups:read"] if settings.policy.allowed_usergroups else [])]
        missing = [scope for scope in wanted if scope not in granted]
        if missing:
            out(f"✗ Slack: the bot token lacks {', '.join(missing)}: update the app from manifest.yml "
                "(App Manifest) and reinstall it to the workspace")
            return False
        out("✓ Slack: the bot token has every scope the app uses")
    app_token = secret(settings.slack.app_token)
    if settings.mode == "socket" and app_token:
        try:
            build_web_client(settings, token="").apps_connections_open(app_token=app_token)
            out("✓ Slack: app-level token can open Socket Mode connections")
        except SlackApiError as e:
            code = str(e.response.get("error", "unknown_error"))
            out(f"✗ Slack: SLACK_APP_TOKEN was refused ({code}): create an app-level token with connections:write "
                "and turn Socket Mode on in the app settings")
            return False
        except Exception as e:
            out(f"✗ Slack: could not open a Socket Mode connection ({type(e).__name__})")
            return False
    return True


def _check_qualys(settings: Settings, out: Print, execution_id: str | None) -> bool:
    from .wiring import build_qflow_client, build_qflow_http, build_token_provider

    static_token = secret(settings.qualys.token)
    if static_token:
        exp = jwt_expiry(static_token)
        if exp is not None and exp < time.time():
            when = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d %H:%M UTC")
            out(f"✗ Qualys: QUALYS_TOKEN expired at {when}: get a new JWT, or use a service account "
                "(QUALYS_USERNAME + QUALYS_PASSWORD) so the app renews tokens itself")
            return False
    if not secret(settings.qualys.token):
        tokens = build_token_provider(settings, build_qflow_http(settings))
        try:
            exp = jwt_expiry(tokens.token())
        except AuthenticationFailed as e:
            out(f"✗ Qualys: the service account could not log in at {settings.qualys_gateway_url}/auth "
                f"(HTTP {e.status_code}): check QUALYS_USERNAME and QUALYS_PASSWORD")
            return False
        except QFlowError as e:
            out(f"✗ Qualys: getting a token at {settings.qualys_gateway_url}/auth: "
                f"{words_for(e).admin(e, settings.qualys_gateway_url or '')}")
            return False
        until = datetime.fromtimestamp(exp, UTC).strftime("%H:%M UTC") if exp else "an unknown time"
        out(f"✓ Qualys: the service account logged in (its token lasts until {until}; the app renews it)")
    client = build_qflow_client(settings)
    target = execution_id or PROBE_ID
    try:
        execution = client.get_execution(target, include_steps=False)
    except ExecutionNotFound:
        if execution_id:
            out(f"✗ Qualys: execution {execution_id} was not found (or is older than 30 days); the token works")
            return False
        out(f"✓ Qualys: {settings.qualys_gateway_url} accepted the service token (a probe id was not found, as expected)")
        return True
    except QFlowError as e:  # what each error means to an admin: one table, render/errors.py
        out(f"✗ Qualys: {words_for(e).admin(e, settings.qualys_gateway_url or '')}")
    else:
        out(f"✓ Qualys: execution {target} found (status {execution.status or 'unknown'})")
        return True
    return False
