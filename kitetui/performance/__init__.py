"""Performance: what a run's fills made, measured one way for the report and the desk.

``trades`` pairs fills into round trips (lots matched FIFO per engine and symbol);
``metrics`` measures any set of them (P&L, charges, trade statistics, drawdown, the
daily ratios); ``book`` is the desk's ``PerformanceBook``, fed each fill as it is
applied, that publishes the Perf tab's rows. ``kitetui report`` builds its figures from
the journal with the same ``RoundTrips`` and ``Tally``, so the screen and the report
cannot disagree. Pure: no I/O, no clock, no screen.
"""
