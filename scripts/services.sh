#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, database `test`) and Redis (127.0.0.1:6379) answer.
# Starts them when they are installed but stopped; installs them on a fresh Debian machine
# when run as root. Exits non-zero, saying why, when it cannot: the tests must not skip.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || python3 - <<'PY' 2>/dev/null
import socket; socket.create_connection(("127.0.0.1", 5432), 1).close()
PY
}
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    as_root && command -v apt-get >/dev/null || return 1
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

start_pg() {
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        echo "PostgreSQL is not installed; installing it" >&2
        apt_install postgresql || return 1
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
    pg_up || return 1
    # A fresh cluster: let the tests' user in and create the `test` database (trust on 127.0.0.1).
    if ! psql -h 127.0.0.1 -d test -c 'select 1' >/dev/null 2>&1 && as_root; then
        local user
        user=$(id -un)
        su postgres -c "psql -q -c \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='$user') THEN CREATE ROLE \\\"$user\\\" SUPERUSER LOGIN; END IF; END\\\$\\\$\"" >/dev/null 2>&1 || true
        su postgres -c "createdb -O '$user' test" >/dev/null 2>&1 || true
        local hba
        hba=$(su postgres -c "psql -tAc 'show hba_file'" 2>/dev/null)
        if [ -n "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
            sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
            pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
        fi
    fi
}

start_redis() {
    if ! command -v redis-server >/dev/null; then
        echo "Redis is not installed; installing it" >&2
        apt_install redis-server || return 1
    fi
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 \
      || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1
    for _ in $(seq 1 40); do redis_up && break; sleep 0.25; done
}

pg_up || start_pg
redis_up || start_redis
ok=0
if pg_up; then echo "PostgreSQL answers on 127.0.0.1:5432"; else echo "FAIL: PostgreSQL is not answering on 127.0.0.1:5432 and could not be started" >&2; ok=1; fi
if redis_up; then echo "Redis answers on 127.0.0.1:6379"; else echo "FAIL: Redis is not answering on 127.0.0.1:6379 and could not be started" >&2; ok=1; fi
exit $ok
