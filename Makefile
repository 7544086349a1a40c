# riskml — the two commands a new machine needs: `make demo` and `make test`.
# CI (.ci/run) runs `make lint` and `make test`: the whole suite, slow tests included.
# Every target creates the virtual environment and installs what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= data/demo
DEMO_HOUSEHOLDS ?= 20000
DEMO_SEED ?= 7

.PHONY: venv sysdeps demo test test-fast test-all bench lint clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark,reports]'
	@touch $(STAMP)

venv: $(STAMP)

sysdeps:
	@bash scripts/install-system-deps.sh

demo: venv sysdeps
	$(VENV)/bin/riskml demo --households $(DEMO_HOUSEHOLDS) --seed $(DEMO_SEED) --out $(DEMO_DIR)

# The whole suite, slow tests included (end to end, determinism across processes, Spark ≡ local,
# demo, notebooks): what CI runs.
test: venv sysdeps
	$(PY) -m pytest -m "slow or not slow"

# The quick loop while editing: slow tests skipped (pytest's default, see pyproject.toml).
test-fast: venv sysdeps
	$(PY) -m pytest

test-all: test

bench: venv sysdeps
	$(PY) -m benchmarks.run

# Style (ruff), the layering contracts (import-linter, [tool.importlinter] in pyproject.toml)
# and types (mypy, [tool.mypy]).
lint: venv
	$(VENV)/bin/ruff check riskml tests benchmarks scripts
	$(VENV)/bin/ruff format --check riskml tests benchmarks scripts
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache data/demo data/demo.truth.parquet
