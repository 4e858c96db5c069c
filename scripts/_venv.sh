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
  "$venv/bin/python" -m pip install --quiet -r requirements.txt >&2
  "$venv/bin/python" -m pip install --quiet -e ".${extras:+[$extras]}" >&2
  rm -f "$venv"/.installed-* && touch "$stamp"
fi
