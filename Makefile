# hooklab: two commands on a fresh machine. `make lab` to read, `make test` to check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LAB_PORT ?= 8888
# the learner's own copies of the notebooks (git-ignored): experiments never dirty notebooks/
LEARNER_DIR ?= my-notebooks
# more JupyterLab arguments, e.g. make lab LAB_ARGS="--ServerApp.open_browser=True"
LAB_ARGS ?=

.PHONY: help setup lab lab-reset test test-fast fuzz chaos notebooks index site lint format benchmarks constraints clean peers maybe-peers

help:
	@echo "make lab         set up (if needed), then JupyterLab on your own copies ($(LEARNER_DIR)/); prints the URL to open"
	@echo "make lab-reset   fresh copies of the notebooks (NB=01-api-polling.ipynb for one); old ones kept in $(LEARNER_DIR)/.backup"
	@echo "make test        set up (if needed), then lint, unit/e2e tests, nbval over every notebook, browser tests"
	@echo "make notebooks   re-execute every notebook in place so stored outputs are current"
	@echo "make index       regenerate the series map in notebooks/00-index.ipynb"
	@echo "make peers       install the Node peers (GitHub's @octokit/webhooks, smee-client) into peers/node"
	@echo "make site        the series as a static website in _site/ (from the stored outputs; reads offline)"
	@echo "make benchmarks  print measured performance figures"
	@echo "make lint        ruff check + format check + import-linter (the layers)"
	@echo "make format      ruff fix + format"
	@echo "make test-fast   the Python tests not marked slow (no nbval, no live processes), stop at the first failure"
	@echo "make fuzz        fuzz both systems longer (Schemathesis from their OpenAPI, Hypothesis on A's endpoint)"
	@echo "make chaos       a longer fault-injection run: B and A processes, a fault proxy, A killed 6 times; prints the figures"
	@echo "make constraints regenerate constraints.txt from the installed versions"
	@echo "make clean       remove .venv and caches"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hooklab needs Python >= 3.11; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

# uv fills the venv from the same pins in seconds (measured: 11 s, against about a minute for pip
# with a warm cache and 3.5 minutes cold); where uv cannot be had, pip does the same job
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	@echo "Installing hooklab and its pinned tools into $(VENV)/ (with uv: 10-30 s; with pip: 1-4 minutes) ..."
	@if $(BIN)/python -m pip install --quiet --progress-bar off -c constraints.txt uv 2>/dev/null && \
		$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'; then :; \
	else echo "uv did not work here; installing with pip"; \
		$(BIN)/python -m pip install --quiet --progress-bar off -c constraints.txt -e '.[dev]'; fi
	@touch $(STAMP)
	@echo "Ready: $(VENV)/bin/hooklab, $(VENV)/bin/jupyter"

setup: $(STAMP)

lab: $(STAMP) maybe-peers
	@$(BIN)/python -m hooklab.lab.launcher --port $(LAB_PORT) --copies $(LEARNER_DIR) -- $(LAB_ARGS)

lab-reset: $(STAMP)
	@$(BIN)/python -m hooklab.lab.launcher --copies $(LEARNER_DIR) --reset $(NB)

lint: $(STAMP)
	$(BIN)/ruff check pylib tests benchmarks notebooks
	$(BIN)/ruff format --check pylib tests benchmarks notebooks
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix pylib tests benchmarks notebooks
	$(BIN)/ruff format pylib tests benchmarks notebooks

# two workers (this machine has 2 cores); --dist loadfile keeps each notebook's cells in one kernel
test: $(STAMP) lint maybe-peers
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25 tests --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests -x -q -m "not slow"

# B and A processes, a fault proxy, A killed with SIGKILL 6 times; prints the figures (about 30 s)
chaos: $(STAMP)
	$(BIN)/hooklab chaos --payments 200 --kills 6

# the fuzz tests of make test, with 40x the examples (a few minutes); prints Hypothesis' statistics
fuzz: $(STAMP)
	HOOKLAB_FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest -n 2 -q tests/test_fuzz_openapi.py \
		tests/test_webhook_property.py --hypothesis-show-statistics

notebooks: $(STAMP) index
	$(BIN)/python -m hooklab.lab.notebook_tools execute notebooks

# the Node peers of tests/test_real_peers.py and notebook 03 (GitHub's @octokit/webhooks, the
# smee-client relay), exactly as peers/node/package-lock.json pins them
PEERS_STAMP := peers/node/node_modules/.package-lock.json
peers: $(PEERS_STAMP)

$(PEERS_STAMP): peers/node/package.json peers/node/package-lock.json
	@command -v npm >/dev/null || { echo "make peers needs Node.js 20 and npm (apt-get install nodejs npm)"; exit 1; }
	cd peers/node && npm ci --no-audit --no-fund

# with npm here, make test and make lab install the Node peers; without npm, or offline, they go on
# without them: the tests that need them skip and say why (in CI, HOOKLAB_REQUIRE_PEERS=1 fails them)
maybe-peers:
	@if ! command -v npm >/dev/null; then echo "no npm here: the tests with Node peers will skip (make peers installs them)"; \
	elif ! $(MAKE) -s --no-print-directory peers; then echo "warning: make peers failed; going on without the Node peers"; fi

site: $(STAMP)
	$(BIN)/python -m hooklab.lab.site _site

index: $(STAMP)
	$(BIN)/python -m hooklab.lab.notebook_tools index notebooks

benchmarks: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact pins (make constraints)' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
