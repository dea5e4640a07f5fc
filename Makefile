# The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Other supported Pythons (pyenv, or python3.X on PATH): the engine, handler, audit and demo tests also run on each,
# in fresh virtualenvs .venv-3.X. EXTRA_PYTHONS= (empty) runs 3.11 only.
EXTRA_PYTHONS ?= 3.12 3.13
CROSS_TESTS := tests/engine tests/handler tests/audit_tests tests/demo
PYENV_ROOT ?= $(HOME)/.pyenv
find_python = $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)))),$(shell command -v python$(1) 2>/dev/null))
EXTRA_STAMPS := $(foreach v,$(EXTRA_PYTHONS),.venv-$(v)/.installed)

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

# Lint, the whole suite on 3.11, then the engine, handler, audit and demo tests on each of EXTRA_PYTHONS.
test: lint sam-setup $(EXTRA_STAMPS)
	$(BIN)/pytest -n 2 tests
	@set -e; for version in $(EXTRA_PYTHONS); do \
		echo "== Python $$version: $(CROSS_TESTS)"; \
		.venv-$$version/bin/pytest -n 2 $(CROSS_TESTS); \
	done

.venv-%/.installed: pyproject.toml
	@python="$(call find_python,$*)"; test -n "$$python" || { echo "need Python $* (pyenv install $*, or EXTRA_PYTHONS=)"; exit 2; }; \
		echo "$$python -m venv .venv-$*"; rm -rf .venv-$*; "$$python" -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -e '.[dev]'
	touch $@

# The targets in one run: `exif-scrub clean`, the warm engine, `exiftool -all=` per file and the Pillow re-encode on
# generated 12/24 MP photos and ../shared/corpus, then exif-audit against a naive audit; every contender pinned to
# the same CPU, interleaved. Writes bench/results/scrubbers.{md,json}, audit_bench.{md,json} and charts (~15 min).
# BENCH_ARGS=--quick to try (results under bench/.cache/results-quick); --cpus, --reps, --no-audit: see --help.
BENCH_STAMP := $(VENV)/.installed-bench

bench: setup $(BENCH_STAMP)
	$(BIN)/python -m bench.scrubbers $(BENCH_ARGS)

$(BENCH_STAMP): pyproject.toml
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SAM_VENV).log .aws-sam $(foreach v,$(EXTRA_PYTHONS),.venv-$(v))
	$(MAKE) -C exiftool_layer clean
