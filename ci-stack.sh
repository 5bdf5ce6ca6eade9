#!/usr/bin/env bash
# CI fragment: prerequisites of the `server` tests in tests/test_tracking_stack.py, which run
# the compose mlflow command natively (CI has no Docker): PostgreSQL's server binaries
# (initdb/pg_ctl) and the psycopg2 driver. Idempotent; merge into the CI script.
set -euo pipefail

if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null
fi
# the driver the compose store URI names (postgresql+psycopg2://), pinned like the image's
"${PYTHON:-python}" -c 'import psycopg2' 2>/dev/null \
    || "${PYTHON:-python}" -m pip install -q 'psycopg2-binary==2.9.13'
