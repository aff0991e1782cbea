#!/usr/bin/env bash
# Install what is needed and run the demo on the embedded default (SQLite under ./var).
# Extra arguments go to `exam-engine demo` (e.g. --host 127.0.0.1 --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv
exec .venv/bin/exam-engine demo "$@"
