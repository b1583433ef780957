# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo up test test-unit test-service test-e2e lint bench soak clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/concilia demo

up: install
	$(BIN)/concilia up

lint: install
	$(BIN)/ruff check concilia services tests
	$(BIN)/ruff format --check concilia services tests
	$(BIN)/mypy concilia services

test: install lint
	$(BIN)/pytest -q

test-unit: install
	$(BIN)/pytest -q tests/unit

test-service: install
	$(BIN)/pytest -q tests/service

test-e2e: install
	$(BIN)/pytest -q tests/e2e

bench: install
	$(BIN)/python -m tests.bench.matching

soak: install
	$(BIN)/python -m tests.bench.soak

clean:
	rm -rf $(VENV) .concilia .pytest_cache .mypy_cache .ruff_cache
