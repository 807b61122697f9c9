"""The retraining pipeline, as Dagster assets: ingest, validate, train, evaluate,
register, promote.

`definitions` is what Dagster loads (`make dagster-ui`): the assets, the job that
materialises them all, its schedule and its sensors. `run` runs the job once in this
process (`make pipeline`). Each step calls the package's own functions; none of them
knows it runs in Dagster.
"""
