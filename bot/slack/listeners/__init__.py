"""Thin Bolt listeners: acknowledge at once, hand the work to the Answers service."""

from slack_bolt import App

from . import actions, commands, events, shortcuts


def register_listeners(app: App, command: str = "/qflow") -> None:
    commands.register(app, command)
    actions.register(app)
    events.register(app)
    shortcuts.register(app)
