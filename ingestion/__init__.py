"""dlt sources and pipelines that land the myPizza source systems in the warehouse.

One module per source system (its dlt source and resources); ``pipelines`` composes
them into pipelines that load the warehouse. Nothing here imports the simulator or the
command line: settings are passed in or read from dlt config and the environment.
"""
