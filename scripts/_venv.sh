# Shared by demo.sh and test.sh: a virtual environment in ./.venv with the project installed.
# Usage: ensure_venv [extras]
set -euo pipefail

ensure_venv() {
    local extras="${1:-}"
    local py="${PYTHON:-python3}"
    if ! "$py" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        echo "exam-engine needs Python 3.11 or newer as '$py'" >&2
        return 1
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! "$py" -m venv .venv 2>/dev/null; then
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
                rm -rf .venv && "$py" -m venv .venv
            else
                echo "python3 -m venv failed: install python3-venv" >&2
                return 1
            fi
        fi
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    if [ -n "$extras" ]; then
        .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
    else
        .venv/bin/python -m pip install -q --disable-pip-version-check -e .
    fi
}
