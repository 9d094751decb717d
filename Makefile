# custops: `make run` starts everything with demo data, `make test` runs the whole suite.
# Both install what is missing (venv, RabbitMQ, PostgreSQL) and are idempotent.

SHELL        := /bin/bash
PYTHON       ?= python3
VENV         := .venv
BIN          := $(VENV)/bin
DISTRIBUTIONS := shared services/customers services/tickets services/timeline services/billing \
                 services/mailsync services/reports gateway
PYTEST_ARGS  ?=

.PHONY: venv infra setup run test lint bench bench-load clean

venv: $(VENV)/.installed

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || scripts/infra.sh python
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when a pyproject.toml or the dev requirements change.
$(VENV)/.installed: $(addsuffix /pyproject.toml,$(DISTRIBUTIONS)) requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(addprefix -e ,$(DISTRIBUTIONS)) -r requirements-dev.txt
	touch $@

# dovecot: the IMAP server the mail intake tests start on loopback (tests/mail_servers.py)
infra:
	scripts/infra.sh rabbitmq postgresql dovecot

setup: venv infra
	$(BIN)/custops setup

# as RabbitMQ user `custops` (made by infra.sh, password in var/rabbitmq.env), not guest, unless AMQP_URI is set
run: venv infra
	scripts/infra.sh rabbitmq-user
	set -a; if [ -z "$${AMQP_URI:-}" ] && [ -f var/rabbitmq.env ]; then . var/rabbitmq.env; fi; set +a; \
	$(BIN)/custops setup && exec $(BIN)/python scripts/run.py

# the whole suite as one pytest shard per core (scripts/run_tests.py: own vhost, databases and ports
# each); PYTEST_ARGS=... runs plain pytest with those arguments instead
test: setup lint
	$(if $(strip $(PYTEST_ARGS)),$(BIN)/python -m pytest $(PYTEST_ARGS),$(BIN)/python scripts/run_tests.py)

lint: venv
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python tests/bench/run_all.py
	$(BIN)/python tests/bench/load.py

# the open-loop load benchmark alone (docs/performance.md); e.g. LOAD_ARGS="--rates 25,50 --seconds 10"
bench-load: setup
	$(BIN)/python tests/bench/load.py $(LOAD_ARGS)

clean:
	rm -rf var $(VENV)
