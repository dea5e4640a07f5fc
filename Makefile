# The two commands a new user needs: `make demo` and `make test` (`make test-fast` while working).
SHELL := /bin/bash
# Any Python 3.11 or newer: python3 when it is recent enough, else the newest python3.1x on PATH. Choose another
# with `make PYTHON=python3.13 ...` (or a path); .venv is made with it once (`make clean` to change).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
PYTHON_VERSION = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The other supported Pythons (pyenv, or python3.X on PATH): the engine, handler, audit and demo tests also run on
# each one installed, in fresh virtualenvs .venv-3.X; one that is not installed is reported as skipped.
# EXTRA_PYTHONS= (empty) runs $(PYTHON) only.
SUPPORTED_PYTHONS := 3.11 3.12 3.13
EXTRA_PYTHONS ?= $(filter-out $(PYTHON_VERSION),$(SUPPORTED_PYTHONS))
CROSS_TESTS := tests/engine tests/handler tests/audit_tests tests/demo tests/provenance
PYENV_ROOT ?= $(HOME)/.pyenv
find_python = $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)))),$(shell command -v python$(1) 2>/dev/null))
FOUND_PYTHONS = $(foreach v,$(EXTRA_PYTHONS),$(if $(call find_python,$(v)),$(v)))
MISSING_PYTHONS = $(filter-out $(FOUND_PYTHONS),$(EXTRA_PYTHONS))
# The fast tier (make test-fast): the engine, handler and audit tests.
FAST_TESTS := tests/engine tests/handler tests/audit_tests

.PHONY: demo test test-fast lint setup exiftool clean sam-setup sam-build bench checkov-setup

setup: $(STAMP) exiftool

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" && command -v $(PYTHON) >/dev/null || { echo "need Python 3.11 or newer: none of python3," \
		"python3.13, python3.12, python3.11 is (or PYTHON=$(PYTHON) is not found); install one, or" \
		"make PYTHON=/path/to/python3.X"; exit 2; }
	@echo "using $(PYTHON) (Python $(PYTHON_VERSION)); choose another with make PYTHON=python3.X (after make clean)"
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

# Lint, the whole suite on $(PYTHON), then the engine, handler, audit and demo tests on each other supported Python
# that is installed (those that are not are named as skipped).
test: lint sam-setup $(foreach v,$(FOUND_PYTHONS),.venv-$(v)/.installed)
	$(BIN)/pytest -n 2 tests
	@set -e; for version in $(FOUND_PYTHONS); do \
		echo "== Python $$version: $(CROSS_TESTS)"; \
		.venv-$$version/bin/pytest -n 2 $(CROSS_TESTS); \
	done
	@for version in $(MISSING_PYTHONS); do \
		echo "== Python $$version: SKIPPED, not installed (pyenv install $$version, or EXTRA_PYTHONS= to run $(PYTHON_VERSION) only)"; \
	done

# The engine, handler and audit tests without the slow ones and the sweeps over ../shared/corpus (pytest -m "not slow
# and not corpus"); the real device files stay in. make test runs them all.
test-fast: setup
	$(BIN)/pytest -n 2 -m "not slow and not corpus" $(FAST_TESTS)

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

# checkov in a virtualenv of its own: it pins boto3==1.35.49 (the project needs a newer one). --skip-download: no
# call to its platform; every finding left is suppressed in template.yaml with a one-line reason.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

checkov-setup: $(CHECKOV_STAMP)

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

lint: setup checkov-setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SAM_VENV).log $(CHECKOV_VENV) .aws-sam $(foreach v,$(SUPPORTED_PYTHONS),.venv-$(v))
	$(MAKE) -C exiftool_layer clean
