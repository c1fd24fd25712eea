# `make bench`: every stage timed at three world sizes beside DuckDB's native path (bench/).
# Long (~45 min for the three sizes; the large one, 35x730, ~30) and not part of `make test`.
# Choose sizes with BENCH_SIZES=small,medium (or STORESxDAYS); worlds go to BENCH_WORK.
BENCH_SIZES ?= small,medium,large
BENCH_WORK ?= bench/work

.PHONY: bench
bench: setup
	$(BIN)/python bench/run.py --sizes $(BENCH_SIZES) --work $(BENCH_WORK)

# `make bench-live`: commit-to-dashboard latency of `mypizza live` at 1x, 10x and 100x the
# world's pace, and the loop's CPU share (bench/live.py; ~8 min; not part of `make test`).
BENCH_LIVE_ARGS ?=
.PHONY: bench-live
bench-live: setup
	$(BIN)/python bench/live.py $(BENCH_LIVE_ARGS)
