# LeadSync: `make demo` (offline demonstration on SQLite and the sandbox), `make test` (the whole
# suite on real Redis and PostgreSQL) and `make soak` (the real-worker crash test at 100 kill points).
# They set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test soak bench venv clean

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

bench: venv
	$(PY) bench/pipeline.py --leads 1000

clean:
	rm -rf $(VENV) staticfiles test-db.sqlite3
