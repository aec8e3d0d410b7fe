"""``kitetui sweep``: one backtest per point of a parameter grid, in parallel, ranked.

Each point is the backtest itself (``kitetui.backtest.runner.run_to_end`` with the
point's ``--param`` overrides) on its own database, measured by the backtest's own
report, so a sweep never scores a point differently from ``kitetui backtest``:

* ``grid`` — ``--grid`` axes (ranges and lists) and the points they span;
* ``windows`` — ``--walk-forward IN:OUT`` folds, in trading days;
* ``point`` — one point in a worker: run, measure, a small record back (or its error);
* ``bundle`` — the data files shipped once per Ray node through the object store;
* ``executors`` — a local process pool (``local_pool``), or Ray (local or a cluster);
* ``results``, ``progress`` — the ranking, table, results.csv and best.yaml; the bar;
* ``runner`` — the sweep itself, plain or walk-forward.
"""
