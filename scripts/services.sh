# Sourced by scripts/test.sh and scripts/soak.sh: start a private redis-server and a private PostgreSQL
# cluster on free loopback ports, stop them on exit whatever happened, and export
# LEADSYNC_TEST_REDIS_URL, LEADSYNC_TEST_POSTGRES_URL and LEADSYNC_REQUIRE_SERVICES=1 for pytest.
# Expects PY (the venv's python) and the repository root as the working directory; leaves RUN_DIR (a
# private temporary directory, removed on exit) and free_port for the caller.
# LEADSYNC_SKIP_BROWSER=1: do not install Chromium.

say() { printf '\n== %s\n' "$*"; }

install_debian() {  # install Debian packages when root; otherwise explain
    if [ "$(id -u)" = 0 ]; then
        say "installing $* (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }
    else
        echo "error: $* missing; install it with: sudo apt-get install $*" >&2
        exit 1
    fi
}

command -v redis-server >/dev/null || install_debian redis-server
if [ "${LEADSYNC_SKIP_BROWSER:-0}" != 1 ] && ! command -v chromium >/dev/null; then install_debian chromium; fi

PG_BIN=""
for dir in /usr/local/bin /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ] && { PG_BIN=$dir; break; }
done
if [ -z "$PG_BIN" ] && command -v pg_ctl >/dev/null; then PG_BIN=$(dirname "$(command -v pg_ctl)"); fi
if [ -z "$PG_BIN" ]; then install_debian postgresql; PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | tail -n1)"); fi

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

RUN_DIR=$(mktemp -d /tmp/leadsync-test.XXXXXX)
chmod 755 "$RUN_DIR"
PG_DATA="$RUN_DIR/pg"
mkdir -p "$PG_DATA" "$RUN_DIR/pgsock"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$PG_DATA" "$RUN_DIR/pgsock"
chmod 700 "$PG_DATA"

cleanup() {
    status=$?
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
    [ -f "$RUN_DIR/redis.pid" ] && kill "$(cat "$RUN_DIR/redis.pid")" 2>/dev/null || true
    rm -rf "$RUN_DIR"
    exit $status
}
trap cleanup EXIT INT TERM

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$RUN_DIR/redis.pid" --dir "$RUN_DIR" --logfile "$RUN_DIR/redis.log"

PG_PORT=$(free_port)
as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres --no-sync -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$RUN_DIR/pgsock/pg.log" -w -t 60 \
    -o "-p $PG_PORT -k $RUN_DIR/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null

for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done

export LEADSYNC_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export LEADSYNC_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/leadsync"
export LEADSYNC_REQUIRE_SERVICES=1
echo "redis on 127.0.0.1:$REDIS_PORT, postgres on 127.0.0.1:$PG_PORT ($PG_BIN)"

