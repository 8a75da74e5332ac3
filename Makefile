# zenbench: every target sets up (or reuses) the local virtual environment first.
# torch==2.13.0 is installed before the package so pip never fetches a CUDA build.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
ZB := $(VENV)/bin/zenbench
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(ZB) zoo
	$(ZB) inspect zennet_imagenet1k_latency01ms_res224
	$(ZB) inspect 'SuperConvK3BNRELU(3,32,2,1)SuperResK1K5K1(32,64,2,32,2)SuperResIDWE6K3(64,96,2,48,2)SuperConvK1BNRELU(96,512,1,1)' --resolution 224

test: install
	$(PY) -m pytest -q

test-all: install
	$(PY) -m pytest -q -m "slow or not slow"

bench: install
	$(PY) -m zenbench.bench

lint: install
	$(VENV)/bin/ruff check zenbench tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
