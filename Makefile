# Quick start: `make serve` (webhook on http://127.0.0.1:8080, embedded engine, no AWS account,
# authentication off: ECS_ADMISSION_AUTH=none, for a local run only; the server says so at start-up)
# and `make test` (the whole suite). Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint install bundle

# The last pip line is test-only: OPA's own Go evaluator behind the parity suite's OPA stand-in
# (tests/opa_standin.py). Its metadata asks for Python 3.14, but its ctypes wrapper runs on 3.11.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --ignore-requires-python opa-golib-python-bindings==0.4.4
	touch $@

install: $(BIN)/.installed

serve: $(BIN)/.installed
	ECS_ADMISSION_AUTH=none $(BIN)/ecs-admission serve

lint: $(BIN)/.installed
	$(BIN)/ruff check service tests bench

test: lint
	$(BIN)/python -m pytest

# The policies as an OPA bundle, and the decision-log mask as a second one (its root is system/log),
# where deploy/docker-compose.yml mounts them.
bundle: $(BIN)/.installed
	$(BIN)/ecs-admission policy bundle -o deploy/bundle/ecs-admission.tar.gz
	$(BIN)/ecs-admission policy mask-bundle deploy/opa/log-mask.rego -o deploy/bundle/log-mask.tar.gz
