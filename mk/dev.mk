# The analyst's loop (docs/analyst-guide.md: "Editing a model", "Slim CI", "pre-commit").
#   make ci-changed       build and test only what changed (state:modified+) against the last
#                         production build, on the dev target with a throw-away DuckDB file
#                         that reads production through the published copy (never the live one)
#   make precommit-check  every pre-commit hook on every file (= make lint, part of `make test`)

# Production as `mypizza run` left it: the warehouse (MYPIZZA_WAREHOUSE, read through its
# published copy) and the manifest of that build, kept in <warehouse folder>/prod-state.
DEV_WAREHOUSE = $(or $(MYPIZZA_WAREHOUSE),warehouse/mypizza.duckdb)
DEV_PROD_STATE ?= $(dir $(DEV_WAREHOUSE))prod-state
# The CI run's own folder: its DuckDB file (recreated on every run), dbt's artifacts and logs.
DEV_CI_DIR ?= target/ci

.PHONY: ci-changed precommit-check

ci-changed: setup
	@test -f $(DEV_PROD_STATE)/manifest.json || { \
	  echo "ci-changed: no production state in $(DEV_PROD_STATE) (run \`make run\` first)" >&2; exit 1; }
	@mkdir -p $(DEV_CI_DIR) && rm -f $(DEV_CI_DIR)/ci.duckdb $(DEV_CI_DIR)/ci.duckdb.wal
	MYPIZZA_WAREHOUSE=$(DEV_WAREHOUSE) MYPIZZA_DEV_DUCKDB=$(DEV_CI_DIR)/ci.duckdb \
	  DBT_TARGET_PATH=$(DEV_CI_DIR)/target DBT_LOG_PATH=$(DEV_CI_DIR)/logs \
	  $(BIN)/dbt build --target dev --select state:modified+ --defer --state $(DEV_PROD_STATE)

precommit-check: lint
