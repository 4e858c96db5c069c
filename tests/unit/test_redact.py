import json
from datetime import UTC, datetime

import pytest

from bot.qflow.models import parse_execution
from bot.redact import MASK, Redactor, redact_execution
from bot.render import CardState, render_execution_card

EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

r = Redactor(["ACME-[0-9]{6}"], ["xoxb-own-bot-token-1234", "own-Passw0rd!"])


@pytest.mark.parametrize("item,expected", [
    ("region=us-east-1", "region=us-east-1"),
    ("api_password=hunter2", f"api_password={MASK}"),
    ("DB_SECRET=x", f"DB_SECRET={MASK}"),
    ("slack_token=abc", f"slack_token={MASK}"),
    ("ApiKey=abc", f"ApiKey={MASK}"),
    ("private_key=abc", f"private_key={MASK}"),
    ("credentials=abc", f"credentials={MASK}"),
    ("hook=xoxb-123456789012-abcdefghij", f"hook={MASK}"),
    ("aws=AKIAABCDEFGHIJKLMNOP", f"aws={MASK}"),
    ("jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", f"jwt={MASK}"),
    ("h=Bearer abcdefghijklmnop", f"h={MASK}"),
    ("db=postgres://admin:pw@db.example/x", f"db=postgres://{MASK}@db.example/x"),
    ("site=https://example.com/a?b=c", "site=https://example.com/a?b=c"),
    ("xoxp-123456789012-abcdefghij", MASK),
    ("created_by=0ffaf046-768b-79fc-83f6-aa25be52c2a1", "created_by=0ffaf046-768b-79fc-83f6-aa25be52c2a1"),
])
def test_pairs_mask_secret_values_and_keep_keys(item, expected):
    assert r.pairs([item]) == [expected]


@pytest.mark.parametrize("text,expected", [
    ("failed: password=hunter2 for bob", f"failed: password={MASK} for bob"),
    ('config {"api_key": "abcd1234", "region": "us"}', f'config {{"api_key": "{MASK}", "region": "us"}}'),
    ("Authorization: Bearer abcdefghijklmnopqrstu", f"Authorization: {MASK}"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok", f"aws_secret_access_key = {MASK} ok"),
    ("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here", f"key {MASK} here"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY----- after", f"{MASK} after"),
    ("ticket ACME-123456 leaked", f"ticket {MASK} leaked"),  # an operator's pattern
    ("we used xoxb-own-bot-token-1234 and own-Passw0rd!", f"we used {MASK} and {MASK}"),  # our own secrets
    ("sha 3f786850e387550fdab836ed7e6dc57fd6e8ad3a is fine", "sha 3f786850e387550fdab836ed7e6dc57fd6e8ad3a is fine"),
    ("token expired", "token expired"),
    ("AccessDenied: not authorized to perform ec2:DescribeInstances",
     "AccessDenied: not authorized to perform ec2:DescribeInstances"),
])
def test_free_text(text, expected):
    assert r.text(text) == expected


def test_long_values_without_secrets_pass_through():
    # benchmarks/render.py prints what redaction costs; every pattern is linear.
    values = ["y" * 20_000, "password" * 2000, "a=" * 5000, "http:" * 4000]
    assert [r.text(v) for v in values] == values


def test_every_api_text_of_an_execution_is_redacted_before_rendering():
    secret = "password=hunter2"
    e = parse_execution({"status": f"Failed {secret}", "workflowName": f"wf {secret}", "error": secret,
                         "variables": ["token=abc", "ok=1"], "tags": [secret],
                         "categories": {"accounts": [secret]}, "linkedExecutionIds": [secret],
                         "steps": [{"status": "Failed", "name": secret, "error": f"boom {secret}"}]})
    redacted = redact_execution(e, r)
    assert redacted.variables == [f"token={MASK}", "ok=1"] and redacted.steps[0].error_text == f"boom password={MASK}"
    for view in ("summary", "steps", "errors"):
        for compact in (False, True):
            message = render_execution_card(e, CardState(EID, view, compact=compact), fetched_at=NOW, redactor=r)
            assert "hunter2" not in json.dumps(message.payload())
    assert e.variables == ["token=abc", "ok=1"]  # the original is untouched


def test_only_what_can_be_shown_is_scanned():
    e = parse_execution({"variables": [f"k{i}=v" for i in range(500)]})
    redacted = redact_execution(e, r)
    assert len(redacted.variables) == 500 and redacted.variables[0] == "k0=v" and redacted.variables[-1] == MASK
