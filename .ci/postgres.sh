#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, on 127.0.0.1 (see docs/storage.md).
#
#   .ci/postgres.sh [start]   install Debian's postgresql if missing, create the cluster if missing,
#                             start it, create the test role and database, print the URL line
#   .ci/postgres.sh url       print the URL line (the server need not be running)
#   .ci/postgres.sh stop      stop the server (fast shutdown); the data is kept
#   .ci/postgres.sh status    exit 0 when the server is running
#   .ci/postgres.sh destroy   stop the server and delete its folder
#
# stdout carries only `export MOVIEBOT_TEST_POSTGRES_URL=...`, so `eval "$(.ci/postgres.sh)"` works;
# progress goes to stderr. Idempotent: run it as often as you like.
#
# Environment:
#   MOVIEBOT_PG_DIR         the cluster's folder (default: /tmp/moviebot-postgres-<hash of repo path>);
#                           several folders = several independent servers
#   MOVIEBOT_PG_NO_INSTALL  set to 1 to fail instead of running apt-get when PostgreSQL is missing
#
# As root the server runs as the `postgres` user (created by Debian's package); otherwise as you.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_HASH="$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)"
PG_DIR="${MOVIEBOT_PG_DIR:-/tmp/moviebot-postgres-$REPO_HASH}"
DATA="$PG_DIR/data"
LOG="$PG_DIR/postgres.log"
PORT_FILE="$PG_DIR/port"
ROLE=moviebot
PASSWORD=moviebot
DATABASE=moviebot_test

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

find_bindir() {
    local dir
    # Debian keeps each major version's server binaries in /usr/lib/postgresql/<major>/bin.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir)"
        [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
    fi
    return 1
}

ensure_installed() {
    if BIN="$(find_bindir)"; then
        return 0
    fi
    [[ "${MOVIEBOT_PG_NO_INSTALL:-0}" == 1 ]] && die "PostgreSQL server binaries not found"
    [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed; run as root: apt-get install -y postgresql"
    say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(find_bindir)" || die "postgresql installed but its binaries were not found"
}

# Runs a command as the user that owns the cluster.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    local port=$((54320 + REPO_HASH % 500 + RANDOM % 100))
    while port_in_use "$port"; do
        port=$((port + 1))
    done
    echo "$port"
}

init_cluster() {
    [[ -f "$DATA/PG_VERSION" ]] && return 0
    say "creating a cluster in $PG_DIR"
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql \
            --shell /bin/bash postgres
        mkdir -p "$PG_DIR"
        chown postgres: "$PG_DIR"
        as_owner test -w "$PG_DIR" || die "the postgres user cannot write to $PG_DIR"
    else
        mkdir -p "$PG_DIR"
    fi
    chmod 700 "$PG_DIR"
    rm -rf "$DATA"
    as_owner "$BIN/initdb" --pgdata="$DATA" --username=postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    local port
    port="$(pick_port)"
    as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF
# moviebot test server (.ci/postgres.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_DIR'
max_connections = 200
EOF
    echo "$port" | as_owner tee "$PORT_FILE" >/dev/null
}

port() {
    [[ -f "$PORT_FILE" ]] || die "no cluster in $PG_DIR; run: .ci/postgres.sh start"
    cat "$PORT_FILE"
}

is_running() {
    [[ -f "$DATA/PG_VERSION" ]] && BIN="${BIN:-$(find_bindir)}" \
        && as_owner "$BIN/pg_ctl" --pgdata="$DATA" status >/dev/null 2>&1
}

start_server() {
    if is_running; then
        return 0
    fi
    if port_in_use "$(port)"; then
        local new_port
        new_port="$(pick_port)"
        say "port $(port) is taken; moving the cluster to port $new_port"
        echo "port = $new_port" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
        echo "$new_port" | as_owner tee "$PORT_FILE" >/dev/null
    fi
    say "starting the server on 127.0.0.1:$(port)"
    as_owner "$BIN/pg_ctl" --pgdata="$DATA" --log="$LOG" --wait --timeout=60 start >/dev/null \
        || { tail -n 20 "$LOG" >&2 || true; die "the server did not start"; }
}

psql_admin() {
    as_owner "$BIN/psql" --no-psqlrc --quiet --host="$PG_DIR" --port="$(port)" --username=postgres \
        --dbname=postgres --set=ON_ERROR_STOP=1 "$@"
}

ensure_role_and_database() {
    psql_admin >/dev/null <<EOF
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD ''$PASSWORD'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') \gexec
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
EOF
}

print_url() {
    echo "export MOVIEBOT_TEST_POSTGRES_URL=postgresql+asyncpg://$ROLE:$PASSWORD@127.0.0.1:$(port)/$DATABASE"
}

command="${1:-start}"
case "$command" in
    start)
        ensure_installed
        init_cluster
        start_server
        ensure_role_and_database
        print_url
        ;;
    url)
        print_url
        ;;
    stop)
        if is_running; then
            say "stopping the server on port $(port)"
            as_owner "$BIN/pg_ctl" --pgdata="$DATA" --mode=fast --wait stop >/dev/null
        fi
        ;;
    status)
        is_running
        ;;
    destroy)
        if is_running; then
            as_owner "$BIN/pg_ctl" --pgdata="$DATA" --mode=immediate --wait stop >/dev/null
        fi
        rm -rf "$PG_DIR"
        ;;
    *)
        die "unknown command '$command' (start, url, stop, status, destroy)"
        ;;
esac
