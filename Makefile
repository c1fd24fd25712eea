# myPizza warehouse. The first targets are the README's commands:
#   make run        set up, simulate the default world if none exists, ingest, dbt build, docs, summary
#   make test       set up and run every check (what .ci/run calls): lint and the conventions
#                   first (seconds), then pytest (the browser tests need Chromium), then Spark
#                   (needs Java 17)
#   make test-fast  the edit loop: lint, conventions and the tests that need neither dbt nor
#                   a browser nor Spark, in under 3 minutes (docs/testing.md)
# Set-up is part of each: the virtual environment in .venv, from the locked requirements.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
export DO_NOT_TRACK := 1

.PHONY: run test test-fast lint-changed pytest-fast setup lint fmt pytest dbt-build docs clean lock setup-spark check-java

run: setup
	$(BIN)/mypizza run

# test-spark: mk/spark.mk
test: setup lint conventions pytest test-spark

# The edit loop runs its three parts at once: the hooks (sqlfluff only over the SQL changed
# since main: the dbt templater compiles each file, ~1 s apiece; `make lint` and `make test`
# lint every file), the conventions, and the tests marked neither e2e nor browser nor spark.
FAST_MARKERS := not e2e and not browser and not spark and not slow
SQL_FILES := ^(models|macros|snapshots|tests|analyses)/.*\.sql$$
CHANGED_SINCE = $(shell git merge-base HEAD origin/main 2>/dev/null || git merge-base HEAD main 2>/dev/null || git rev-parse HEAD)

test-fast: setup
	@$(MAKE) --no-print-directory -j 3 --output-sync=line lint-changed conventions pytest-fast

lint-changed: setup
	SKIP=sqlfluff-lint $(BIN)/pre-commit run --all-files --show-diff-on-failure
	@base=$(CHANGED_SINCE); files=$$( { git diff --name-only --diff-filter=d $$base; \
	  git ls-files --others --exclude-standard; } | grep -E '$(SQL_FILES)' | sort -u ); \
	if [ -z "$$files" ]; then \
	  echo "sqlfluff: no SQL changed since main ($$base); make lint lints every file"; \
	else $(BIN)/pre-commit run sqlfluff-lint --files $$files; fi

pytest-fast: setup
	PYTEST_ADDOPTS="--ignore=tests/python/test_spark.py" $(BIN)/pytest -m "$(FAST_MARKERS)"

setup: $(STAMP)

# Re-installs only when the lock or the package metadata changes. The lock holds the runtime
# dependencies and the `dev` group (pyproject.toml): tests, lint and convention tools.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || command -v $(PYTHON) >/dev/null || { \
	  echo "make: $(PYTHON) is missing: the project needs Python 3.11 with its venv module" \
	    "(Debian: python3.11 python3.11-venv), or PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# The Spark engine (dbt-spark, pyspark: ~1.5 GB) only for Spark work, so `make run` stays lean.
setup-spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.lock -c requirements.lock
	@touch $(SPARK_STAMP)

# Spark runs on the JVM: Java 17 or later (JAVA_HOME's, else the one on PATH).
JAVA = $(if $(JAVA_HOME),$(JAVA_HOME)/bin/java,java)

check-java:
	@version=$$($(JAVA) -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1); \
	if [ -z "$$version" ]; then \
	  echo "make: Spark needs Java 17, and '$(JAVA)' was not found. Install it (Debian, as root:" \
	    "apt-get install -y --no-install-recommends openjdk-17-jre-headless) or set JAVA_HOME." >&2; \
	  exit 1; \
	elif [ "$$version" -lt 17 ]; then \
	  echo "make: Spark needs Java 17 or later; '$(JAVA)' is Java $$version. Install" \
	    "openjdk-17-jre-headless or point JAVA_HOME at a Java 17." >&2; \
	  exit 1; \
	fi

# Lint is the pre-commit hooks (.pre-commit-config.yaml) over every tracked file, so a commit
# that passes its hooks passes here: ruff, sqlfluff (dbt templater), YAML, no secrets or
# warehouses, no absolute path of a developer's machine.
lint: setup
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

# The same hooks' fixers (ruff --fix, ruff format, sqlfluff fix).
fmt: setup
	-$(BIN)/pre-commit run --hook-stage manual --all-files

pytest: setup setup-browser
	$(BIN)/pytest

# Regenerate the lock from pyproject.toml (the dependencies and the `dev` group) in a
# throw-away environment.
DEV_GROUP = $(shell $(PYTHON) -c "import tomllib; print(' '.join(repr(r) for r in \
  tomllib.load(open('pyproject.toml', 'rb'))['dependency-groups']['dev']))")

lock:
	rm -rf /tmp/mypizza-lock-venv && $(PYTHON) -m venv /tmp/mypizza-lock-venv
	/tmp/mypizza-lock-venv/bin/pip install --quiet . $(DEV_GROUP)
	( echo '# Locked dependencies of the myPizza warehouse (every package, pinned). Regenerate with `make lock`.'; \
	  /tmp/mypizza-lock-venv/bin/pip freeze --exclude mypizza-warehouse ) > requirements.lock

clean:
	rm -rf target logs warehouse data

# Each area's own targets live in mk/<area>.mk (browser, dashboard, bench, dev loop, ...).
# An area adds a check to `make test` with a line `test: <its target>` in its own file.
include mk/*.mk
