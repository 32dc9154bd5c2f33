# reprostack: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Rebuilt whenever requirements.lock or pyproject.toml is newer than it.
STAMP := $(VENV)/.installed-from-lock
# Everything runs offline: models come from packages, never from a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help env repro test test-fast bench lock params-check clean-env store-init store-push store-server template-update

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/pip-sync --quiet requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

env: $(STAMP) ## create or update .venv from requirements.lock

repro: $(STAMP) ## pull from the shared store if one is configured, then run the pipeline (dvc repro)
	$(BIN)/reprostack store pull --if-configured --keep-going
	$(BIN)/dvc repro

store-init: $(STAMP) ## set up the shared store: a local directory outside the repo, or URL=s3://B/P ENDPOINT=http://..
	$(BIN)/reprostack store init $(URL) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

store-push: $(STAMP) ## push DVC outputs and the vector table's new files to the shared store
	$(BIN)/reprostack store push

STORE_DIR ?= .seaweedfs
store-server: $(STAMP) ## start a SeaweedFS S3 server on loopback for trying the store (Ctrl-C stops it)
	$(BIN)/python -m reprostack.store.seaweed $(STORE_DIR)

test: $(STAMP) ## run every test, slow ones included (what CI runs), one worker per core (pytest-xdist)
	$(BIN)/python -m pytest -n auto --dist loadgroup

test-fast: $(STAMP) ## run the fast tests only, one worker per core (pytest-xdist)
	$(BIN)/python -m pytest -m "not slow" -n auto --dist loadgroup

bench: $(STAMP) ## run the benchmarks in bench/ and print ratios
	$(BIN)/python bench/run.py

params-check: $(STAMP) ## fail if params.yaml differs from conf/
	$(BIN)/reprostack params check

lock: ## re-resolve requirements.lock from pyproject.toml (needs the package registry)
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

template-update: $(STAMP) ## take the template's newer commits (cruft update; ARGS=-y applies without asking)
	@test -f .cruft.json || { echo "error: no .cruft.json: this project was not made from the template; nothing to update from"; exit 1; }
	$(BIN)/cruft update $(ARGS)
	@if [ -n "$$(git ls-files --unmerged)$$(git ls-files --others --exclude-standard -- '*.rej')" ]; then \
		echo "error: the update conflicts with your own changes (see git status: conflict markers or *.rej files); resolve them, then commit"; exit 1; fi

clean-env: ## delete .venv
	rm -rf $(VENV)

# template-only:start (new projects do not carry the template, so they drop this target)
OUT ?= ..
.PHONY: new-project
new-project: $(STAMP) ## render a new project from this repository into OUT (ARGS go to cookiecutter)
	$(BIN)/cookiecutter $(CURDIR) --directory template --output-dir $(OUT) $(ARGS)
# template-only:end
