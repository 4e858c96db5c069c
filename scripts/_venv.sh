# Sourced by scripts/run and scripts/test: make .venv with the project installed at the pinned,
# tested versions of requirements.txt, reinstalling only when pyproject.toml or requirements.txt change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "QFlow for Slack needs Python 3.11 or newer (found: $("$py" --version 2>&1 || echo none))." >&2
  echo "Set PYTHON=/path/to/python3.11 and run again." >&2
  exit 1
fi
venv="$root/.venv"
extras="${1:-}"
hash="$(cat pyproject.toml requirements.txt | sha256sum | cut -c1-16)"
stamp="$venv/.installed-$hash${extras:+-$extras}"
# An install with extras also serves a run without them.
if [ ! -f "$stamp" ] && { [ -n "$extras" ] || ! compgen -G "$venv/.installed-$hash*" >/dev/null; }; then
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  log="$venv/.install-log"
  { "$venv/bin/python" -m pip install --quiet -r requirements.txt \
      && "$venv/bin/python" -m pip install --quiet -e ".${extras:+[$extras]}"; } 2>"$log" \
    || { cat "$log" >&2; exit 1; }
  cat "$log" >&2
  # The project's own install must print no build warning; the test run (CI) refuses one.
  if [ "$extras" = test ] && grep -iE "setuptools|build[- ]backend|egg_info|bdist|pyproject|deprecat" "$log" >&2; then
    echo "The install above printed a build warning: fix pyproject.toml (see .venv/.install-log)." >&2
    exit 1
  fi
  rm -f "$venv"/.installed-* && touch "$stamp"
fi
