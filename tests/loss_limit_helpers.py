"""The loss limits the batch-path tests share: small rupee limits (a ₹1,000 day, ₹400 a
symbol) that a handful of fills reach, and caps no test's orders come near.

Imported by the tests of the loss checks and of the batch's bookkeeping (``tests/`` is
on ``sys.path`` as the test modules' own folder).
"""

from __future__ import annotations

from kitetui.trading.risk import RiskLimits

LIMITS = RiskLimits(
    max_daily_loss=1_000.0,
    max_symbol_loss=400.0,
    max_open_positions=5,
    max_trades_per_symbol_per_day=10,
    max_gross_exposure=1e7,
    max_order_value=1e6,
    max_order_quantity=1_000,
)
