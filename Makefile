# One entry point for everything: each target sets up its own virtual environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-legacy lint typecheck check dev clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## run the main job on the bundled emulator, tables land in ./data
	$(BIN)/portabilling demo --data-dir data

test: $(STAMP)  ## the whole test suite
	$(BIN)/pytest -q

test-legacy: $(STAMP)  ## the whole suite against a pre-MR101 emulator, clients in legacy mode
	PORTABILLING_TEST_RELEASE=legacy $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check connector tests benchmarks docs examples definitions.py
	$(BIN)/ruff format --check connector tests benchmarks docs examples definitions.py

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test test-legacy  ## lint, format, types, the tests against both releases (CI: .ci/run)

dev: $(STAMP)  ## emulator, event receiver and the Dagster UI on http://127.0.0.1:3000 (Ctrl-C stops all)
	$(BIN)/portabilling dev $(DEV_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
