# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint schemas screenshots bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The whole path on the bundled example: offline provider; drafts, review, then a send
# through the file transport (which needs no approval; ses and smtp would).
demo: $(STAMP)
	$(BIN)/execbrief run --workspace examples/portfolio
	$(BIN)/execbrief review --workspace examples/portfolio
	$(BIN)/execbrief send --workspace examples/portfolio --transport file

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 -q

# JSON Schemas of the contracts, checked in and compared by tests/test_schemas.py.
schemas: $(STAMP)
	$(BIN)/python -m execbrief.schemas

# PNGs of two rendered briefs for the README (needs Debian's chromium).
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

bench: $(STAMP)
	$(BIN)/python benchmarks/code_audit.py
	$(BIN)/python benchmarks/llm_fanout.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
