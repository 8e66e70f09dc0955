# arshjul: `make run` runs the demo cycle, `make test` the test suite. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-all lint bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "Installing arshjul and its pinned dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt -e '.[dev]' \
		> $(VENV)/install.log 2>&1 || { tail -n 30 $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/arshjul run --approve
	@echo "The demo runs a whole year's steps today, after their deadlines: its status page shows what it ran"
	@echo "(compilation, analysis, action plan, report, training) klar sent; the actions and follow-ups are"
	@echo "dated by the days the demo's units wrote them in their worksheets."
	@echo "arshjul is $(BIN)/arshjul; 'source $(BIN)/activate' puts it on PATH, as the guide types it"

# pytest exits 5 when it collected no test: that is a broken suite, not a pass. The tests run
# on every core (pytest-xdist), a test file's tests in one worker: its module fixtures stay shared.
test: $(STAMP)
	@$(BIN)/ruff check --quiet arshjul flows tests bench
	@$(BIN)/ruff format --check --quiet arshjul flows tests bench
	@$(BIN)/mypy --no-error-summary
	@$(BIN)/python -m pytest -q -n auto --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check arshjul flows tests bench
	$(BIN)/ruff format --check arshjul flows tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run --scale small
	$(BIN)/python -m bench.run --scale large

# Rewrite constraints.txt from what is installed now (after changing pyproject.toml).
lock: $(STAMP)
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) var out .pytest_cache .mypy_cache .ruff_cache
