#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the tests and prints its URL on the last line:
#   url=$(bash scripts/pg-scratch.sh start DIR [PORT])   ...   bash scripts/pg-scratch.sh stop DIR
# PostgreSQL refuses to run as root, so as root the cluster runs as the 'postgres' user (created by
# Debian's postgresql package). It listens on 127.0.0.1 only, with trust auth on that address.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?data folder}; port=${3:-54329}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pg-scratch: PostgreSQL is not installed" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_pg "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -h 127.0.0.1 -k $dir -c fsync=on -c max_connections=300" start >/dev/null
    as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'hailong'" | grep -q 1 \
        || as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres hailong
    echo "postgresql://postgres@127.0.0.1:$port/hailong"
    ;;
stop)
    as_pg "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    ;;
*) echo "pg-scratch: start|stop" >&2; exit 2 ;;
esac
