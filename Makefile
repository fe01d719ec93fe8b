# effectpy development tasks.  Everything runs inside a local virtualenv (.venv)
# that is created and populated on first use.

PY ?= python3
VENV = .venv
BIN = $(VENV)/bin

STAMP = $(VENV)/.installed

# Source directories that are linted / type-checked, limited to those that exist.
LINT_DIRS = $(wildcard effectpy tests typings bench examples tools)
TYPE_DIRS = $(wildcard effectpy tests typings bench examples tools)

.DEFAULT_GOAL := help

# `make bench BENCH_ARGS="--quick fork"` passes arguments to `python -m bench`;
# `make bench PY=python3.12` runs it under that interpreter, in a venv of its own
# (.venv-3.12, as bench-matrix makes them).
BENCH_ARGS ?=
# The CPythons `make bench-matrix` runs the fibers suite under (versions, commands or
# paths; bench/matrix.py finds a version on PATH or through pyenv), and its arguments.
PYTHONS ?= 3.11 3.12 3.13
MATRIX_ARGS ?= fibers

# `make fuzz FUZZ_PROGRAMS=5000 FUZZ_SEED=42`: how many random programs the campaign
# runs, and the first one's seed (default: from the clock, printed); see docs/testing.md.
FUZZ_PROGRAMS ?= 50000
FUZZ_SEED ?=
# Fibers the soak tests churn under `make fuzz` (the test suite churns 100,000).
FUZZ_SOAK_FIBERS ?= 1000000

.PHONY: help install lint typecheck typesafety pytest test test-matrix demo bench bench-matrix docs clean fuzz

help:
	@echo "make demo        run the showcase (examples/showcase.py)"
	@echo "make test        lint, typecheck, typesafety, pytest"
	@echo "make test-matrix pytest and mypy under python3.11, 3.12 and 3.13 (PYTHONS=...)"
	@echo "make install     create .venv and install effectpy[dev,rich] (editable)"
	@echo "make lint        ruff check + ruff format --check"
	@echo "make typecheck   mypy --strict"
	@echo "make typesafety  type-contract tests (pytest-mypy-plugins, pyright)"
	@echo "make pytest      the test suite"
	@echo "make fuzz        a long fuzzing campaign (FUZZ_PROGRAMS=50000, FUZZ_SEED=...) and the 1M-fiber soak"
	@echo "make bench       benchmarks (python -m bench)"
	@echo "make bench-matrix  the fibers suite under python3.11, 3.12 and 3.13 (PYTHONS=...)"
	@echo "make docs        build the documentation site (mkdocs --strict)"
	@echo "make gen-typing  rewrite the generated pipe overloads and pointfree signatures"
	@echo "make clean       remove the venv, caches and build output"

# The venv is (re)installed only when pyproject.toml changes. The demo needs only the
# package and rich (a first `make demo` installs no dev toolchain); everything else
# installs the dev extra too.
DEMO_STAMP = $(VENV)/.installed-demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev,rich]'
	touch $@ $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -e '.[rich]'
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)

typecheck: $(STAMP)
	$(BIN)/mypy $(TYPE_DIRS)

# Type-contract tests: they check what the type checkers say about effectpy code,
# not what it does at runtime (docs/typing.md).
#  * tests/typesafety/*.yml  -- pytest-mypy-plugins cases (expected mypy output),
#    run with the mypy settings from pyproject.toml, so with effectpy.mypy_plugin;
#    test_without_plugin.yml switches it off (`plugins = []`).  They are excluded
#    from the default pytest run (see addopts), hence `-o addopts=...` here.  The
#    plugin runs `mypy` as a subprocess found on PATH, so the venv's bin goes first.
#  * typings/                -- files of assert_type and `# type: ignore[code]` lines
#    (warn_unused_ignores makes a missing rejection fail), checked with the plugin
#    (pyproject.toml) and without it (typings/mypy-no-plugin.ini).
#  * typings/pyright/        -- a pyright project (pyrightconfig.json) whose files
#    must type-check cleanly under pyright as well.  `--pythonpath` points pyright
#    at the venv so that it resolves effectpy and its dependencies.
typesafety: $(STAMP)
ifneq ($(wildcard tests/typesafety),)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest tests/typesafety -o addopts="-ra --strict-markers --strict-config" \
		-o timeout=600 --mypy-pyproject-toml-file=pyproject.toml
else
	@echo "typesafety: no tests/typesafety directory, no mypy type-contract cases to run"
endif
ifneq ($(wildcard typings/mypy-no-plugin.ini),)
	$(BIN)/mypy typings
	$(BIN)/mypy --config-file typings/mypy-no-plugin.ini typings
endif
ifneq ($(wildcard typings/pyright),)
	$(BIN)/pyright -p typings/pyright --pythonpath $(BIN)/python
else
	@echo "typesafety: no typings/pyright project, skipping pyright"
endif

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck typesafety pytest

# The suite and the type check under each CPython of PYTHONS (tools/test_matrix.py),
# each in its venv (.venv-3.12, ...); one not installed is reported as skipped.
test-matrix: $(STAMP)
	$(BIN)/python tools/test_matrix.py $(PYTHONS)

# The concurrency fuzzer's long campaign (its fast slice is part of `make pytest`):
# counts per family and runner, non-zero exit on any failure; then the soak and leak
# tests with a million fibers.
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzzing --programs $(FUZZ_PROGRAMS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))
	EFFECTPY_SOAK_FIBERS=$(FUZZ_SOAK_FIBERS) $(BIN)/pytest tests/test_soak.py -q -o timeout=3600

demo: $(DEMO_STAMP)
	$(BIN)/python examples/showcase.py

# PY given on the command line or in the environment (not this file's default): run
# the benchmarks under it, in its own venv.
bench: $(STAMP)
ifeq ($(origin PY),file)
	$(BIN)/python -m bench $(BENCH_ARGS)
else
	$(BIN)/python -m bench.matrix $(PY) -- $(BENCH_ARGS)
endif

# Each interpreter gets a venv of its own, .venv-3.12 and so on, made on first use with
# effectpy (editable) and trio; one not installed is reported as skipped, at the end.
bench-matrix: $(STAMP)
	$(BIN)/python -m bench.matrix $(PYTHONS) -- $(MATRIX_ARGS)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# The `pipe` overloads (effect.py, pointfree.py), the `Effect.all` overloads and the
# data-last signatures of pointfree.py are written by tools/gen_typing.py into marked
# blocks; `--check` diffs instead (tests/test_generated_typing.py does the same).
.PHONY: gen-typing
gen-typing: $(STAMP)
	$(BIN)/python tools/gen_typing.py

clean:
	rm -rf $(VENV) $(VENV)-[0-9]* build dist site *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
