import pytest

from bot.command import BadId, Help, Lookup, Usage, parse_command

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


@pytest.mark.parametrize("text,expected", [
    ("", Help()), ("   ", Help()), (None, Help()), ("help", Help()), ("HELP", Help()),
    (f"execution {EID}", Lookup(EID)),
    (f"execution {EID.upper()}", Lookup(EID)),
    (f"execution {EID} steps", Lookup(EID, "steps")),
    (f"Execution {EID} STEPS", Lookup(EID, "steps")),
    (f"execution {EID} errors", Lookup(EID, "errors")),
    (EID, Lookup(EID)),
    (f"{EID} steps", Lookup(EID, "steps")),
    (f"execution https://qualysguard.qualys.com/qflow/#/executions/{EID}", Lookup(EID)),
    (f"<https://qualysguard.qualys.com/x/execution/{EID}|the run>", Lookup(EID)),
    ("execution abc", BadId("abc")),
    ("execution 0e71f117-648f-4ad2-a3a9", BadId("0e71f117-648f-4ad2-a3a9")),
    ("0e71f117-648f-4ad2-a3a9-8f1b857a1b7g", BadId("0e71f117-648f-4ad2-a3a9-8f1b857a1b7g")),
    ("https://example.com/no-id-here", BadId("https://example.com/no-id-here")),
    ("execution", Usage("")),
    ("status please", Usage("status please")),
    (f"execution {EID} banana", Usage(f"execution {EID} banana")),
])
def test_parse(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("watch 0e71f117-648f-4ad2-a3a9-8f1b857a1b70", "Watch"),
    ("WATCH <https://qualysguard.qualys.com/e/0e71f117-648f-4ad2-a3a9-8f1b857a1b70|run>", "Watch"),
    ("unwatch 0e71f117-648f-4ad2-a3a9-8f1b857a1b70", "Unwatch"),
    ("watches", "Watches"),
    ("watch", "Usage"), ("watch two ids", "Usage"), ("watch nope", "BadId"),
])
def test_watch_commands(text, expected):
    assert type(parse_command(text)).__name__ == expected
