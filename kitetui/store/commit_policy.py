"""When the money rows reach the disk: chosen once, by the venue, for the whole run.

Rule 2 (write ahead) says an order row is committed before the broker sees the order,
and a fill before it moves a position. What "before" costs depends on who the broker is:

* ``DURABLE_EACH`` — the broker is outside the process (Kite, or the strict exchange a
  test runs on loopback). Once an order has left, the exchange knows of it whatever
  becomes of kitetui, so its row must be on disk first: every order, fill and order
  change commits, and the call returns only then (about a millisecond each).
* ``BATCH`` — the broker is the in-process paper book (replay and backtest). Nothing
  outside the process can observe an order or a fill, and the paper book dies with the
  process, so "before" only has to hold inside what a crash can leave behind. The rows
  join the journal's buffered transaction, in the order they were made, and commit
  with the next flush together with everything before them. A crash loses that
  transaction whole — the orders and the fills and the cursor of those batches alike —
  and the resumed run processes those batches again from the journaled cursor; any
  transaction that did commit ends at a point the per-order policy could have crashed
  at too (the recovery the SIGKILL tests check). It removes one awaited commit per
  order, fill and cancel: half of a backtest's time.

The venue says which (``Venue.commits``); the journal is the only place that reads it.
"""

from __future__ import annotations

from enum import Enum


class CommitPolicy(Enum):
    DURABLE_EACH = "durable_each"
    BATCH = "batch"
