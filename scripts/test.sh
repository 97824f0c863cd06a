#!/usr/bin/env bash
# README command 2: set up, then run every test: the whole suite on the embedded SQLite default,
# and the server tests again on a scratch PostgreSQL cluster (scripts/pg-scratch.sh).
# The two passes run side by side (most tests wait on servers, browsers and timers, so two cores
# serve both); the PostgreSQL pass's output follows the SQLite pass's. HAILONG_SERIAL=1 runs them one
# after the other; HAILONG_SKIP_PG=1 skips the PostgreSQL pass. Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

pg_pass() {
    local url=$1; shift
    echo "== server tests on PostgreSQL ($url) =="
    HAILONG_TEST_DB=postgres HAILONG_TEST_PG_URL="$url" .venv/bin/python -m pytest "$@"
}

status=0
if [ "${HAILONG_SKIP_PG:-0}" = 1 ]; then
    .venv/bin/python -m pytest "$@" || status=$?
    exit $status
fi

pgdir=$(mktemp -d /tmp/hailong-pg.XXXXXX)
chmod 755 "$pgdir"  # the cluster runs as the postgres user when we are root
port=${HAILONG_PG_PORT:-54329}
url=$(bash scripts/pg-scratch.sh start "$pgdir/data" "$port" | tail -n 1)
trap 'bash scripts/pg-scratch.sh stop "$pgdir/data"; rm -rf "$pgdir"' EXIT

if [ "${HAILONG_SERIAL:-0}" = 1 ]; then
    .venv/bin/python -m pytest "$@" || status=$?
    pg_pass "$url" "$@" || status=$?
    exit $status
fi

pg_log="$pgdir/pg-pass.log"
pg_pass "$url" "$@" >"$pg_log" 2>&1 &
pg_pid=$!
echo "== the PostgreSQL pass runs beside this one; its output follows =="
.venv/bin/python -m pytest "$@" || status=$?
pg_status=0
wait "$pg_pid" || pg_status=$?
cat "$pg_log"
[ "$pg_status" = 0 ] || status=$pg_status
exit $status
