#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the registry test suite, on loopback only.
#
# Installs PostgreSQL with apt-get when it is missing, runs initdb in a temporary directory,
# starts the server on 127.0.0.1:${FUSTOR_PG_PORT:-5433}, creates the role and database, and
# prints (on stdout, last line) the export line for FUSTOR_TEST_POSTGRES_URL.  Everything else
# goes to stderr, so CI can do:   eval "$(.ci/start-postgres.sh)"
# Idempotent: when a server already answers on the port, only the role/database are ensured.
# `start-postgres.sh --stop` stops the server this script started and removes its data dir.
set -euo pipefail

PORT="${FUSTOR_PG_PORT:-5433}"
ROLE="${FUSTOR_PG_ROLE:-fustor}"
PASSWORD="${FUSTOR_PG_PASSWORD:-fustor}"
DATABASE="${FUSTOR_PG_DATABASE:-fustor_test}"
STATE_FILE="/tmp/fustor-postgres-${PORT}.dir"

log() { echo "start-postgres: $*" >&2; }

find_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ "${1:-}" = "--stop" ]; then
    DATADIR="$(cat "$STATE_FILE" 2>/dev/null || true)"
    BIN="$(find_bin)"
    if [ -n "$DATADIR" ] && [ -d "$DATADIR" ] && [ -n "$BIN" ]; then
        if [ "$(id -u)" = 0 ]; then
            runuser -u postgres -- "$BIN/pg_ctl" -D "$DATADIR" -m fast -w stop >&2 || true
        else
            "$BIN/pg_ctl" -D "$DATADIR" -m fast -w stop >&2 || true
        fi
        rm -rf "$DATADIR"
    fi
    rm -f "$STATE_FILE"
    log "stopped"
    exit 0
fi

BIN="$(find_bin)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    log "PostgreSQL not installed; installing with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(find_bin)"
fi

# initdb/postgres refuse to run as root: use the postgres system user when we are root.
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
    AS_PG=(runuser -u postgres --)
else
    AS_PG=()
fi

if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    log "a server already answers on 127.0.0.1:$PORT; reusing it"
    DATADIR="$(cat "$STATE_FILE" 2>/dev/null || true)"
    if [ -z "$DATADIR" ]; then
        log "no record of who started it ($STATE_FILE missing); cannot create role/database"
        echo "export FUSTOR_TEST_POSTGRES_URL=postgresql+psycopg://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/${DATABASE}"
        exit 0
    fi
else
    DATADIR="$(mktemp -d /tmp/fustor-pgdata.XXXXXX)"
    chmod 700 "$DATADIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DATADIR"
    log "initdb in $DATADIR"
    "${AS_PG[@]}" "$BIN/initdb" -D "$DATADIR" -U postgres -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    log "starting on 127.0.0.1:$PORT"
    "${AS_PG[@]}" "$BIN/pg_ctl" -D "$DATADIR" -l "$DATADIR/server.log" -w start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATADIR -c fsync=off" >&2
    echo "$DATADIR" > "$STATE_FILE"
fi

# Administrative statements go over the Unix socket in the data dir (trusted, local only).
psql_admin() { "${AS_PG[@]}" "$BIN/psql" -X -q -h "$DATADIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}'")" != 1 ]; then
    psql_admin -c "CREATE ROLE \"${ROLE}\" LOGIN CREATEDB PASSWORD '${PASSWORD}'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '${DATABASE}'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE \"${DATABASE}\" OWNER \"${ROLE}\""
fi
log "ready (stop with: ${AS_PG[*]} $BIN/pg_ctl -D $DATADIR stop)"
echo "export FUSTOR_TEST_POSTGRES_URL=postgresql+psycopg://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/${DATABASE}"
