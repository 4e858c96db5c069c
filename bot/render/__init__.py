"""Pure Block Kit rendering: data in, messages out, every Slack limit kept here."""

from .blocks import ACTION_PREFIX
from .card import render_execution_card
from .message import SlackMessage, limit_problems
from .messages import render_help, render_invalid_id, render_lookup_error, render_usage
from .state import BadButtonValue, CardState, parse_state

__all__ = [
    "ACTION_PREFIX", "BadButtonValue", "CardState", "SlackMessage", "limit_problems", "parse_state",
    "render_execution_card", "render_help", "render_invalid_id", "render_lookup_error", "render_usage",
]
