# cnnlab: `make help` lists every target. Training targets take BUDGET=full|smoke and DATA_ROOT=.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# PyTorch from the local wheels where they exist; CPU wheels on aarch64.
ifeq ($(shell uname -m),aarch64)
TORCH_SPEC ?= torch==2.9.1 torchvision==0.24.1
else
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
endif
DATA_ROOT ?= data
BUDGET ?= full
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-slow test-wheel lint format tensorboard clean

help: ## list every target with one line each (targets that share one recipe share one line)
	@grep -hE '^[a-zA-Z0-9_. -]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-22s  %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[dev,dashboard,onnx,mlflow]'
	@# cnnlab's own Optuna sweeper replaced hydra-optuna-sweeper, whose config schemas would clash with it.
	@$(BIN)/pip uninstall -q -y hydra-optuna-sweeper 2>/dev/null || true
	@touch $@

install: $(STAMP) ## create .venv (if missing) and install cnnlab with its dependencies

run: $(STAMP) ## train the default experiment (LeNet on the embedded digits, offline, 30 epochs: 48-102 s measured on 2 cores)
	$(PY) -m cnnlab.train experiment=quickstart paths.data_root=$(DATA_ROOT) \
	  hydra.run.dir=outputs/runs/quickstart/latest
	@echo "Results: outputs/runs/quickstart/latest (metrics.csv, summary.json, checkpoints/, evaluation/test-last/)"
	@echo "Look at them: $(BIN)/tensorboard --logdir outputs/runs/quickstart/latest"

PYTEST_ARGS ?=
test: $(STAMP) ## run the test suite (fast tests; `make test-slow` for the rest; PYTEST_ARGS=--cov for coverage)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-slow: $(STAMP) ## run only the slow tests (real sweeps with every launcher, the wheel)
	$(PY) -m pytest -q -m slow

test-wheel: $(STAMP) ## build the wheel, install it into a fresh venv, train/evaluate/report and search from an empty dir
	$(PY) -m pytest -q -m slow tests/test_install.py

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

SPLITS_URL := \#scalars&tagFilter=%5E(train%7Cval%7Ctest)%2F&_smoothingWeight=0

tensorboard: $(STAMP) ## open TensorBoard over every run and sweep in outputs/ (HParams: a column per key)
	$(PY) -m cnnlab.tensorboard_root outputs
	@echo "TensorBoard lists tag groups by name (best/, opt/, perf/ before test/, train/, val/); for"
	@echo "the split curves alone, unsmoothed: http://localhost:6006/$(SPLITS_URL)"
	$(BIN)/tensorboard --logdir outputs

clean: ## remove outputs/ (runs and sweeps); keeps data and the venv
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

-include mk/*.mk
