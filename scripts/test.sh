#!/usr/bin/env bash
# Install what is needed and run the whole test suite against real PostgreSQL and Redis.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/system_packages.sh
. scripts/_venv.sh
ensure_venv test
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
