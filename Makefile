# Quick start: `make serve` (webhook on http://127.0.0.1:8080, embedded engine, no AWS account,
# authentication off: ECS_ADMISSION_AUTH=none, for a local run only; the server says so at start-up;
# the playground on: http://127.0.0.1:8080/playground, docs/playground.md)
# and `make test` (the whole suite). Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint install bundle checkov

# The engine-requirements.txt line is OPA's Go evaluator, the in-process engine: an ordinary
# dependency on Python >= 3.14; on older ones its metadata refuses the install although it runs
# there, hence the flag (pinned by version and hash; docs/engines.md).
$(BIN)/.installed: pyproject.toml engine-requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --ignore-requires-python --require-hashes -r engine-requirements.txt
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

serve: $(BIN)/.installed
	ECS_ADMISSION_AUTH=none ECS_ADMISSION_PLAYGROUND=on $(BIN)/ecs-admission serve

lint: $(BIN)/.installed
	$(BIN)/ruff check service tests bench
	$(BIN)/lint-imports

# Three processes on two cores: an eighth of the suite is tests waiting on servers they started
# (docs/configuration.md "Tests and the corpus").
test: lint
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder

# Checkov, for tests/deploy/test_checkov.py, in a virtualenv of its own: it pins boto3, packaging and
# networkx below what the test extras need, so it cannot share .venv. CI (.ci/run) installs it; without
# it the test skips and says how to get it.
CHECKOV_VERSION := 3.3.30
.venv-checkov/bin/checkov:
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet checkov==$(CHECKOV_VERSION)

checkov: .venv-checkov/bin/checkov

# The policies as an OPA bundle, and the decision-log mask as a second one (its root is system/log),
# where deploy/docker-compose.yml mounts them.
bundle: $(BIN)/.installed
	$(BIN)/ecs-admission policy bundle -o deploy/bundle/ecs-admission.tar.gz
	$(BIN)/ecs-admission policy mask-bundle deploy/opa/log-mask.rego -o deploy/bundle/log-mask.tar.gz
