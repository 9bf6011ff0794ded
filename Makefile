# PhotonDB: one entry point for developers and CI. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv lint unit process test run bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml constraints.txt
	./hack/python-env.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,operator]'
	touch $@

venv: $(BIN)/.installed ## create .venv with PhotonDB and its tools installed

lint: venv ## ruff (lint + format check) and the import-linter layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

unit: venv ## pure unit tests
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

process: venv ## tests that start real photon-node processes on loopback
	$(BIN)/pytest tests/process $(PYTEST_ARGS)

test: lint ## everything CI runs: lint, unit and process tests
	$(BIN)/pytest tests $(PYTEST_ARGS)

run: venv ## start one node on 127.0.0.1:7700 with data in ./photon-data
	$(BIN)/photon-node --node-id local --data-dir photon-data --listen 127.0.0.1:7700 --peer-listen 127.0.0.1:7701

bench: venv ## benchmark a node side by side with etcd (see bench/README.md)
	PATH=$(abspath $(BIN)):$$PATH bench/compare_etcd.sh

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

include mk/k8s.mk
