# `make bench`: every stage timed at three world sizes beside DuckDB's native path (bench/).
# Long (~45 min for the three sizes; the large one, 35x730, ~30) and not part of `make test`.
# Choose sizes with BENCH_SIZES=small,medium (or STORESxDAYS); worlds go to BENCH_WORK.
BENCH_SIZES ?= small,medium,large
BENCH_WORK ?= bench/work

.PHONY: bench
bench: setup
	$(BIN)/python bench/run.py --sizes $(BENCH_SIZES) --work $(BENCH_WORK)
