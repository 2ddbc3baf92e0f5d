# Ground Control: the two commands a new user needs.
#   make demo   -- create/reuse .venv, install, show the wall on the built-in demo
#   make test   -- create/reuse .venv, install, run ruff, mypy, the import contract
#                  (import-linter: the layers in pyproject.toml) and the test suite
# Both are safe to run twice: the venv is reused and reinstalled only when
# pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint bench install clean help

help:
	@echo "make demo   show the wall on the built-in demo (hub + demo feed + wall, one process)"
	@echo "make test   run ruff, mypy, the import contract and the tests"
	@echo "make bench  run the throughput/latency benchmark"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/groundcontrol

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# One worker more than cores: some tests wait on sockets, subprocesses and a browser,
# and the spare worker keeps the cores busy meanwhile (measured 287 s vs 301 s on 2 cores).
WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))

test: lint
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/groundcontrol bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
