# Every target installs what it needs: a fresh clone needs only Python 3.11+ and Node (22 or 24: what the pinned
# CDK's jsii supports; it also runs on Node 20, as this project's machines do, after a warning).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export CDK_DISABLE_CLI_TELEMETRY := true
# On Node 20 jsii prints a box saying Node 20 is end of life and unsupported before every CDK command; this
# silences that warning only, as README.md and docs/deploy.md say. Unset it to see it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: local test lint unit integration infra-tests e2e clean install runtime-3.13

$(STAMP): requirements.txt requirements-dev.txt lambda_src/requirements.txt package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	npm ci --no-audit --no-fund --loglevel=error
	# Put the runtime package and the dev tools on the venv's path (what the Lambda asset holds is lambda_src/).
	printf '%s\n' "$(CURDIR)/lambda_src" "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cmc-webhooks.pth"
	touch $(STAMP)

install: $(STAMP)

## Run the receiver on 127.0.0.1 (PORT, default 8080) against moto on loopback.
local: $(STAMP)
	$(PY) -m cmc_dev.server

## The whole gate, as CI runs it.
test: lint $(STAMP)
	@command -v java >/dev/null || echo "NOTE: no java on PATH: the integration tests' runs on AWS's DynamoDB Local are skipped (moto only)."
	$(PY) -m pytest
	$(MAKE) --no-print-directory runtime-3.13

# Lambda runs Python 3.13: the runtime's unit and integration tests run there too when a
# python3.13 is on this machine (PATH or pyenv). Without one this says so, loudly.
PY313_FOUND := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) \
	$(shell python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null))
VENV313 := .venv-3.13
STAMP313 := $(VENV313)/.installed

$(STAMP313): lambda_src/requirements.txt requirements-dev.txt
	test -x $(VENV313)/bin/python || $(PY313_FOUND) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet -r lambda_src/requirements.txt \
		$$(grep -E '^(moto|pytest|pytest-socket|hypothesis)[=\[]' requirements-dev.txt)
	printf '%s\n' "$(CURDIR)/lambda_src" "$(CURDIR)" > "$$($(VENV313)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cmc-webhooks.pth"
	touch $(STAMP313)

runtime-3.13:
ifeq ($(PY313_FOUND),)
	@echo "NOTE: no python3.13 found: the runtime tests ran on $$($(PY) --version) only."
else
	$(MAKE) --no-print-directory $(STAMP313)
	$(VENV313)/bin/python -m pytest -q tests/unit tests/integration
endif

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy lambda_src cmc_dev examples bench reliability tests app.py infra

unit: $(STAMP)
	$(PY) -m pytest tests/unit
integration: $(STAMP)
	$(PY) -m pytest tests/integration
e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

clean:
	rm -rf $(VENV) $(VENV313) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache

## --- The CDK app -------------------------------------------------------------------------
# Stage from cdk.json's `stages` (dev or prod): make deploy STAGE=prod
STAGE ?= dev
CDK := npx --no-install cdk
.PHONY: synth diff deploy

## Synthesize offline (no credentials, no network); cdk-nag runs inside the synth, then cfn-lint. Into a new
## directory first: cdk.out is replaced only when both pass, so a failed synth leaves the last good one.
synth: $(STAMP)
	@out=$$(mktemp -d); \
	if $(CDK) synth --quiet -c stage=$(STAGE) --output "$$out" && $(VENV)/bin/cfn-lint "$$out"/*.template.json; \
	then rm -rf cdk.out && mv "$$out" cdk.out && echo "cdk.out: the $(STAGE) stage, cdk-nag, the guard rails and cfn-lint clean"; \
	else rm -rf "$$out"; exit 1; fi

## What a deploy would change in the account of your current AWS credentials.
diff: $(STAMP)
	$(CDK) diff -c stage=$(STAGE)

## Deploy the stage into the account of your current AWS credentials (run `npx cdk bootstrap` once first).
deploy: $(STAMP)
	$(CDK) deploy -c stage=$(STAGE) --require-approval broadening

infra-tests: $(STAMP)
	$(PY) -m pytest tests/infrastructure

## --- Benchmarks and reliability runs -----------------------------------------------------
.PHONY: bench
## Every timed figure a ratio to a baseline measured in the same run, each with a regression bound
## (docs/benchmarks.md); loopback only, a few minutes. BENCH_JSON=path also writes the figures as JSON.
bench: $(STAMP)
	$(PY) -m bench $(if $(BENCH_JSON),--json $(BENCH_JSON))

.PHONY: mutation
## Mutation testing of the status and suppression rules against their unit tests (docs/reliability.md): a
## copy of the package and the tests in .mutation/ (mutmut names a mutant by its file's path, which must be
## the module's import name), then the score and every surviving mutant. Under a minute; not part of `test`.
mutation: $(STAMP)
	rm -rf .mutation && mkdir .mutation
	cp -R lambda_src/cmc_webhooks tests pyproject.toml .mutation/
	cd .mutation && ../$(PY) -m mutmut run && ../$(PY) -m mutmut export-cicd-stats >/dev/null
	@$(PY) -c 'import json; print("mutation score: {killed}/{total} killed, {survived} survived".format( \
		**json.load(open(".mutation/mutants/mutmut-cicd-stats.json"))))'
	cd .mutation && ../$(PY) -m mutmut results

.PHONY: reliability
## Load and fault runs on loopback with the real handlers (docs/reliability.md); a few minutes each.
reliability: $(STAMP)
	$(PY) -m reliability load
	$(PY) -m reliability faults
