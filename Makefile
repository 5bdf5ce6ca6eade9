# Two commands for a fresh machine:  `make run` (set up + the notebook sweep)  and  `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Offline machines: the datasets beside the checkout; online machines fall back to Keras' download.
export DATA_DIR ?= $(abspath $(wildcard ../shared/data))

.PHONY: setup run test test-fast lint ui

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,jax]'  # jax: the tests also train on Keras' JAX backend
	touch $@

setup: $(VENV)/.installed

run: setup  ## the MNIST notebook's comparison: plain vs dropout vs batchnorm, local SQLite store
	$(PY) -m src.train -m reg=none,dropout,batchnorm

test: setup  ## every test, slow and server ones included (what CI runs)
	$(PY) -m pytest

test-fast: setup  ## the everyday loop: no slow, server or fault tests (under 2 minutes)
	$(PY) -m pytest -m "not slow and not server and not faults"

lint: setup  ## ruff, with the rules in pyproject.toml (CI runs it before the tests)
	$(VENV)/bin/ruff check .

ui: setup  ## browse the local runs at http://127.0.0.1:5000
	@echo "Model-training view: http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000
