# ora-infra: each target is a thin call into the real tool.
# `make up` provisions the dev stack; `make test` runs every suite.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

STACK ?= dev
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
RUFF := $(VENV)/bin/ruff
BACKEND := $(CURDIR)/.pulumi-local
export PULUMI_BACKEND_URL ?= file://$(BACKEND)
export PULUMI_CONFIG_PASSPHRASE_FILE ?= $(BACKEND)/passphrase
# The Pulumi CLI scripts/install-pulumi.sh puts into the project when none is on PATH.
export PATH := $(CURDIR)/.tools/pulumi:$(PATH)

.PHONY: help venv up preview destroy render test test-fast test-deps e2e backup-drill infra-test lint fmt \
  bench run-app report status logs health maintenance backup-check cleanup history rollback \
  soak swarm-e2e tunnel bench-monitoring

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Every package from the hash lock (scripts/lock-deps.sh), pip included: nothing unchecked.
$(VENV)/.installed: requirements.lock
	@command -v python3 >/dev/null || { echo "python3 is missing: apt-get install python3 python3-venv" >&2; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.lock
	touch $@

venv: $(VENV)/.installed ## create .venv from requirements.lock (hash-checked)

up: ## pulumi up of STACK (default dev) on a local file backend
	@scripts/install-pulumi.sh || true  # require.sh names it with the rest
	@scripts/require.sh python3-venv pulumi docker
	@$(MAKE) --no-print-directory venv
	@mkdir -p $(BACKEND) && chmod 700 $(BACKEND)
	@[ -n "$${PULUMI_CONFIG_PASSPHRASE:-}" ] || [ -s "$(PULUMI_CONFIG_PASSPHRASE_FILE)" ] \
	  || { umask 077; head -c 32 /dev/urandom | base64 > "$(PULUMI_CONFIG_PASSPHRASE_FILE)"; \
	       echo "created a passphrase for the local backend: $(PULUMI_CONFIG_PASSPHRASE_FILE)"; }
	pulumi login "$(PULUMI_BACKEND_URL)"
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK) $(ARGS)
	@# A swarm stack: fail on a rollout Swarm rolled back after pulumi-docker's wait ended.
	$(PY) -m infra.ops rollout $(STACK)

preview: ## pulumi preview of STACK
	@scripts/install-pulumi.sh || true  # require.sh names it with the rest
	@scripts/require.sh python3-venv pulumi
	@$(MAKE) --no-print-directory venv
	pulumi preview --stack $(STACK) --diff $(ARGS)

destroy: ## pulumi destroy of STACK (volumes of non-dev stacks are protected)
	@scripts/install-pulumi.sh || true  # require.sh names it with the rest
	@scripts/require.sh python3-venv pulumi docker
	@$(MAKE) --no-print-directory venv
	pulumi destroy --stack $(STACK) $(ARGS)

status: venv ## every service of STACK: state, health, image, uptime, restarts; URL and certificate
	$(PY) -m infra.ops status $(STACK) $(if $(URL),--url $(URL))

logs: venv ## logs of STACK merged in time order [SERVICE=app] [SINCE=1h] [TAIL=100]
	$(PY) -m infra.ops logs $(STACK) $(if $(SERVICE),--service $(SERVICE)) \
	  $(if $(SINCE),--since $(SINCE)) $(if $(TAIL),--tail $(TAIL))

health: venv ## the read-only post-deploy checks (tests/infra) against STACK [OUTPUTS=file]
	@$(if $(OUTPUTS),true,scripts/install-pulumi.sh)
	$(PY) -m infra.ops health $(STACK) $(if $(OUTPUTS),--outputs $(OUTPUTS)) $(ARGS)

# `make maintenance on` and `make maintenance MODE=on` both work.
MODE ?= $(filter on off,$(MAKECMDGOALS))
on off:
	@:

maintenance: venv ## on|off (or MODE=on|off): STACK's maintenance page (ora:maintenance + up)
	@case "$(MODE)" in on|off) ;; *) echo "MODE = '$(MODE)': is not on or off. Fix: make maintenance on" >&2; exit 2 ;; esac
	@scripts/install-pulumi.sh
	$(PY) -m infra.ops maintenance $(STACK) $(MODE)

history: venv ## the last app images STACK deployed: time, deployer, image by digest (running first)
	@scripts/install-pulumi.sh
	$(PY) -m infra.ops history $(STACK)

