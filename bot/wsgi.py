"""The app as a WSGI application, for several worker processes (gunicorn, `WEB_CONCURRENCY` > 1).

Each worker process builds the whole app (its Bolt app, work pool and follower) after the fork; state
that must be shared between them lives in the state store (the SQLite file, or Redis across hosts).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from .config import secret

log = logging.getLogger(__name__)
_wired: Any = None
WORKER_BOOT_ERROR = 3  # gunicorn's Arbiter.WORKER_BOOT_ERROR


def create_app() -> Callable[..., Iterable[bytes]]:
    """Build this worker's app (gunicorn calls it in each worker); exits the worker when it cannot start."""
    global _wired
    from .__main__ import build_for_serving, load_for_serving
    from .slack.server import make_wsgi_app

    settings = load_for_serving("http")
    wired = settings if isinstance(settings, int) else build_for_serving(settings)
    if isinstance(wired, int) or isinstance(settings, int):
        # What stops one worker (a corrupt state file, a refused token) stops the others: this exit code
        # makes gunicorn halt, where any other would have it start the worker again, and again.
        sys.exit(WORKER_BOOT_ERROR)
    _wired = wired
    return make_wsgi_app(wired.bolt, lambda: True, secret(settings.slack.signing_secret), wired.metrics, wired.health)


def shutdown() -> None:
    """Finish this worker's acknowledged work (gunicorn's worker_exit)."""
    if _wired is not None:
        _wired.shutdown()
