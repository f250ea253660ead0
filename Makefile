# Everything a fresh machine needs comes from here: `make dev` and `make test`
# bootstrap their virtual environments from the committed lock files.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export AWS_DEFAULT_REGION ?= us-east-1
# The machine is offline but for package registries; sam must not phone home.
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help dev test lint typecheck openapi openapi-check unit integration http sam-validate sam-build \
        cfn-lint bench events lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: requirements/dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements/dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

# aws-sam-cli pins boto3 and pydantic to other versions than the app's.
$(SAM_VENV)/.installed: requirements/sam.lock $(VENV)/.installed
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(BIN)/uv pip sync --quiet --python $(SAM_VENV)/bin/python requirements/sam.lock
	touch $@

dev: $(VENV)/.installed  ## run the product on the local stack (PORT, JWT_SECRET, ADMIN_API_KEY, STRIPE_SECRET_KEY)
	$(BIN)/python -m local.stack

test: lint typecheck openapi-check unit integration http sam-validate sam-build  ## everything CI runs

lint: $(VENV)/.installed  ## ruff
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed  ## mypy, strict on the layer
	$(BIN)/mypy

openapi: $(VENV)/.installed  ## regenerate openapi.json from the code
	$(BIN)/python -m local.openapi

openapi-check: $(VENV)/.installed
	$(BIN)/python -m local.openapi --check

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit -q

integration: $(VENV)/.installed
	$(BIN)/pytest tests/integration -q -n 2

http: $(VENV)/.installed
	$(BIN)/pytest tests/http -q

sam-validate: $(SAM_VENV)/.installed  ## sam validate --lint (cfn-lint), offline
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml

cfn-lint: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/cfn-lint template.yaml

sam-build: $(SAM_VENV)/.installed  ## sam build (layer for arm64, python3.11), no Docker
	$(SAM_VENV)/bin/sam build --template template.yaml --build-dir .aws-sam/build --cached

bench: $(VENV)/.installed  ## cold-import ratios, calls per route, tenant write units, list reads over 10,000 tenants
	$(BIN)/python -m bench

events: $(VENV)/.installed  ## regenerate events/ sample events
	$(BIN)/python -m local.sample_events

lock: $(VENV)/.installed  ## re-pin requirements/*.lock and the layer's requirements.txt
	$(BIN)/uv pip compile -q --python-version 3.11 --python-platform linux requirements/dev.in -o requirements/dev.lock
	$(BIN)/uv pip compile -q --python-version 3.11 --python-platform linux requirements/runtime.in \
		-c requirements/dev.lock -o layers/common/requirements.txt
	$(BIN)/uv pip compile -q --python-version 3.11 --python-platform linux requirements/sam.in -o requirements/sam.lock

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache
