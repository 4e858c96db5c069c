"""Hostile inputs shared by the reliability suite and benchmarks/hostile_acks.py: texts built to make
a careless parser quadratic (unclosed Slack links and mentions, runs of URL and UUID fragments),
button values of every wrong shape, and links that disguise another host as Qualys."""

from __future__ import annotations

import json

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


def repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def hostile_texts(size: int = 38_000) -> dict[str, str]:
    """Each a message or command text of about `size` characters."""
    return {
        "unclosed Slack links": repeat("<https://a.example|x", size),
        "unclosed mentions": repeat("<@U1|", size),
        "label runs": "<https://a.example|" + repeat("x", size),
        "nested brackets": repeat("<<<<>", size),
        "execution= runs": repeat("execution=", size),
        "slash runs after execution": "https://qualysguard.qualys.com/execution" + repeat("/", size),
        "one long URL": "https://qualysguard.qualys.com/" + repeat("a-", size),
        "URL scheme runs": repeat("https://", size),
        "UUID-like runs": repeat(EID[:-1] + "-", size),
        "hex runs": repeat("0123456789abcdef", size),
        "secret-key runs": repeat("password=", size),
        "quotes and backslashes": repeat('\\"token\\": \\"', size),
        "whitespace": repeat(" \t\n", size),
        "emoji and invisible": repeat("🔥\u202e\u200b", size),
    }


def hostile_button_values() -> dict[str, object]:
    """Button values no card of ours ever carries."""
    return {
        "nested 1,900 deep": "[" * 950 + "]" * 950,
        "unclosed nesting": "{" * 1999,
        "2,000 characters": "x" * 2000,
        "too long": "y" * 5000,
        "a number": 12,
        "a list": [1, 2],
        "an object": {"e": EID},
        "null": None,
        "JSON of wrong types": json.dumps({"e": [EID], "v": {"x": 1}, "p": "9" * 400, "x": []}),
        "NaN": '{"e": "' + EID + '", "p": NaN}',
        "huge page": json.dumps({"e": EID, "v": "t", "p": 10**400}),
    }


# Links whose host, as a browser reads it, is not Qualys (each must be left alone)...
DISGUISED_LINKS = [
    "https://evil.example\\@qualysguard.qualys.com/e/{id}",
    "https://qualysguard.qualys.com@evil.example/e/{id}",
    "https://qualysguard.qualys.com:443@evil.example/e/{id}",
    "https://qualysguard.qualys.com.evil.example/e/{id}",
    "https://qualysguаrd.qualys.com/e/{id}",  # a Cyrillic а
    "https://qualysguard.qualys.com%2eevil.example/e/{id}",
    "https://evil.example/qualysguard.qualys.com/e/{id}",
    "https://evil.example/?u=https://qualysguard.qualys.com/e/{id}",
    "javascript://qualysguard.qualys.com/%0aalert(1)//{id}",
    "https://qualysguard.qualys.com../e/{id}",
]
# ...and ones a browser does open on a Qualys host (each must unfurl).
QUALYS_LINKS = [
    "https://QUALYSGUARD.qualys.com./e/{id}",
    "https://qualysguard%2equalys%2ecom/e/{id}",
    "https://qualysguard.qualys.com:8443/e/{id}",
    "https://user@qualysguard.qualys.com/e/{id}",
]
