"""Every setting the app reads is documented in the README and in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented():
    source = (ROOT / "bot" / "config.py").read_text() + (ROOT / "bot" / "config_groups.py").read_text()
    names = set(re.findall(r'"((?:SLACK|QUALYS|QFLOW)_[A-Z_]+|PORT|HOST|LOG_[A-Z]+|REDIS_URL|WEB_CONCURRENCY)"', source))
    assert len(names) >= 20
    readme, example = (ROOT / "README.md").read_text(), (ROOT / ".env.example").read_text()
    assert sorted(n for n in names if n not in readme) == []
    assert sorted(n for n in names if n not in example) == []


def test_the_security_section_promises_what_the_tests_check():
    readme = (ROOT / "README.md").read_text()
    security = " ".join(readme[readme.index("## Security"):readme.index("## Layout")].split())
    # Each phrase is a promise a test holds the app to (tests/e2e/test_hardening.py, tests/reliability,
    # tests/unit/test_redact.py, test_links.py, test_policy.py, test_hostile_text.py, qflow/test_retry.py).
    for promise in ("A rule whose fact is unknown refuses", "the host a browser would open",
                    "JSON escaped inside JSON at any depth", "cannot end the card's own bold labels",
                    "Bidirectional overrides, zero-width", "checked before anything parses the body",
                    "refused with 413 without being buffered", "A button value of any shape", "clamped to 0–3600 s",
                    "however slowly it drips", "one slow answer never delays other people's lookups",
                    "stay at INFO unless `QFLOW_DEBUG_LIBRARIES=true`", "a card masks only the steps it shows",
                    "`COMPOSER`", "preview_skipped"):
        assert promise in security, promise


def test_the_readme_sample_card_is_what_preview_prints(monkeypatch, capsys):
    from bot.__main__ import main

    readme = (ROOT / "README.md").read_text()
    sample = readme[readme.index("```\n❌") + 4:]
    sample = sample[:sample.index("```")]
    command = " ".join(readme[readme.index("That is `") + 9:].split("`", 1)[0].split())
    env, _, args = command.partition(" scripts/run ")
    for name in [n for n in __import__("os").environ if n.startswith(("SLACK_", "QUALYS_", "QFLOW_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(*env.split("=", 1))
    monkeypatch.chdir(ROOT)
    assert main(args.split()) == 0
    printed = capsys.readouterr().out
    as_of = re.compile(r"as of [^\n]*UTC")
    assert as_of.sub("as of …", printed) == as_of.sub("as of …", sample)
    assert "Remediate public S3 buckets" in printed and "Only public buckets" in printed
