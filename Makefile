# The two commands of the README. Both create and use the project venv (.venv) themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

## Set up everything and run Abacus with demo data (Ctrl-C stops it).
demo: $(VENV)/.installed
	$(BIN)/abacus demo

## Install what the tests need and run the whole suite: pytest-xdist workers (TEST_WORKERS, default 3), whole
## test files per worker (module fixtures are built once); each worker has its own database, queue and Redis db.
TEST_WORKERS ?= 3
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

## Only the pure tests (tests/unit): no PostgreSQL, Redis, emulator or browser is started; a few seconds.
.PHONY: test-unit
test-unit: $(VENV)/.installed
	$(BIN)/pytest -q tests/unit

lint: $(VENV)/.installed
	$(BIN)/ruff check .

## Type-check src/abacus as [tool.mypy] in pyproject.toml says (strict for domain, queries, providers, sync).
.PHONY: typecheck
typecheck: $(VENV)/.installed
	$(BIN)/mypy

## Print per-page server times on a large synthetic data set.
bench: $(VENV)/.installed
	$(BIN)/abacus bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
