"""Monitoring the served model: how its latest logged predictions compare with the data
it was trained on.

`job.run_monitoring` runs every step: the window (`window`: the latest predictions of the
prediction log), the labels that have arrived (`labels`), the performance on them
(`performance`, scored by `scoring`), the reference and what is compared with it
(`reference`: for a table, the training split with the served model's predictions; for
a forecast, the backtest's errors and year-on-year changes), the data quality
(`quality`), the drift report (`report`, made by Evidently), the verdict (`verdict`) and
its Prometheus metrics (`metrics`). `columns` says what is compared, and `traffic` sends
sample traffic to a service through `client`. What differs by problem type is in
`columns`, `reference`, `quality`, `scoring` and `traffic`.

Evidently takes seconds to import and is not installed in the serving image: only
`report` imports it, and the service imports nothing from this package.
"""
