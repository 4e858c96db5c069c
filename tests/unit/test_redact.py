import pytest

from bot.redact import MASK, redact_pairs


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
    ("db=postgres://admin:pw@db.example/x", f"db={MASK}"),
    ("site=https://example.com/a?b=c", "site=https://example.com/a?b=c"),
    ("xoxp-123456789012-abcdefghij", MASK),
    ("created_by=0ffaf046-768b-79fc-83f6-aa25be52c2a1", "created_by=0ffaf046-768b-79fc-83f6-aa25be52c2a1"),
])
def test_secret_keys_and_values_are_masked_and_keys_stay(item, expected):
    assert redact_pairs([item]) == [expected]


def test_long_values_without_secrets_pass_through():
    # benchmarks/render.py prints how long this takes (a quadratic pattern once took seconds).
    values = [f"k{i}=" + "y" * 20_000 for i in range(20)] + ["u=" + "http:" * 4000]
    assert redact_pairs(values) == values
