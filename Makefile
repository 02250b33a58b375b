# Two entry points for a fresh machine: `make run` (set up, then serve) and `make test`
# (set up, then the whole suite). Both are idempotent: the virtualenv is rebuilt only when
# pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck check bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/csms serve $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check csms tests scripts
	$(BIN)/ruff format --check csms tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy csms

check: test lint typecheck

bench: $(STAMP)
	$(BIN)/python scripts/bench/runtime.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
