#!/usr/bin/env bash
# Sourced by test.sh and bench.sh: starts a throwaway PostgreSQL cluster on a free loopback
# port (installing Debian's postgresql if it is missing), exports WV_TEST_DATABASE_URL, and
# stops and removes the cluster when the calling script exits.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "postgres: installing Debian's postgresql" >&2
    [ "$(id -u)" -eq 0 ] || { echo "postgres: PostgreSQL is missing and this is not root" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pgdir=$(mktemp -d /tmp/wv-postgres.XXXXXX)
pgport=$((20000 + RANDOM % 20000))
as_pg() {
    # initdb refuses to run as root: use the postgres system user then.
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown postgres "$pgdir"
as_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U wv --no-sync >"$pgdir/initdb.log" 2>&1 \
    || { cat "$pgdir/initdb.log" >&2; echo "postgres: initdb failed" >&2; exit 1; }
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
    -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=300 ${WV_PG_OPTIONS:-}" start >/dev/null \
    || { cat "$pgdir/server.log" >&2; echo "postgres: the server did not start" >&2; exit 1; }
wv_stop_postgres() {
    as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
}
trap wv_stop_postgres EXIT
export WV_TEST_DATABASE_URL="postgres://wv@127.0.0.1:$pgport/postgres"
echo "postgres: $("$pgbin/postgres" --version) on port $pgport" >&2
