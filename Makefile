# One place for set-up: `make run` starts the gateway, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := chromium firefox-esr nginx-light libnginx-mod-http-echo wrk nghttp2-client nodejs postgresql

.PHONY: run test lint bench system-deps clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

# Debian packages the browser, PostgreSQL and benchmark tests need (run as root; CI is root).
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# The demo on the default database, the one every `pushgate` command uses unless told otherwise.
run: $(STAMP)
	$(BIN)/python -m pushgate demo

# Every test on SQLite (store tests on both backends), then the gateway tests again with every
# gateway on PostgreSQL.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q tests
	PUSHGATE_TEST_BACKEND=postgresql $(BIN)/python -m pytest -q -m "not own_database" \
	  tests/api tests/gateway tests/delivery tests/scheduling tests/automation tests/content \
	  tests/dashboard

lint: $(STAMP)
	$(BIN)/ruff format --check server tests bench
	$(BIN)/ruff check server tests bench
	$(BIN)/mypy server/pushgate bench

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
