# myPizza warehouse. The first two targets are the README's two commands:
#   make run   set up, simulate the default world if none exists, ingest, dbt build, docs, summary
#   make test  set up and run every check (what .ci/run calls)
# Set-up is part of both: the virtual environment in .venv, from the locked requirements.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
export DO_NOT_TRACK := 1

.PHONY: run test setup lint fmt pytest dbt-build docs clean lock setup-spark

run: setup
	$(BIN)/mypizza run

test: setup lint pytest

setup: $(STAMP)

# Re-installs only when the lock or the package metadata changes.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# The Spark engine (dbt-spark, pyspark: ~1.5 GB) only for Spark work, so `make run` stays lean.
setup-spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.lock -c requirements.lock
	@touch $(SPARK_STAMP)

# Lint is the pre-commit hooks (.pre-commit-config.yaml) over every tracked file, so a commit
# that passes its hooks passes here: ruff, sqlfluff (dbt templater), YAML, no secrets or warehouses.
lint: setup
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

# The same hooks' fixers (ruff --fix, ruff format, sqlfluff fix).
fmt: setup
	-$(BIN)/pre-commit run --hook-stage manual --all-files

pytest: setup setup-browser
	$(BIN)/pytest

# Regenerate the lock from pyproject.toml in a throw-away environment.
lock:
	rm -rf /tmp/mypizza-lock-venv && $(PYTHON) -m venv /tmp/mypizza-lock-venv
	/tmp/mypizza-lock-venv/bin/pip install --quiet .
	( echo '# Locked dependencies of the myPizza warehouse (every package, pinned). Regenerate with `make lock`.'; \
	  /tmp/mypizza-lock-venv/bin/pip freeze --exclude mypizza-warehouse ) > requirements.lock

clean:
	rm -rf target logs warehouse data

# Each area's own targets live in mk/<area>.mk (browser, dashboard, bench, dev loop, ...).
# An area adds a check to `make test` with a line `test: <its target>` in its own file.
include mk/*.mk
