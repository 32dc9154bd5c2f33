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
.PHONY: help env repro test test-fast lint format bench lock params-check clean-env store-init store-push store-server new-project

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

# Each step says what it does; pip shows its own progress (minutes on a fresh machine).
$(STAMP): requirements.lock pyproject.toml
	@echo "[1/4] $(VENV): the virtual environment" && (test -x $(BIN)/python || $(PYTHON) -m venv $(VENV))
	@echo "[2/4] installing the $$(grep -cE '^[A-Za-z0-9]' requirements.lock) packages of requirements.lock"
	$(BIN)/python -m pip install --progress-bar on -r requirements.lock
	@echo "[3/4] removing packages the lock does not list (pip-sync)"
	$(BIN)/pip-sync --quiet requirements.lock
	@echo "[4/4] this project, editable"
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

env: $(STAMP) ## create or update .venv from requirements.lock

repro: $(STAMP) ## clear a killed dvc's leftovers, pull from the shared store if one is configured, then run the pipeline (dvc repro)
	$(BIN)/reprostack pipeline prepare
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

lint: $(STAMP) ## ruff: lint and check the formatting (what CI runs); `make format` fixes both
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## ruff: apply the safe lint fixes and the formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## run the benchmarks in bench/ and print ratios
	$(BIN)/python bench/run.py

params-check: $(STAMP) ## fail if params.yaml differs from conf/
	$(BIN)/reprostack params check

lock: ## re-resolve requirements.lock from pyproject.toml, every extra included (needs the package registry)
	$(BIN)/pip-compile --quiet --all-extras --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

clean-env: ## delete .venv
	rm -rf $(VENV)

OUT ?= ..
new-project: $(STAMP) ## render a new, thin project on this library into OUT (ARGS go to cookiecutter; README: "Start your own project")
	$(BIN)/cookiecutter $(CURDIR) --directory template --output-dir $(OUT) $(ARGS)
