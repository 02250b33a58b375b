# Two entry points for a fresh machine: `make run` (set up, then serve) and `make test`
# (set up, then the whole suite). Both are idempotent: the virtualenv is reinstalled only when
# pyproject.toml or requirements.lock changes. Every dependency's version comes from
# requirements.lock; `make lock` regenerates it (then `make test`, and commit the lock).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: setup system-deps run test lint typecheck check bench lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/csms serve $(ARGS)

# chromium and haproxy, which the dashboard and scale-out tests drive
system-deps:
	bash scripts/system_deps.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check csms tests scripts
	$(BIN)/ruff format --check csms tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy csms

check: test lint typecheck

bench: $(STAMP)
	$(BIN)/python scripts/bench/runtime.py

lock:
	$(PYTHON) scripts/lock.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
