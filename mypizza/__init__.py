"""The myPizza command line: the one place that composes simulator, pipelines and dbt."""
