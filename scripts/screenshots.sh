#!/usr/bin/env bash
# Refresh the README's screenshots (docs/screenshots/*.png): the browser tests, with the services
# they need (scripts/services.sh: redis-server, PostgreSQL, Chromium), run with LEADSYNC_SCREENSHOTS=1,
# so each shot is what the product shows today. Usage: scripts/screenshots.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

. scripts/services.sh

say "browser tests, taking the screenshots into docs/screenshots/"
LEADSYNC_SCREENSHOTS=1 "$PY" -m pytest -q -p no:warnings tests/browser "$@"
ls -l docs/screenshots/
