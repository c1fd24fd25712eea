# The warehouse on a Spark cluster (docs/scaling-out.md).
#   make spark-up    start a standalone master, worker(s) and a Spark Connect server on
#                    127.0.0.1 from the installed pyspark (mypizza spark up); pid files and
#                    logs in $(MYPIZZA_SPARK_DIR)/run, default warehouse/spark/run
#   make spark-down  stop them
#   make test-spark  a small world landed in a dlt-written Parquet lake, built on the
#                    cluster over Spark Connect and on DuckDB, every mart compared exactly

.PHONY: spark-up spark-down test-spark

spark-up: check-java setup-spark
	$(BIN)/mypizza spark up

spark-down: setup-spark
	$(BIN)/mypizza spark down

# Its own target (it starts and stops its own cluster on free ports), so `make pytest`
# leaves it out.
test-spark: check-java setup-spark
	MYPIZZA_REQUIRE_SPARK=1 $(BIN)/pytest -q -n 0 tests/python/test_spark.py

pytest: export PYTEST_ADDOPTS := --ignore=tests/python/test_spark.py

test: test-spark
