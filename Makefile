# Every target sets up what it needs: a pinned uv, then the locked environment in .venv.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
VENV_STAMP := .venv/.synced
RUN := $(UV) run --frozen --no-sync

.PHONY: help setup demo test lint typecheck checkov bench bench-e2e fuzz package fmt clean

help: ## Show the targets.
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV_STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --group dev
	@touch $@

setup: $(VENV_STAMP) ## Create .venv with the locked dependencies.

demo: $(VENV_STAMP) ## Render sample inputs through the whole flow and show the results.
	$(RUN) thumbnailer demo

test: lint typecheck checkov ## Lint, type-check, scan the Terraform and run the whole test suite.
	$(RUN) pytest

CHECKOV_VERSION := 3.3.30
checkov: $(UV) ## Static analysis of infra/ (every failed check must be suppressed with a reason).
	$(UV) tool run --from "checkov==$(CHECKOV_VERSION)" checkov -d infra --compact --quiet --skip-download

lint: $(VENV_STAMP) ## ruff check and format check.
	$(RUN) ruff check src tests bench fuzz
	$(RUN) ruff format --check src tests bench fuzz

typecheck: $(VENV_STAMP) ## mypy --strict on src/, fuzz/ and bench/.
	$(RUN) mypy
	MYPYPATH=fuzz:bench $(RUN) mypy --strict fuzz bench

fmt: $(VENV_STAMP) ## Format the code.
	$(RUN) ruff format src tests bench fuzz
	$(RUN) ruff check --fix src tests bench fuzz

bench: $(VENV_STAMP) ## Engine benchmark: render vs naive Pillow vs pyvips.
	$(RUN) python bench/engine.py

bench-e2e: $(VENV_STAMP) ## End-to-end benchmark against the local stack.
	$(RUN) python bench/e2e.py

FUZZ_ARGS ?= --minutes 10
fuzz: $(VENV_STAMP) ## Mutation fuzzing of the engine (FUZZ_ARGS="--minutes 10"); see fuzz/README.md.
	$(RUN) python fuzz/render_fuzz.py $(FUZZ_ARGS)

PACKAGE_ARGS ?=
package: $(VENV_STAMP) ## Build dist/function.zip and the Lambda layer (PACKAGE_ARGS="--arch x86_64 --without video").
	$(RUN) thumbnailer package $(PACKAGE_ARGS)

clean: ## Remove build outputs and the environment.
	rm -rf .venv .cache dist .mypy_cache .ruff_cache .pytest_cache
