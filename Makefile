# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SIM_PORT ?= 8800
PYTEST_ARGS ?=

# Byte-compile the project before anything runs it: this machine (like many images) sets
# PYTHONDONTWRITEBYTECODE, and every `airflow dags test`, task process and DAG parse would
# otherwise compile every module of the project from source again (stale files are ignored).
BYTECODE := $(BIN)/python -m compileall -q -j 0 plugins include dags scripts

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags

.PHONY: install services lint test coverage-report sim bench bench-scale bench-scale-10k demo airflow airflow-stop clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@echo "== Installing into $(VENV) (pinned versions from requirements.txt)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -r requirements.txt
	@$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

services:
	@./scripts/ensure_services.sh

lint: install
	$(BIN)/ruff check
	$(BIN)/mypy

# Lint and types first (seconds), then two pytest workers (2 cores), whole files per worker:
# the deployment tier is one file, one deployment.
# Coverage follows every Python process the tests start (pyproject.toml, [tool.coverage.run]);
# coverage-report, not pytest, enforces fail_under, so the least-covered files are printed either way.
test: install lint services
	@./scripts/ensure_browser.sh
	@rm -f .coverage .coverage.*
	@$(BYTECODE)
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report= --cov-fail-under=0 $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory coverage-report

# Branch coverage of plugins/instagram_graph from the last `make test`: the ten least-covered
# files, then the total; fails under [tool.coverage.report] fail_under.
# A process that ends after pytest-cov's own combine leaves its data file beside .coverage.
coverage-report:
	@if ls .coverage.* >/dev/null 2>&1; then $(BIN)/coverage combine --append --quiet; fi
	@echo "== Least-covered files of plugins/instagram_graph (branch coverage)"
	@$(BIN)/coverage report | sed -n '1,12p'
	@echo "== Branch coverage of plugins/instagram_graph: $$($(BIN)/coverage report --format=total --fail-under=0) %"
	@out=$$($(BIN)/coverage report --format=total) || { echo "$$out" | sed 1d; exit 2; }

sim: install
	$(BIN)/python -m graph_api_sim --host 127.0.0.1 --port $(SIM_PORT) --accounts 3 --media-per-account 500 --seed 7 --log-level info

bench: install services
	@$(BYTECODE)
	@for b in bench/bench_limiter.py bench/bench_hook.py bench/bench_load.py bench/bench_quota.py; do echo "== $$b"; AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING $(BIN)/python $$b || exit 1; done

# Airflow's own CPU beside the sync work on a real Airflow (issue 14; tens of minutes): 100 and
# 1,000 accounts, sharded and one task per account. bench-scale-10k: 10,000 accounts, sharded.
bench-scale: install services
	@$(BYTECODE)
	$(BIN)/python bench/bench_scale.py --accounts 100,1000 --per-account 100,1000

bench-scale-10k: install services
	@$(BYTECODE)
	$(BIN)/python bench/bench_scale.py --accounts 10000 --per-account ''

demo: install services
	$(BIN)/python scripts/demo.py

# A real Airflow in the background (api-server on 127.0.0.1:8080, scheduler, dag-processor,
# triggerer; EXECUTOR=celery WORKERS=2 for Celery workers). State and logs in .airflow-local/.
EXECUTOR ?= local
WORKERS ?= 2
airflow: install services
	$(BIN)/python scripts/local_airflow.py start --executor $(EXECUTOR) --workers $(WORKERS)

airflow-stop:
	@test -x $(BIN)/python && $(BIN)/python scripts/local_airflow.py stop || echo "Nothing was running."

clean:
	rm -rf $(VENV) .airflow .airflow-local .pytest_cache .coverage .coverage.*
