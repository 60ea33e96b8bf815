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

## Install what the tests need and run the whole suite.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

## Print per-page server times on a large synthetic data set.
bench: $(VENV)/.installed
	$(BIN)/abacus bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
