#!/usr/bin/env bash
# `make demo`: the offline end-to-end demonstration on SQLite and the built-in sandbox.
# Seeds the sandbox (a LinkedIn member with pages, events, forms and a few hundred leads; a CRM
# account), connects both through the product, discovers, enables the event forms, syncs 90 days,
# prints a summary and leaves the admin running at http://127.0.0.1:8000/admin/ until Ctrl-C.
# DEMO_EXIT=1 stops after the summary (CI); DEMO_PORT changes the port. Running it twice is fine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PORT=${DEMO_PORT:-8000}
ENV_FILE=${DEMO_ENV_FILE:-.env.demo}
DB=${DEMO_DB:-demo.sqlite3}

if [ ! -f "$ENV_FILE" ]; then
    "$PY" - "$ENV_FILE" "$DB" <<'PYEOF'
import secrets, sys
from cryptography.fernet import Fernet
path, db = sys.argv[1], sys.argv[2]
open(path, "w").write(f"""# Written by `make demo` (scripts/demo.sh): the demo's settings. Delete it to start afresh.
# The sandbox URLs are not here: the script sets them for the port of each run (DEMO_PORT).
DEBUG=True
LEADSYNC_SANDBOX=True
DATABASE_URL=sqlite:///{db}
SECRET_KEY={secrets.token_urlsafe(50)}
FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}
LINKEDIN_CLIENT_ID=leadsync-demo-app
LINKEDIN_CLIENT_SECRET={secrets.token_urlsafe(24)}
DEMO_ADMIN_PASSWORD={secrets.token_urlsafe(9)}
""")
PYEOF
    echo "Wrote $ENV_FILE (the demo's settings)."
fi
export LEADSYNC_ENV_FILE="$ENV_FILE"
# Real environment variables win over the file; make sure the demo's file is what counts.
unset DATABASE_URL LEADSYNC_SANDBOX LINKEDIN_CLIENT_ID LINKEDIN_CLIENT_SECRET CELERY_BROKER_URL || true
SITE="http://127.0.0.1:$PORT"
export LINKEDIN_API_URL="$SITE/sandbox/linkedin" LINKEDIN_OAUTH_URL="$SITE/sandbox/linkedin/oauth/v2"
export LINKEDIN_REDIRECT_URI="$SITE/linkedin/callback/" LEADGEN_CRM_API_URL="$SITE/sandbox/crm/pubapi/v1.2/"
ADMIN_PASSWORD=$(grep '^DEMO_ADMIN_PASSWORD=' "$ENV_FILE" | cut -d= -f2-)
manage() { "$PY" manage.py "$@"; }

echo "== database";   manage migrate --noinput -v0
echo "== sandbox";    manage sandbox_seed
manage sandbox_crm_account --account-id DEMO-ACCOUNT --secret-key demo-secret-key >/dev/null
if ! DJANGO_SUPERUSER_PASSWORD="$ADMIN_PASSWORD" manage createsuperuser --noinput --username admin --email admin@example.com >/dev/null 2>&1; then
    manage shell -c "from django.contrib.auth import get_user_model as U; u=U().objects.get(username='admin'); u.set_password('$ADMIN_PASSWORD'); u.save()"
fi

LOG=$(mktemp /tmp/leadsync-demo-server.XXXXXX.log)
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload >"$LOG" 2>&1 &  # not through manage(): $! must be the server
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 150); do
    "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/admin/login/', timeout=1)" 2>/dev/null && break
    kill -0 $SERVER 2>/dev/null || { cat "$LOG"; echo "the web server did not start" >&2; exit 1; }
    sleep 0.2
done

echo "== LeadSync on the sandbox"
manage leadsync demo --crm-account-id DEMO-ACCOUNT --crm-secret-key demo-secret-key

cat <<MSG

The admin: http://127.0.0.1:$PORT/admin/   user: admin   password: $ADMIN_PASSWORD
Leads: http://127.0.0.1:$PORT/admin/leads/lead/   CRM side: http://127.0.0.1:$PORT/admin/sandbox_crm/crmlead/
Register for an event on the sandbox: http://127.0.0.1:$PORT/sandbox/linkedin/
Then: make demo again, or LEADSYNC_ENV_FILE=$ENV_FILE LINKEDIN_API_URL=$LINKEDIN_API_URL \\
      LINKEDIN_OAUTH_URL=$LINKEDIN_OAUTH_URL LEADGEN_CRM_API_URL=$LEADGEN_CRM_API_URL $PY manage.py leadsync sync
MSG

if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi

# Scheduled syncs and the admin's "Sync now" need a broker and a worker: start a private Redis,
# a Celery worker and beat when redis-server is here (the sync above ran in-process without them).
if command -v redis-server >/dev/null; then
    REDIS_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    REDIS_DIR=$(mktemp -d /tmp/leadsync-demo-redis.XXXXXX)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log"
    export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
    kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true   # restart it with the broker
    "$PY" manage.py runserver "127.0.0.1:$PORT" --noreload >>"$LOG" 2>&1 &
    SERVER=$!
    "$PY" -m celery -A leadsync_project worker -l warning --concurrency 2 >>"$LOG" 2>&1 &
    WORKER=$!
    "$PY" -m celery -A leadsync_project beat -l warning --pidfile= >>"$LOG" 2>&1 &
    BEAT=$!
    trap 'kill $SERVER $WORKER $BEAT 2>/dev/null; kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; rm -rf "$REDIS_DIR"' EXIT INT TERM
    echo "Celery worker and beat are running on a private Redis (127.0.0.1:$REDIS_PORT): scheduled syncs every"
    echo "15 minutes, and the admin's Sync now / Backfill / Discover now work."
else
    echo "No redis-server here: scheduled syncs and the admin's queued actions need a broker"
    echo "(apt-get install redis-server, then run make demo again)."
fi
echo "Serving until Ctrl-C (log: $LOG)."
wait $SERVER
