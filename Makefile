# zenbench: every target sets up (or reuses) the local virtual environment first.
# torch==2.13.0 is installed before the package so pip never fetches a CUDA build.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
ZB := $(VENV)/bin/zenbench
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all bench lint clean profile

DEVICE ?= cpu

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,tflite]'
	touch $(STAMP)

demo: install
	$(ZB) demo

test: install
	$(PY) -m pytest -q

test-all: install
	$(PY) -m pytest -q -m "slow or not slow"

profile: install
	$(ZB) profile --device $(DEVICE)

bench: install
	$(PY) -m zenbench.bench

lint: install
	$(VENV)/bin/ruff check zenbench tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
