# PostgreSQL as a real POS server (docs/real-pos.md). tests/python/test_postgres.py starts
# its own server from these binaries (initdb + pg_ctl as an unprivileged user, 127.0.0.1, a
# free port, a data folder in /tmp) and stops it; nothing runs as a service.
# Installed once, as root, from Debian's packages (postgresql: the server, initdb, pg_ctl).
#   make setup-postgres            install when missing
#   MYPIZZA_PG_BIN=/path/to/bin    use another PostgreSQL's binaries (tests)
PG_BIN ?= $(firstword $(MYPIZZA_PG_BIN) $(wildcard /usr/lib/postgresql/*/bin))

.PHONY: setup-postgres
setup-postgres:
	@test -x "$(PG_BIN)/initdb" && test -x "$(PG_BIN)/pg_ctl" \
	  || apt-get install -y --no-install-recommends postgresql \
	  || (apt-get update && apt-get install -y --no-install-recommends postgresql) \
	  || { echo "setup-postgres: could not install Debian's postgresql package (initdb, pg_ctl);" \
	       "install it, or set MYPIZZA_PG_BIN to a PostgreSQL bin folder" >&2; exit 1; }

# the Postgres tests run in `make pytest` and `make test-fast` (they need the binaries first)
pytest: setup-postgres
test-fast: setup-postgres
