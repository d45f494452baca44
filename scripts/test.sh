#!/usr/bin/env bash
# Run the whole suite against real services: a private redis-server and a private PostgreSQL
# cluster on free loopback ports, started here and stopped on exit whatever happened.
# Usage: scripts/test.sh [pytest args...]   (the venv must exist: `make test` builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

. scripts/services.sh

say "pytest on SQLite (the whole suite)"
"$PY" -m pytest "$@"

say "pytest on PostgreSQL (tests marked postgres)"
DATABASE_URL="$LEADSYNC_TEST_POSTGRES_URL" "$PY" -m pytest -m postgres "$@"

say "make demo, non-interactively (DEMO_EXIT=1) on a private database and port"
DEMO_EXIT=1 DEMO_PORT=$(free_port) DEMO_ENV_FILE="$RUN_DIR/demo.env" DEMO_DB="$RUN_DIR/demo.sqlite3" PY="$PY" \
    bash scripts/demo.sh > "$RUN_DIR/demo.log" 2>&1 || { cat "$RUN_DIR/demo.log"; echo "make demo failed" >&2; exit 1; }
tail -n 12 "$RUN_DIR/demo.log"
grep -q "created in the CRM: [1-9]" "$RUN_DIR/demo.log" || { echo "make demo created no lead in the CRM" >&2; exit 1; }
