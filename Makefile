# Blockprop: `make run` to use it, `make test` to test it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
FRONTEND_SRC := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	frontend/index.html frontend/vite.config.ts frontend/package-lock.json

.PHONY: run test bench dev dist clean lint chromium

## run: install what is missing, build the frontend if it changed, serve at http://$(HOST):$(PORT)
run: $(STAMPS)/backend $(STAMPS)/frontend-build
	BLOCKPROP_HOST=$(HOST) BLOCKPROP_PORT=$(PORT) $(BIN)/blockprop serve

## test: install what the tests need, then lint, frontend unit tests and pytest (incl. e2e)
test: $(STAMPS)/backend-test $(STAMPS)/frontend-build chromium lint
	cd frontend && npm test
	$(BIN)/pytest

lint: $(STAMPS)/backend-test $(STAMPS)/frontend-deps
	$(BIN)/ruff check backend tests
	$(BIN)/ruff format --check backend tests
	cd frontend && npm run lint

chromium: $(STAMPS)/backend-test
	@echo "Looking for a Chromium for the browser tests..."
	$(BIN)/python tests/e2e/chromium.py

## bench: the benchmarks in tests/bench, each figure as a ratio to a reference in the same run
bench: $(STAMPS)/backend-test $(STAMPS)/frontend-build chromium
	@for f in tests/bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

## dev: uvicorn --reload on :8000 plus the Vite dev server (proxying /api) on :5173
dev: $(STAMPS)/backend $(STAMPS)/frontend-deps
	trap 'kill 0' EXIT; \
	BLOCKPROP_PORT=8000 $(BIN)/uvicorn --factory blockprop.api.app:create_app --reload \
		--reload-dir backend --host 127.0.0.1 --port 8000 & \
	cd frontend && npm run dev

## dist: dist/blockprop-*.whl, a wheel that carries the built frontend (see setup.py)
dist: $(STAMPS)/frontend-build | $(BIN)/python
	rm -f dist/blockprop-*.whl
	$(BIN)/pip wheel -q --no-deps -w dist .
	@ls dist/blockprop-*.whl

clean:
	rm -rf $(VENV) $(STAMPS) frontend/node_modules frontend/dist test-results .pytest_cache \
		.ruff_cache dist build

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMPS)/backend: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/backend-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/backend

$(STAMPS)/frontend-deps: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/frontend-build: $(STAMPS)/frontend-deps $(FRONTEND_SRC)
	cd frontend && npm run build
	@mkdir -p $(STAMPS) && touch $@
