# LeadSync: `make demo` (offline demonstration on SQLite and the sandbox) and `make test`
# (the whole suite on real Redis and PostgreSQL). Both set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench bench-large venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

test: venv
	bash scripts/test.sh

demo: venv
	bash scripts/demo.sh

# One JSON line per run (bench/README.md): N=10,000 on SQLite and PostgreSQL, CRM limit on and off, DEBUG on
# and off, and the naive baseline (its rate over its first 50 leads: today each of its calls pays the sandbox finder's whole-list load). BENCH_N=100000 for other sizes.
BENCH_N ?= 10000
bench: venv
	$(PY) bench/pipeline.py --leads $(BENCH_N) --naive --naive-leads 50

bench-large: venv
	$(PY) bench/pipeline.py --leads 100000 --config on:off --config off:off

clean:
	rm -rf $(VENV) staticfiles test-db.sqlite3
