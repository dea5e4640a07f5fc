# The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup exiftool clean sam-setup sam-build bench

setup: $(STAMP) exiftool

$(STAMP): pyproject.toml
	command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11+)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

exiftool:
	$(MAKE) -C exiftool_layer local

# SAM CLI in its own virtualenv (it pins an older boto3 than the project). tests/test_sam_build.py runs
# `sam validate --lint` and `sam build` with it; where it cannot be installed they skip, citing $(SAM_VENV).log.
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)

sam-setup: $(SAM_STAMP)

$(SAM_STAMP):
	rm -rf $(SAM_VENV)
	{ $(PYTHON) -m venv $(SAM_VENV) && $(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION) \
		&& touch $@; } >$(SAM_VENV).log 2>&1 \
		|| { echo "SAM CLI could not be installed (see $(SAM_VENV).log): the SAM tests will skip"; rm -rf $(SAM_VENV); }

# `sam build` of only the architecture the stack deploys: ARCH=arm64|x86_64, else the Architecture in samconfig.toml's
# deploy parameter_overrides (saved by `sam deploy --guided`), else both. See deploy/sam_build.py.
sam-build: sam-setup
	$(SAM_VENV)/bin/python deploy/sam_build.py $(if $(ARCH),--arch $(ARCH))

demo: setup
	$(BIN)/python -m scrub_demo $(DEMO_ARGS)

test: setup sam-setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 tests

# Scrubbers side by side in one run (this engine, `exiftool -all=`, the Pillow re-encode) on ../shared/corpus
# and generated 12/24/48 MP photos: writes bench/results/scrubbers.{md,json} and charts. BENCH_ARGS=--quick to try.
BENCH_STAMP := $(VENV)/.installed-bench

bench: setup $(BENCH_STAMP)
	$(BIN)/python -m bench.scrubbers $(BENCH_ARGS)

$(BENCH_STAMP): pyproject.toml
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SAM_VENV).log .aws-sam
	$(MAKE) -C exiftool_layer clean
