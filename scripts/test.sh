#!/usr/bin/env bash
# README command 2: set up, then run every test: the whole suite on the embedded SQLite default,
# then the server tests again on a scratch PostgreSQL cluster (scripts/pg-scratch.sh).
# Extra arguments go to both pytest runs. HAILONG_SKIP_PG=1 skips the PostgreSQL pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

status=0
.venv/bin/python -m pytest "$@" || status=$?

if [ "${HAILONG_SKIP_PG:-0}" != 1 ]; then
    pgdir=$(mktemp -d /tmp/hailong-pg.XXXXXX)
    chmod 755 "$pgdir"  # the cluster runs as the postgres user when we are root
    port=${HAILONG_PG_PORT:-54329}
    url=$(bash scripts/pg-scratch.sh start "$pgdir/data" "$port" | tail -n 1)
    trap 'bash scripts/pg-scratch.sh stop "$pgdir/data"; rm -rf "$pgdir"' EXIT
    echo "== server tests on PostgreSQL ($url) =="
    HAILONG_TEST_DB=postgres HAILONG_TEST_PG_URL="$url" .venv/bin/python -m pytest "$@" || status=$?
fi
exit $status
