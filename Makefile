# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo up test test-unit test-service test-e2e lint bench soak clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt tools/asyncapi/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# The official AsyncAPI CLI (pinned in tools/asyncapi), for `asyncapi validate` in make test.
	@if command -v npm >/dev/null; then \
		npm ci --prefix tools/asyncapi --no-audit --no-fund --ignore-scripts --loglevel=error; \
	else echo "make install: npm not found, the AsyncAPI CLI is not installed"; fi
	@# promtool (alert rule tests) and prometheus (concilia up --monitoring): Debian's package.
	@command -v promtool >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }; }; } \
		|| echo "make install: could not install Debian's prometheus (promtool); alert tests will say so"
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
	$(BIN)/pytest -q -n 2 --dist loadfile  # two workers, a test module stays on one (its servers are module fixtures)

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
