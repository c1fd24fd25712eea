# The project's conventions (docs/conventions.md), checked by tools (dbt-bouncer.yml,
# conventions/bouncer_checks/):
# naming by layer, every model and column documented, every model with a primary-key test,
# sources with freshness and read only by staging, no mart joining a source, marts public
# with enforced contracts, exposures owned. It needs only the manifest: `dbt parse` on the
# lint target (an in-memory DuckDB, no warehouse), into a target folder of its own.
# The checks that need the warehouse's columns (catalog: every column documented,
# dbt-coverage at 100%) run on the built test world in tests/python/test_conventions.py.
# Inside this checkout (target/ is git-ignored), so two checkouts never share it. The folder
# is kept between runs so dbt parses only what changed (partial parsing: ~20 s -> a few);
# the manifest is removed first, so a failed parse never leaves an old one for the checks.
CONVENTIONS_DIR ?= $(CURDIR)/target/conventions

.PHONY: conventions
conventions: setup
	mkdir -p $(CONVENTIONS_DIR)/target && rm -f $(CONVENTIONS_DIR)/target/manifest.json
	MYPIZZA_DBT_TARGET=lint DBT_TARGET_PATH=$(CONVENTIONS_DIR)/target DBT_LOG_PATH=$(CONVENTIONS_DIR)/logs \
	  $(BIN)/dbt parse --quiet
	DBT_PROJECT_DIR=$(CONVENTIONS_DIR) $(BIN)/dbt-bouncer run --config-file dbt-bouncer.yml \
	  --only manifest_checks

# `make test` and `make test-fast` run it right after lint (Makefile), before pytest.