rollback: venv ## redeploy STACK's previous app image [IMAGE=ref from make history]; README, "Rollback"
	@scripts/install-pulumi.sh
	$(PY) -m infra.ops rollback $(STACK) $(if $(IMAGE),--image $(IMAGE))

backup-check: venv ## the newest backup's age and size, and restic check (on STACK's host)
	$(PY) -m infra.ops backup-check $(STACK)

cleanup: venv ## old images of STACK's repositories (newest KEEP=2 unused kept for rollback), build cache [ARGS=--dry-run]
	$(PY) -m infra.ops cleanup $(STACK) --keep $(or $(KEEP),2) $(ARGS)

render: venv ## print the nginx config STACK renders to
	$(PY) -m infra.ops.render nginx $(STACK)

tunnel: venv ## ssh -L to STACK's Prometheus :9090, Alertmanager :9093, Grafana :3000 (remote stacks)
	$(PY) -m infra.ops.tunnel $(STACK) $(ARGS)

report: venv ## the alert report of STACK: emailed, or ARGS="--out DIR" (--prometheus URL, --hours N)
	$(PY) -m infra.monitoring.report $(STACK) $(ARGS)

test: ## every suite: unit, templates, app, then the e2e, the soak and the swarm e2e
	@scripts/install-test-deps.sh
	@$(MAKE) --no-print-directory lint
	$(PYTEST) tests --ignore=tests/e2e --ignore=tests/infra
	$(MAKE) e2e
	$(MAKE) soak
	$(MAKE) swarm-e2e

test-fast: ## the suites that need no Docker engine
	@scripts/install-test-deps.sh
	@$(MAKE) --no-print-directory venv
	$(PYTEST) tests --ignore=tests/e2e --ignore=tests/infra

test-deps: ## install the Debian packages and Renovate the suites need (scripts/install-test-deps.sh)
	@scripts/install-test-deps.sh

e2e: venv ## apply the dev stack on a Docker engine here, verify it with tests/infra, redeploy under load
	@scripts/require.sh dockerd debootstrap restic
	$(PYTEST) tests/e2e -m e2e -s

backup-drill: venv ## the 100k restore drill on the e2e stack, a benchmark (run it under flock /tmp/ora-e2e.lock)
	@scripts/require.sh dockerd debootstrap restic
	$(PYTEST) tests/e2e/drill_backup.py -m e2e -s

bench-monitoring: venv ## monitoring's memory after 10 min of scraping on the e2e stack (under flock /tmp/ora-e2e.lock)
	@scripts/require.sh dockerd debootstrap restic
	$(PYTEST) tests/e2e/bench_monitoring.py -m e2e -s

soak: venv ## 200 req/s on the e2e stack across every change, failures per event
	@scripts/require.sh dockerd debootstrap restic
	$(PYTEST) tests/e2e/soak.py -m e2e -s

infra-test: venv ## the post-deploy suite against HOSTS (default local://)
	$(PYTEST) tests/infra --hosts=$${HOSTS:-local://} --stack $(STACK) $(ARGS)

lint: venv ## ruff, hadolint, shellcheck, zizmor and the locks' vulnerability audit
	$(RUFF) check .
	$(RUFF) format --check .
	$(VENV)/bin/hadolint app/Dockerfile
	@scripts/require.sh shellcheck
	shellcheck .ci/run scripts/*.sh
	$(VENV)/bin/zizmor --offline --persona auditor --min-severity medium .github/workflows
	$(PY) scripts/audit_locks.py requirements.lock app/requirements.lock

fmt: venv ## format and fix what ruff can
	$(RUFF) format .
	$(RUFF) check --fix .

bench: venv ## benchmarks: program evaluation, nginx overhead, app throughput, worker recycling, edge vs direct vs Caddy, backup dedup
	$(PY) -m bench.program_bench
	$(PY) bench/nginx_bench.py
	$(PY) bench/app_bench.py
	$(PY) bench/recycle_bench.py
	$(PY) -m bench.edge_bench
	$(PY) bench/backup_bench.py

run-app: venv ## run the service on 127.0.0.1:8000 against a local redis-server
	@scripts/require.sh redis-server
	scripts/run-app.sh

swarm-e2e: venv ## the swarm stack on a real three-node swarm here (two more dockerds in netns), a node lost under load
	@scripts/require.sh dockerd debootstrap nsenter ip curl
	$(PYTEST) tests/swarm -m e2e -s
