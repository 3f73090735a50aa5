#!/bin/sh
# PostgreSQL in docker-compose.scale.yml: on first start a cluster in $PGDATA (a volume)
# whose superuser `convgrade` has POSTGRES_PASSWORD and a database `convgrade`; other
# containers log in with that password (scram-sha-256), the socket inside trusts.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
bin=$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    chown postgres "$pwfile"
    as_postgres "$bin/initdb" -D "$PGDATA" -U convgrade --pwfile="$pwfile" -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "CREATE DATABASE convgrade;" | as_postgres "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" \
    -c listen_addresses='*' -c unix_socket_directories=/run/postgresql
