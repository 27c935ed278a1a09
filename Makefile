# CloudAudit: the commands a person types twice.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := .venv/bin/python

.PHONY: install up demo test test-fast test-cluster lint validate-deploy format asyncapi bench

install: ## Install everything (uv from PyPI if missing, then the locked workspace), with what `cloudaudit` needs to start byte-compiled (fast even where PYTHONDONTWRITEBYTECODE is set)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-packages
	@$(PY) -m cloudaudit.common.bytecode libs services

up: install ## Run CloudAudit on the embedded NATS + PostgreSQL (Ctrl-C stops)
	.venv/bin/cloudaudit up

demo: install ## The guided demo (simulated AWS company, Slack console)
	.venv/bin/cloudaudit demo

test: install lint validate-deploy ## Lint, type-check, validate deployment files, run the whole suite
	.venv/bin/cloudaudit asyncapi --check
	$(PY) -m pytest --durations=40

test-fast: ## The daily subset (no whole-product runs, nothing marked slow; under 5 min), no install or lint
	$(PY) -m pytest -x -q -m "not slow"

test-cluster: ## The multi-host run (root, network namespaces; about 4 min): NATS cluster, PostgreSQL failover, two replicas of every service, faults under load
	$(PY) -m pytest -q -x -s -m cluster tests/cluster

lint: ## ruff (lint + format check) and mypy on libs/common
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy libs/common/src

validate-deploy: ## Schema-validate docker-compose.yml and the Kubernetes manifests (no cluster needed); the generated NATS configs are current
	.venv/bin/cloudaudit deploy render --check
	.venv/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	.venv/bin/kubernetes-validate --strict --quiet $$(ls deploy/k8s/*.yaml | grep -v kustomization)

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

asyncapi: ## Regenerate docs/asyncapi.json from the services' code
	.venv/bin/cloudaudit asyncapi

bench: install ## Benchmarks (print figures); NAB=PATH adds the NAB run (a NAB checkout or git dir)
	@for b in benchmarks/[a-z]*.py benchmarks/anomaly/benchmark.py; do echo "== $$b"; $(PY) $$b || exit 1; done
	@if [ -n "$(NAB)" ]; then echo "== benchmarks/anomaly/nab.py"; $(PY) benchmarks/anomaly/nab.py --nab "$(NAB)"; fi
