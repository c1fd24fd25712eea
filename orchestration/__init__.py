"""The myPizza warehouse on Dagster: one asset graph from the dlt sources to the marts.

``orchestration.definitions`` holds the Dagster ``Definitions`` (``dagster dev -m
orchestration.definitions``; ``make orchestrate``). This package imports ``ingestion``,
``mypizza`` and the dbt project; none of them imports it: ``mypizza run`` stays the
one-command embedded way, Dagster the scheduled one.
"""
