"""Partitioned runs of the Meltano project on Dagster: one pipeline per facility, per WMS
environment and per backfill window, each with its own state id, each run in a Meltano directory of
its own.

`slices` (what one partition reads), `settings` and `meltano` (running one partition) need
no Dagster: `scripts/backfill.py` uses them too. `definitions` is the Dagster code location
(`dg dev`, or `dagster dev -m orchestration.definitions`), installed with the `dagster` extra.
"""
