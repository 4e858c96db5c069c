"""`python -m bot` / `qflow-bot`: run the app, or `preview` a card, or `doctor` the setup."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import load_dotenv

from .config import ConfigError, Mode, Settings, load_settings, secret
from .logs import configure_logging, scrubber
from .render.state import View

if TYPE_CHECKING:
    from .wiring import Wired

log = logging.getLogger("bot")

SECRET_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "QUALYS_TOKEN", "QUALYS_PASSWORD")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qflow-bot", description="QFlow for Slack. With no subcommand it serves Slack: in Socket Mode when "
        "SLACK_APP_TOKEN is set, otherwise over HTTP on $PORT (default 3000), POST /slack/events and GET /healthz.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("help", help="show this help")
    sub.add_parser("http", help="serve over HTTP on $PORT even if SLACK_APP_TOKEN is set")
    sub.add_parser("socket", help="connect in Socket Mode (needs SLACK_APP_TOKEN)")
    preview = sub.add_parser("preview", help="print the Block Kit JSON of a card")
    preview.add_argument("target", help="an execution id or link (live API), or a JSON file of an API response")
    views = preview.add_mutually_exclusive_group()
    views.add_argument("--steps", action="store_true", help="with the steps expanded")
    views.add_argument("--errors", action="store_true", help="with the errors expanded")
    preview.add_argument("--page", type=int, default=1, help="page of steps or errors (from 1)")
    preview.add_argument("--unfurl", action="store_true", help="the compact form a pasted link unfurls into")
    preview.add_argument("--workflow", metavar="FILE", type=Path,
                         help="a saved workflow-details answer (GET /workflows/{id}) naming the workflow and its steps")
    preview.add_argument("--text", action="store_true", help="the card as plain text instead of Block Kit JSON")
    doctor = sub.add_parser("doctor", help="check the settings, Slack and Qualys")
    doctor.add_argument("--execution", help="also look up this execution id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv(Path.cwd() / ".env", override=False)  # the working directory's only, as the README says
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "help":
        parser.print_help()
        return 0
    if args.command == "preview":
        return _preview(args)
    if args.command == "doctor":
        return _doctor(args)
    mode: Mode | None = args.command if args.command in ("http", "socket") else None
    return _serve(mode)


def load_for_serving(mode: Mode | None) -> Settings | int:
    """The settings, with logging configured from them; or the exit code after saying what is wrong."""
    try:
        settings = load_settings(os.environ, mode=mode)
    except ConfigError as error:
        if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":  # a log collector reads this too
            configure_logging("ERROR", (os.environ.get(name, "") for name in SECRET_VARIABLES), json_lines=True)
            log.error("%s", error)
        else:
            print(error, file=sys.stderr)
        return 2
    configure_logging(settings.tuning.log_level, settings.secrets, patterns=settings.tuning.redact_patterns,
                      debug_libraries=settings.tuning.debug_libraries, json_lines=settings.tuning.log_format == "JSON")
    return settings


def build_for_serving(settings: Settings) -> Wired | int:
    """The running app, or the exit code after saying why it cannot start."""
    from .wiring import build

    # Settings hold the token now; Bolt would otherwise read it again from the environment
    # and warn that the configured client wins.
    os.environ.pop("SLACK_BOT_TOKEN", None)
    try:
        return build(settings)
    except Exception as error:
        return _cannot_start(settings, error)


def preflight(settings: Settings) -> int:
    """What would stop every worker process, checked once before any starts (0: nothing): the state file
    and the bot token. The same words and exit codes as one process."""
    from .wiring import build_store, build_web_client

    try:
        build_store(settings).close()
        build_web_client(settings).auth_test()
    except Exception as error:
        return _cannot_start(settings, error)
    return 0


def _cannot_start(settings: Settings, error: Exception) -> int:
    from .state import StateError

    if isinstance(error, StateError):  # a state file that cannot be used: nothing would be remembered
        log.error("%s", error)
        return 2
    if isinstance(error, OSError):  # auth.test at start could not reach Slack at all (DNS, refused, TLS…)
        log.error("Could not reach Slack at %s (%s). Check SLACK_API_URL and the network, then run "
                  "`scripts/run doctor`.", settings.slack_api_url, getattr(error, "reason", error))
        return 1
    # Slack answered, and refused the token
    log.error("Slack did not accept SLACK_BOT_TOKEN (auth.test at %s): %s. Run `scripts/run doctor` for details.",
              settings.slack_api_url, error)
    return 1


def _serve(mode: Mode | None) -> int:
    settings = load_for_serving(mode)
    if isinstance(settings, int):
        return settings
    if settings.mode == "http" and settings.tuning.web_concurrency > 1:
        # Several worker processes, each the whole app (state shared through the store): gunicorn. What
        # would stop them all is said once, here, rather than by each worker as it fails to boot.
        problem = preflight(settings)
        if problem:
            return problem
        log.info("starting %d worker processes (WEB_CONCURRENCY) with gunicorn", settings.tuning.web_concurrency)
        sys.stdout.flush()
        sys.stderr.flush()
        argv = [sys.executable, "-m", "gunicorn", "--config", "python:bot.gunicorn_conf", "bot.wsgi:create_app()"]
        os.execv(sys.executable, argv)
    from .slack.server import serve_http, serve_socket_mode

    wired = build_for_serving(settings)
    if isinstance(wired, int):
        return wired
    app_token = secret(settings.slack.app_token)
    if settings.mode == "socket" and app_token:
        serve_socket_mode(wired.bolt, app_token, on_stop=wired.shutdown, metrics=wired.metrics,
                          details=wired.health, health_host=settings.slack.host,
                          health_port=settings.socket_health_port, interpreter_cpu=settings.tuning.interpreter_cpu)
    else:
        serve_http(wired.bolt, settings.slack.host, settings.slack.port, on_stop=wired.shutdown,
                   threads=settings.tuning.http_threads, signing_secret=secret(settings.slack.signing_secret),
                   metrics=wired.metrics, details=wired.health, interpreter_cpu=settings.tuning.interpreter_cpu)
    return 0


def _preview(args: argparse.Namespace) -> int:
    from .preview import PreviewError, preview_file, preview_live, target_kind

    view: View = "steps" if args.steps else "errors" if args.errors else "summary"
    page = max(0, args.page - 1)
    kind = target_kind(args.target)
    scrub = scrubber(os.environ.get(name, "") for name in SECRET_VARIABLES)
    try:
        if kind == "file":
            settings = load_settings(os.environ, need_slack=False, need_qualys=False)
            message, ok = preview_file(Path(args.target), settings, view, page, unfurl=args.unfurl,
                                       workflow=args.workflow), True
        elif kind == "id":
            from .links import execution_id_in_token

            settings = load_settings(os.environ, need_slack=False, need_qualys=True)
            configure_logging("WARNING", settings.secrets)
            message, ok = preview_live(execution_id_in_token(args.target) or "", settings, view, page,
                                       unfurl=args.unfurl)
        else:
            print(f"qflow-bot preview: {args.target!r} is neither a JSON file nor an execution id "
                  "(a UUID like 0e71f117-648f-4ad2-a3a9-8f1b857a1b70, or its link)", file=sys.stderr)
            return 2
    except ConfigError as error:
        print(scrub(str(error)), file=sys.stderr)
        return 2
    except PreviewError as error:
        print(f"qflow-bot preview: {scrub(str(error))}", file=sys.stderr)
        return 2
    if args.text:
        from .render.plain import message_as_text

        print(scrub(message_as_text(message.payload())))
    else:
        print(scrub(json.dumps(message.payload(), indent=2, ensure_ascii=False)))
    return 0 if ok else 1


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    scrub = scrubber(os.environ.get(name, "") for name in SECRET_VARIABLES)
    # The checklist says what failed and how to fix it: library log lines would only repeat it, rawly.
    configure_logging("CRITICAL", [os.environ.get(name, "") for name in SECRET_VARIABLES])
    return run_doctor(os.environ, lambda line: print(scrub(line), flush=True), args.execution)


if __name__ == "__main__":
    sys.exit(main())
