# The warehouse on Dagster (orchestration/, docs/orchestration.md): the asset graph from the
# dlt sources to the marts, the nightly schedule, the new-files and build sensors, run history.
#   make run && make orchestrate           UI on http://127.0.0.1:3000, daemon beside it
#   make orchestrate DAGSTER_PORT=3100     another port
# Over the default warehouse (MYPIZZA_WAREHOUSE), Dagster's own state in warehouse/dagster
# (git-ignored). Ctrl-C stops the UI and the daemon. Its tests run in `make pytest`.
DAGSTER_PORT ?= 3000
DAGSTER_HOME ?= $(CURDIR)/warehouse/dagster

.PHONY: orchestrate
orchestrate: setup
	@test -f $(or $(MYPIZZA_WORLD),data/world)/world.json || test -n "$$SOURCES__POS__CREDENTIALS" \
	  || (echo "No world in $(or $(MYPIZZA_WORLD),data/world): run \`make run\` first." >&2; exit 1)
	@mkdir -p $(DAGSTER_HOME)
	@cp orchestration/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	@# SIGINT back to its default first: started from a script (`make orchestrate &`), it is
	@# ignored, and `dagster dev` then ignores SIGTERM too and cannot be stopped cleanly
	DAGSTER_HOME=$(DAGSTER_HOME) DBT_VERSION_CHECK=false DAGSTER_DISABLE_TELEMETRY=1 \
	  $(BIN)/python -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); \
	  os.execv(sys.argv[1], sys.argv[1:])' \
	  $(BIN)/dagster dev -h 127.0.0.1 -p $(DAGSTER_PORT) -m orchestration.definitions
