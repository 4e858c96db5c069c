"""What deployment platforms read stays in step with the project: requirements.txt pins versions
pyproject.toml admits (and this test run uses), and the image starts the app as the Procfile does."""

import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, pinned = line.split("==")
            found[canonicalize_name(name)] = pinned.strip()
    return found


def test_requirements_pin_what_pyproject_admits_and_what_the_tests_run_with():
    pinned = pins()
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "." in lines  # installs this package itself
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not pinned in requirements.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name], spec)
    for name, pinned_version in pinned.items():
        assert version(name) == pinned_version, f"{name}: tests ran with {version(name)}, requirements.txt pins {pinned_version}"


def test_python_version_is_one_the_project_supports():
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.fullmatch(r"3\.1[1-9]", (ROOT / ".python-version").read_text().strip())
    assert wanted == ">=3.11"


def test_the_image_starts_the_app_as_the_procfile_does_and_holds_no_secret():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    dockerfile = (ROOT / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert " ".join(json.loads(cmd)) == procfile["web"]
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M) and re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert "/healthz" in dockerfile and "HEALTHCHECK" in dockerfile
    assert not re.search(r"(SLACK|QUALYS)_[A-Z_]*=", dockerfile) and "COPY .env" not in dockerfile
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
