# Integration Hub — the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test soak lint format bench venv dev messages clean-var

# The venv is built with the newest Python >= 3.12 found on PATH or in pyenv (scripts/find-python.sh).
$(PY):
	@interp=$$(scripts/find-python.sh) || exit 1; \
	echo "creating $(VENV) with $$interp"; \
	"$$interp" -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(DEVSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(STAMP)

venv: $(STAMP)
dev: $(DEVSTAMP)

## make run: migrate, seed roles and the demo admin, then serve the console and a worker cluster.
run: $(STAMP)
	$(PY) manage.py bootstrap --demo-admin --demo-systems
	$(PY) manage.py serve --sandbox

## make test: the whole suite (unit, API, websocket, browser). Browser tests skip loudly without Chromium.
## It runs on PYTEST_WORKERS processes (pytest-xdist, a test file per process at a time): most tests
## wait on browsers, servers and workers, so 3 processes pay off on 2 cores. Tests marked `timing`
## (wall-clock budgets) then run alone. PYTEST_WORKERS=0: the whole suite in one process, serially.
## Tests marked `soak` (long fault runs) are left to make soak.
PYTEST_WORKERS ?= 3
test: $(DEVSTAMP)
ifeq ($(PYTEST_WORKERS),0)
	$(PY) -m pytest -m "not soak" $(PYTEST_ARGS)
else
	@status=0; \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not timing and not soak" $(PYTEST_ARGS) || status=$$?; \
	$(PY) -m pytest -m "timing and not soak" $(PYTEST_ARGS) || [ $$? = 5 ] || status=1; \
	exit $$status
endif

## make soak: the fault suite in full, in one process (random worker kills, 100 k records under the fault
## mix, outages of minutes, a private PostgreSQL and Redis restarted mid-run); its figures go to
## test-results/soak-summary.json. Not part of make test, which runs a fast subset of the same files.
## Then the rest of the reliability and security suite (bad inputs, properties, permission matrix,
## secrets scan, schemathesis), which make test runs whole too. SOAK_ARGS: for the fault suite only.
soak: $(DEVSTAMP)
	@status=0; \
	$(PY) -m pytest tests/soak -p no:xdist $(SOAK_ARGS) || status=$$?; \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests/reliability tests/security || status=1; \
	exit $$status

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEVSTAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make bench: performance scenarios against hand-written baselines (not part of make test).
## Scenario 5 drives Debian's Chromium: installed here when missing, as .ci/run does.
bench: $(DEVSTAMP)
	@test -x /usr/bin/chromium || { echo "make bench: installing Debian's chromium (scenario 5)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq || true; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true; }
	$(PY) -m bench $(BENCH_ARGS)

## make messages: refresh and compile the translation catalogues.
messages: $(DEVSTAMP)
	$(PY) manage.py makemessages -l fr --ignore='.venv/*' --ignore='static/*' --ignore='tests/*' --ignore='bench/*' --ignore='var/*'
	$(PY) manage.py makemessages -d djangojs -l fr --ignore='.venv/*' --ignore='static/vendor/*' --ignore='var/*'
	$(PY) manage.py compilemessages --ignore='.venv/*'

clean-var:
	rm -rf var
