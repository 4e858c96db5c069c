"""QFlow for Slack: Qualys QFlow workflow executions as Slack cards."""

__version__ = "0.1.0"
