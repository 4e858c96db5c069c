import json
import re
from datetime import UTC, datetime

import pytest

from bot.qflow.models import parse_execution
from bot.redact import MASK, REMEMBERED_CHARS, Redactor, redact_execution, redact_step
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
    # A value may hold spaces: unquoted, it is masked to the end of its line or the next key.
    ("failed: password=hunter2 for bob", f"failed: password={MASK}"),
    ("password=hunter2 user=bob", f"password={MASK} user=bob"),
    ('config {"api_key": "abcd1234", "region": "us"}', f'config {{"api_key": "{MASK}", "region": "us"}}'),
    ("Authorization: Bearer abcdefghijklmnopqrstu", f"Authorization: {MASK}"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nok", f"aws_secret_access_key = {MASK}\nok"),
    ('{\\"password\\": \\"hun ter\\\\\\"2\\", \\"user\\": \\"bob\\"}',
     f'{{\\"password\\": \\"{MASK}\\", \\"user\\": \\"bob\\"}}'),
    ("Authorization: Token abc def", f"Authorization: {MASK}"),
    ("curl -H 'X-Api-Key: s3cr3t value' https://x", f"curl -H 'X-Api-Key: {MASK} https://x"),
    ("GET https://api.example/v1?access_token=abc123&page=2", f"GET https://api.example/v1?access_token={MASK}&page=2"),
    ("blob https://acct.blob.core.windows.net/c?sv=2020&sig=abcDEF%2B123&se=1", f"blob https://acct.blob.core.windows.net/c?sv=2020&sig={MASK}&se=1"),
    ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc+def==;EndpointSuffix=x",
     f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={MASK};EndpointSuffix=x"),
    ("clone https://user:p@ss@git.example/x", f"clone https://{MASK}@git.example/x"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----", MASK),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOY (cut off", MASK),
    ("key AIzaSyA1234567890abcdefghijklmnopqrstuv here", f"key {MASK} here"),
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
    assert redacted.variables == [f"token={MASK}", "ok=1"]
    assert redact_step(e.steps[0], r).error_text == f"boom password={MASK}"
    for view in ("summary", "steps", "errors"):
        for compact in (False, True):
            message = render_execution_card(e, CardState(EID, view, compact=compact), fetched_at=NOW, redactor=r)
            assert "hunter2" not in json.dumps(message.payload())
    assert e.variables == ["token=abc", "ok=1"]  # the original is untouched


def test_a_page_of_a_huge_execution_masks_only_the_steps_it_shows():
    calls = []

    class Counting(Redactor):
        def text(self, text):
            calls.append(text)
            return super().text(text)

    steps = [{"eventOrder": i, "status": "Failed", "name": f"n{i}", "error": f"e{i}"} for i in range(30_000)]
    e = parse_execution({"status": "Failed", "steps": steps})
    for view in ("summary", "steps", "errors"):
        calls.clear()
        render_execution_card(e, CardState(EID, view, page=7), fetched_at=NOW, redactor=Counting())
        shown = {"e0", *(f"e{i}" for i in (*range(35, 40), *range(70, 80)))}  # first error, a page of each view
        assert {f"e{i}" for i in range(30_000)} & set(calls) <= shown
        assert len(calls) < 200


def test_only_what_can_be_shown_is_scanned():
    e = parse_execution({"variables": [f"k{i}=v" for i in range(500)]})
    redacted = redact_execution(e, r)
    assert len(redacted.variables) == 500 and redacted.variables[0] == "k0=v" and redacted.variables[-1] == MASK


# --- secrets in the shapes real errors have, generated ---------------------------------------------

from urllib.parse import quote  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_RUN = "QWXZJ0123456789"  # the secret's telltale runs: letters no template word has
runs = st.text(alphabet=_RUN, min_size=4, max_size=12)
filler = st.text(alphabet=" !#$%^*()[]{}|.,/?+-_@~'\"\\", max_size=3)
# A secret: telltale runs between punctuation, spaces and quotes (no `key=`/`key:` inside, no line breaks).
secrets = st.lists(st.tuples(filler, runs), min_size=1, max_size=4).map(lambda parts: "".join(a + b for a, b in parts))
tokens = st.lists(runs, min_size=3, max_size=4).map("-".join)  # no spaces, 14+ characters: a credential

SHAPES = {
    "unquoted, several words": lambda s, t: f"login failed: password={s}",
    "JSON": lambda s, t: json.dumps({"user": "bob", "password": s}),
    "escaped JSON": lambda s, t: json.dumps(json.dumps({"api_key": s, "region": "us"})),
    "nested escaped JSON": lambda s, t: json.dumps({"body": json.dumps({"db": {"client_secret": s}})}),
    "Python repr": lambda s, t: f"config={ {'token': s} }",
    "header, Bearer": lambda s, t: f"request failed\nAuthorization: Bearer {t}\nHost: x",
    "header, Token scheme": lambda s, t: f"Authorization: Token {s}",
    "header, API key": lambda s, t: f"X-Api-Key: {s}",
    "cookie": lambda s, t: f"Cookie: session_id={t}; theme=dark",
    "URL password": lambda s, t: f"clone https://deploy:{quote(s, safe='')}@git.example.com/repo failed",
    "URL token parameter": lambda s, t: f"GET https://api.example.com/v1?access_token={quote(s, safe='')}&page=2",
    "scheme word in prose": lambda s, t: f"sent bearer {t} to upstream",
    "PEM": lambda s, t: f"key: -----BEGIN RSA PRIVATE KEY-----\n{t}\n{t}\n-----END RSA PRIVATE KEY-----",
    "PEM cut off": lambda s, t: f"-----BEGIN EC PRIVATE KEY-----\\n{t}",
    "double quoted": lambda s, t: 'secret="' + s.replace('"', "") + '" next',
    "single quoted": lambda s, t: "db_password='" + s.replace("'", "") + "' next",
}


@given(st.sampled_from(sorted(SHAPES)), secrets, tokens)
def test_no_secret_survives_in_any_shape(shape, secret, token):
    text = SHAPES[shape](secret, token)
    out = Redactor().text(f"step error: {text} (exit 1)")
    leaked = [run for run in re.findall(f"[{_RUN}]{{4,}}", secret + " " + token) if run in out]
    assert not leaked, (shape, text, out)


@given(st.sampled_from([
    lambda r: "AKIA" + r[:16].ljust(16, "Q"), lambda r: "AIza" + (r * 4)[:35].ljust(35, "Q"),
    lambda r: "xoxb-1234-" + r, lambda r: "xapp-1-" + r, lambda r: "ghp_" + (r * 5)[:36].ljust(36, "Q"),
    lambda r: "eyJhbGciOiJIUzI1NiJ9.eyJ" + r + "0.sig" + r, lambda r: "github_pat_" + (r * 3)[:22].ljust(22, "Q"),
    lambda r: "https://hooks.slack.com/services/T000/B000/" + r,
]), runs.filter(lambda r: len(r) >= 8))
def test_cloud_keys_and_tokens_are_masked_without_a_key(make, run):
    value = make(run)
    assert run not in Redactor().text(f"value {value} seen")


@given(secrets)
def test_own_secrets_are_masked_raw_json_escaped_and_percent_encoded(secret):
    own = "Own-" + secret
    redactor = Redactor(own_secrets=[own])
    for form in (own, json.dumps(own)[1:-1], quote(own, safe="")):
        assert form not in redactor.text(f"x {form} y")


def test_a_field_added_to_the_models_later_cannot_escape_redaction():
    from bot.qflow.coerce import OptStr
    from bot.qflow.models import Execution, Step

    class NewStep(Step):
        runbook_note: OptStr = None

    class NewExecution(Execution):
        owner_note: OptStr = None
        extra_details: dict = {}

    secret = "password=hunter2"
    e = NewExecution.model_validate({"ownerNote": f"x {secret}", "extraDetails": {"a": [{"b": secret}]}})
    redacted = redact_execution(e, r)
    assert redacted.owner_note == f"x password={MASK}" and "hunter2" not in json.dumps(redacted.extra_details)
    step = NewStep.model_validate({"runbookNote": secret})
    assert redact_step(step, r).runbook_note == f"password={MASK}"


class _CountedScans:
    """Stands in for a Redactor's pattern: counts the texts scanned."""

    def __init__(self, pattern):
        self.pattern, self.scanned = pattern, []

    def sub(self, mask, text):
        self.scanned.append(text)
        return self.pattern.sub(mask, text)


@given(st.sampled_from(sorted(SHAPES)), secrets, tokens)
def test_a_text_masked_again_is_masked_the_same_from_what_was_kept(shape, secret, token):
    text = SHAPES[shape](secret, token)
    kept, fresh = Redactor(), Redactor(remembered=0)
    kept._values = _CountedScans(kept._values)
    first, again = kept.text(text), kept.text(text)
    assert first == again == fresh.text(text) == fresh.text(text)
    assert kept._values.scanned == ([text] if len(text) <= REMEMBERED_CHARS else [text, text])


def test_what_is_kept_is_bounded_and_long_texts_are_not_kept():
    redactor = Redactor(remembered=3)
    for n in range(10):
        assert redactor.text(f"step {n}: password=hunter{n}") == f"step {n}: password={MASK}"
    long = "token=" + "y" * REMEMBERED_CHARS
    assert redactor.text(long) == f"token={MASK}"
    info = redactor._remembered.cache_info()
    assert info.currsize == 3 and info.misses == 10  # the long text went round the memory
    assert redactor.text("step 9: password=hunter9") == f"step 9: password={MASK}"
    assert redactor._remembered.cache_info().hits == 1


def test_log_lines_are_not_kept():
    from bot.logs import ScrubbingFormatter

    formatter = ScrubbingFormatter("%(message)s", ["own-Passw0rd!"])
    assert formatter._redactor._remembered == formatter._redactor._mask
