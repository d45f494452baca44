# LeadSync: `make demo` (offline demonstration on SQLite and the sandbox), `make test` (the whole
# suite on real Redis and PostgreSQL) and `make soak` (the real-worker crash test at 100 kill points).
# They set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test soak screenshots bench bench-large bench-idle bench-workers venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

test: venv
	bash scripts/test.sh

soak: venv
	bash scripts/soak.sh

demo: venv
	bash scripts/demo.sh

# The README's screenshots (docs/screenshots/), taken afresh by the browser tests (LEADSYNC_SCREENSHOTS=1).
screenshots: venv
	bash scripts/screenshots.sh

# One JSON line per run (bench/README.md): N=10,000 on SQLite and PostgreSQL, CRM limit on and off, DEBUG on
# and off, and the naive baseline (its rate over its first 200 leads), full finder pages (the sandbox's short
# pages off). BENCH_N=100000 for other sizes; bench-large: the 100,000-lead runs on both databases.
BENCH_N ?= 10000
bench: venv
	$(PY) bench/pipeline.py --leads $(BENCH_N) --no-short-pages --naive --naive-leads 200

bench-large: venv
	$(PY) bench/pipeline.py --leads 100000 --no-short-pages --config on:off --config off:on

# Idle polls (issue 10): one worker, one 5-minute beat interval of scheduled polls of 1,000 integrations across
# 50 owners with nothing new; one JSON line (bench/README.md). BENCH_IDLE_ARGS="--celery" for a real worker.
BENCH_IDLE_ARGS ?=
bench-idle: venv
	$(PY) bench/idle_poll.py --owners 50 --forms 1000 $(BENCH_IDLE_ARGS)

# Scale-out (issue 12): one backlog of 5,000 leads (40 integrations, 8 owners, 8 CRM accounts at 10 calls/s)
# synced by 1, 2 and 4 worker processes on a private PostgreSQL and Redis; one JSON line per run and a
# projection (bench/README.md). BENCH_WORKERS_ARGS="--leads 20000 --workers 1,2,4,8" for other sizes.
BENCH_WORKERS_ARGS ?=
bench-workers: venv
	$(PY) bench/workers.py $(BENCH_WORKERS_ARGS)

clean:
	rm -rf $(VENV) staticfiles test-db.sqlite3
