"""Backtests: a replay at full speed through the desk's own pipeline, and its report.

The run itself is the desk (``kitetui.desk.Desk`` on a ``Supervisor`` with a replay
venue at speed max): the same engines, strategies, sizing, risk, paper broker and
journal as every other mode (rule 1). This package adds what is particular to a
backtest and reads only the journal for it, so any past run can be reported again:

* ``ledger`` — a run's fills, orders and equity points, read from a database opened
  read-only; ``costs.fill_charges`` — each fill's charges by component;
* ``build`` — the report: round trips (lots matched FIFO per engine and symbol) and the
  figures (P&L, charges, trade statistics, drawdown, Sharpe…), computed by
  ``kitetui.performance``, the code the desk's Perf tab runs on each fill too;
* ``files``, ``html``, ``terminal`` — report.json and the CSVs, report.html, and the
  one-screen summary;
* ``progress`` and ``runner`` — the ``kitetui backtest`` and ``kitetui report`` commands.
"""
