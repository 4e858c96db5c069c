"""Every setting the app reads is documented in the README and in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented():
    source = (ROOT / "bot" / "config.py").read_text()
    names = set(re.findall(r'"((?:SLACK|QUALYS|QFLOW)_[A-Z_]+|PORT|HOST|LOG_LEVEL)"', source))
    assert len(names) >= 20
    readme, example = (ROOT / "README.md").read_text(), (ROOT / ".env.example").read_text()
    assert sorted(n for n in names if n not in readme) == []
    assert sorted(n for n in names if n not in example) == []
