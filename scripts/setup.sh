#!/usr/bin/env bash
# Set up coprod-sim in ./.venv on Python 3.12 (Mesa 3.5 needs it).
#   bash scripts/setup.sh          runtime: the package and the `coprod` command
#   bash scripts/setup.sh --test   also the test tools, and Chromium for the browser test
# Set PYTHON=/path/to/python3.12 to choose the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

is_py312() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

find_python() {
    local candidates=("${PYTHON:-}" python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12)
    if command -v pyenv >/dev/null 2>&1; then
        candidates+=("$(pyenv root)"/versions/3.12*/bin/python3.12)
    fi
    candidates+=("$HOME"/.pyenv/versions/3.12*/bin/python3.12 python3)
    for c in "${candidates[@]}"; do
        if is_py312 "$c"; then echo "$c"; return 0; fi
    done
    return 1
}

if ! is_py312 .venv/bin/python; then
    if ! py=$(find_python); then
        cat >&2 <<'MSG'
setup: Python 3.12 not found. coprod-sim needs Python 3.12 (Mesa 3.5 requires it).
Looked for $PYTHON, python3.12 on PATH, /usr/bin, /usr/local/bin and pyenv's versions.
Install it (e.g. `pyenv install 3.12`, or your OS package python3.12) or point PYTHON at it:
  PYTHON=/path/to/python3.12 bash scripts/setup.sh
MSG
        exit 1
    fi
    echo "setup: creating .venv with $py"
    rm -rf .venv
    "$py" -m venv .venv
fi

.venv/bin/python -m pip install --quiet --upgrade pip
if [ $want_test = 1 ]; then
    .venv/bin/python -m pip install --quiet -e ".[test]"
    if ! command -v chromium >/dev/null 2>&1; then
        echo "setup: installing Chromium (Debian package) for the browser test"
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        else
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        fi
    fi
else
    .venv/bin/python -m pip install --quiet -e .
fi
echo "setup: ready ($(.venv/bin/python --version), coprod $(.venv/bin/coprod --version))"
