#!/usr/bin/env bash
# Sourced by test.sh and bench.sh: starts a throwaway PostgreSQL cluster on a free loopback
# port (installing Debian's postgresql if it is missing) with TLS on — a certificate for
# `localhost` signed by a throwaway CA, made with openssl —, exports WV_TEST_DATABASE_URL and
# WV_TEST_DATABASE_CA, and stops and removes the cluster when the calling script exits.
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
if ! command -v openssl >/dev/null; then
    echo "postgres: installing Debian's openssl (for the test cluster's certificate)" >&2
    [ "$(id -u)" -eq 0 ] || { echo "postgres: openssl is missing and this is not root" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl
fi
tls="$pgdir/tls"
mkdir -p "$tls"
printf '[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n[dn]\nCN = Wijkverkenner test CA\n[v3]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n' >"$tls/ca.cnf"
printf 'subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n' >"$tls/server.ext"
{
    openssl req -x509 -config "$tls/ca.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3 \
        -keyout "$tls/ca.key" -out "$tls/ca.crt"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
        -keyout "$tls/server.key" -out "$tls/server.csr"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 3 \
        -extfile "$tls/server.ext" -out "$tls/server.crt"
} >"$pgdir/openssl.log" 2>&1 || { cat "$pgdir/openssl.log" >&2; echo "postgres: the test certificate failed" >&2; exit 1; }
chmod 600 "$tls/server.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$pgdir"
as_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U wv --no-sync >"$pgdir/initdb.log" 2>&1 \
    || { cat "$pgdir/initdb.log" >&2; echo "postgres: initdb failed" >&2; exit 1; }
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
    -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=300 -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key ${WV_PG_OPTIONS:-}" start >/dev/null \
    || { cat "$pgdir/server.log" >&2; echo "postgres: the server did not start" >&2; exit 1; }
wv_stop_postgres() {
    as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
}
trap wv_stop_postgres EXIT
export WV_TEST_DATABASE_URL="postgres://wv@127.0.0.1:$pgport/postgres"
export WV_TEST_DATABASE_CA="$tls/ca.crt"
echo "postgres: $("$pgbin/postgres" --version) on port $pgport" >&2
