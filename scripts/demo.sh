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
    "$PY" - "$ENV_FILE" "$PORT" "$DB" <<'PYEOF'
import secrets, sys
from cryptography.fernet import Fernet
path, port, db = sys.argv[1], sys.argv[2], sys.argv[3]
site = f"http://127.0.0.1:{port}"
open(path, "w").write(f"""# Written by `make demo` (scripts/demo.sh): the demo's settings. Delete it to start afresh.
DEBUG=True
LEADSYNC_SANDBOX=True
DATABASE_URL=sqlite:///{db}
SECRET_KEY={secrets.token_urlsafe(50)}
FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}
LINKEDIN_CLIENT_ID=leadsync-demo-app
LINKEDIN_CLIENT_SECRET={secrets.token_urlsafe(24)}
LINKEDIN_API_URL={site}/sandbox/linkedin
LINKEDIN_OAUTH_URL={site}/sandbox/linkedin/oauth/v2
LINKEDIN_REDIRECT_URI={site}/linkedin/callback/
LEADGEN_CRM_API_URL={site}/sandbox/crm/pubapi/v1.2/
DEMO_ADMIN_PASSWORD={secrets.token_urlsafe(9)}
""")
PYEOF
    echo "Wrote $ENV_FILE (the demo's settings)."
fi
export LEADSYNC_ENV_FILE="$ENV_FILE"
# Real environment variables win over the file; make sure the demo's file is what counts.
unset DATABASE_URL LINKEDIN_API_URL LINKEDIN_OAUTH_URL LEADGEN_CRM_API_URL LEADSYNC_SANDBOX LINKEDIN_CLIENT_ID LINKEDIN_CLIENT_SECRET || true
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
Then: LEADSYNC_ENV_FILE=$ENV_FILE $PY manage.py leadsync sync
MSG

if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo "Serving until Ctrl-C (log: $LOG)."
wait $SERVER
