# Quick start: `make serve` (webhook on http://127.0.0.1:8080, embedded engine, no AWS account,
# authentication off: ECS_ADMISSION_AUTH=none, for a local run only; the server says so at start-up)
# and `make test` (the whole suite). Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint install

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

serve: $(BIN)/.installed
	ECS_ADMISSION_AUTH=none $(BIN)/ecs-admission serve

lint: $(BIN)/.installed
	$(BIN)/ruff check service tests

test: lint
	$(BIN)/python -m pytest
