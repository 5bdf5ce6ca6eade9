#!/usr/bin/env bash
# Native MLflow tracking server, no Docker: a local PostgreSQL cluster + `mlflow server`.
#
#   scripts/tracking-server.sh start    # create the cluster on first use, start both, print the URI
#   scripts/tracking-server.sh status   # exit 0 only when both are up
#   scripts/tracking-server.sh stop     # stop both; runs and artifacts stay in the state dir
#   rm -rf .tracking                    # after `stop`: forget everything
#
# The mlflow arguments are read from docker-compose.yml (scripts/compose_command.py) with
# only the addresses made local, so this and `docker compose up` run the same server.
# Credentials and ports come from .env (else .env.example); the environment overrides:
#   MLFLOW_PORT (5000)              server on http://127.0.0.1:$MLFLOW_PORT
#   TRACKING_PG_PORT (5433)         PostgreSQL on 127.0.0.1
#   TRACKING_STATE_DIR (.tracking)  cluster, artifacts, logs (persistent until removed)
#   PYTHON (.venv/bin/python, else python3)  needs mlflow and psycopg2-binary
#   PG_BINDIR (initdb's directory; default: on PATH, else newest /usr/lib/postgresql/*/bin)
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user,
# which must be able to traverse the state dir's parents.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${TRACKING_STATE_DIR:-$ROOT/.tracking}"
PGROOT="$STATE/postgres"  # owned by the cluster's user: data/, the socket, postgres.log
PGDATA_DIR="$PGROOT/data"
PIDFILE="$STATE/mlflow.pid"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

die() { echo "tracking-server: $*" >&2; exit 1; }

pg_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then echo "$PG_BINDIR"; return; fi
    if command -v initdb >/dev/null; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
    local newest
    newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$newest" ]] || die "PostgreSQL server binaries not found: apt-get install postgresql (or set PG_BINDIR)"
    echo "$newest"
}

as_pg() {  # run a cluster command as its owner
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

load_env() {
    local assignments
    assignments="$("$PYTHON" "$ROOT/scripts/compose_command.py" env)" \
        || die "cannot read the stack variables with $PYTHON (needs PyYAML, which mlflow brings)"
    eval "$assignments"
    TRACKING_PG_PORT="${TRACKING_PG_PORT:-5433}"
    MLFLOW_PORT="${MLFLOW_PORT:-5000}"
}

pg_running() { [[ -f "$PGDATA_DIR/PG_VERSION" ]] && as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

mlflow_running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

healthy() {  # URL -> success when it answers 200
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
}

pg_start() {
    if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
        mkdir -p "$PGROOT"
        if [[ $EUID -eq 0 ]]; then
            id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
            chown postgres: "$PGROOT"
            as_pg test -w "$PGROOT" || die "user postgres cannot reach $PGROOT; make its parents world-executable"
        fi
        echo "initialising PostgreSQL cluster in $PGDATA_DIR"
        as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C \
            --auth-local=trust --auth-host=scram-sha-256 >"$STATE/initdb.log" \
            || die "initdb failed, see $STATE/initdb.log"
    fi
    if pg_running; then
        echo "postgres: already running"
    else
        as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGROOT/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $TRACKING_PG_PORT -k '$PGROOT'" start >/dev/null \
            || die "postgres did not start, see $PGROOT/postgres.log"
    fi
    # role and database from .env; idempotent, so a changed password is applied on start
    "$BIN/psql" -X -q -h "$PGROOT" -p "$TRACKING_PG_PORT" -U postgres -d postgres \
        -v user="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" -v db="$POSTGRES_DB" \
        -f "$ROOT/scripts/tracking-db.sql" >/dev/null
    echo "postgres: 127.0.0.1:$TRACKING_PG_PORT (data: $PGDATA_DIR)"
}

mlflow_start() {
    local url="http://127.0.0.1:$MLFLOW_PORT" argfile="$STATE/mlflow.args" pid i
    if mlflow_running; then echo "mlflow: already running at $(cat "$STATE/mlflow.url")"; return; fi
    "$PYTHON" -c 'import mlflow, psycopg2' 2>/dev/null \
        || die "$PYTHON needs mlflow and psycopg2-binary (pip install psycopg2-binary)"
    mkdir -p "$STATE/mlartifacts"
    # NUL-separated, and 0600 because the store URI carries the password
    (umask 077 && "$PYTHON" "$ROOT/scripts/compose_command.py" args \
        --db-port "$TRACKING_PG_PORT" --artifacts "$STATE/mlartifacts" >"$argfile")
    mapfile -d '' args <"$argfile"
    rm -f "$argfile"
    # a pool above each worker's 40 request threads, as docker-compose.yml sets (see there)
    export MLFLOW_SQLALCHEMYSTORE_POOL_SIZE="${MLFLOW_SQLALCHEMYSTORE_POOL_SIZE:-10}"
    export MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW="${MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW:-35}"
    # no server-side job runner, as docker-compose.yml (see there)
    export MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}"
    # own session, so `stop` can signal uvicorn's workers along with the launcher
    setsid "$PYTHON" -m mlflow "${args[@]}" >"$STATE/mlflow.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    echo "$url" >"$STATE/mlflow.url"
    for ((i = 0; i < ${TRACKING_START_TIMEOUT:-180}; i++)); do
        if healthy "$url/health"; then
            echo "mlflow: $url (logs: $STATE/mlflow.log, artifacts: $STATE/mlartifacts)"
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$STATE/mlflow.log" >&2
            rm -f "$PIDFILE"
            die "mlflow server exited, see $STATE/mlflow.log"
        fi
        sleep 1
    done
    die "mlflow not healthy at $url after ${TRACKING_START_TIMEOUT:-180}s, see $STATE/mlflow.log"
}

mlflow_stop() {
    local pid i
    if mlflow_running; then
        pid="$(cat "$PIDFILE")"
        kill -TERM -- "-$pid" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        echo "mlflow: stopped"
    fi
    rm -f "$PIDFILE"
}

cmd="${1:-}"
case "$cmd" in
    start)
        BIN="$(pg_bindir)"
        load_env
        mkdir -p "$STATE"
        pg_start
        mlflow_start
        ;;
    stop)
        BIN="$(pg_bindir)"
        mlflow_stop
        if pg_running; then
            as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
            echo "postgres: stopped"
        fi
        ;;
    status)
        BIN="$(pg_bindir)"
        rc=0
        if pg_running; then echo "postgres: running"; else echo "postgres: stopped"; rc=1; fi
        if mlflow_running && healthy "$(cat "$STATE/mlflow.url")/health"; then
            echo "mlflow: up at $(cat "$STATE/mlflow.url")"
        else
            echo "mlflow: down"; rc=1
        fi
        exit "$rc"
        ;;
    *)
        sed -n '2,17p' "$0" >&2
        exit 2
        ;;
esac
