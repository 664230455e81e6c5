# The two commands a newcomer needs (see README.md):
#   make run    set up, then start the console (or the Telegram bot when MOVIEBOT_TELEGRAM_TOKEN is set)
#   make test   set up, start a throwaway PostgreSQL for the store tests, run the whole test suite
PYTHON ?= python3
VENV := .venv

.PHONY: run test setup lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

run: setup
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/moviebot start

test: setup
	bash scripts/test.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
