# Everyday commands. `make run` and `make test` are all a fresh machine needs (Python 3.11 + pip).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test install lint bench airflow-ui dbt-docs sample clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: install  ## the main job: embedded Postgres, load data/, growth_etl in Airflow, print the report
	$(BIN)/growth run

test: install  ## ruff, then the whole test suite, sqlfluff included (starts its own Postgres)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/pytest

install: $(VENV)/.installed  ## virtualenv with the pinned requirements and the project

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' 2>/dev/null \
		|| { echo "needs Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt -e ".[embedded]"
	@# Elementary's dbt packages (dbt deps, short timeout); without the package hub it says why, once.
	$(BIN)/python -m growth_analytics.transform.elementary deps
	touch $@

lint: install  ## ruff; sqlfluff over dbt_project (its test builds a small warehouse for the dbt templater)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/pytest -q tests/test_sql_lint.py

bench: install  ## benchmark at 10M sessions (minutes; results in results/)
	$(BIN)/growth bench

airflow-ui: install  ## growth_etl's production layout (Celery, 1 worker) with its UI on http://127.0.0.1:8080; Ctrl-C stops it
	$(BIN)/growth stack up --workers 1 --foreground

sample: install  ## regenerate the data/ sample
	$(BIN)/growth generate --out data --sessions 20000 --seed 42 --daily

clean:  ## stop the embedded Postgres and remove local state (.growth/, reports/, results/)
	-$(BIN)/growth db down
	rm -rf .growth results dbt_project/target dbt_project/logs reports/dbt_docs reports/*.html
