# Postwarden: `make up` runs the relay on an embedded broker; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= deploy/example/postwarden.yaml

.PHONY: up test install install-test servers bench clean

# Debian's own python3 needs python3-venv for ensurepip; install it when root and missing.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

EXAMPLE_KEYS := deploy/example/keys/acme-rsa.pem deploy/example/keys/acme-ed25519.pem

deploy/example/keys/acme-rsa.pem: | $(VENV)/.installed
	$(BIN)/postwarden dkim-keygen --domain acme.example --selector s1 --type rsa --out $@
deploy/example/keys/acme-ed25519.pem: | $(VENV)/.installed
	$(BIN)/postwarden dkim-keygen --domain acme.example --selector e1 --type ed25519 --out $@

up: install $(EXAMPLE_KEYS)
	$(BIN)/postwarden up --config $(CONFIG) --sink 127.0.0.1:2626

# Test servers: ClamAV and rspamd from Debian (installed when run as root).
servers:
	bash tests/servers/install.sh

test: install-test servers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

# Benchmarks print their figures; see bench/README.md for each one and the Postfix baseline.
bench: $(VENV)/.installed-bench servers
	$(BIN)/python bench/relay_bench.py --count 20000 --sessions 20
	$(BIN)/python bench/sign_bench.py
	$(BIN)/python -m bench.dlp_bench
	$(BIN)/python bench/scan_bench.py
	$(BIN)/python bench/delivery_bench.py

clean:
	rm -rf $(VENV) .postwarden .pytest_cache
