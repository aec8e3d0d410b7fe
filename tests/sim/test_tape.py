"""kitetui.sim.tape: the last traded quantity per key, and LPP references of options."""

from __future__ import annotations

from sim_units import CALL, CALL_KEY, FUT_KEY, FUTURE, STOCK, STOCK_KEY, T0

from kitetui.domain import Bar, Tick
from kitetui.sim.tape import TradeTape


def test_record_with_ticks_and_bars_keeps_the_last_quantity_per_key():
    tape = TradeTape([FUTURE, CALL, STOCK], lpp=True)
    assert tape.last_quantity(FUT_KEY) is None
    tape.record([Tick(FUT_KEY, T0, 19_500.0, 75), Tick(FUT_KEY, T0 + 1, 19_501.0, 25)])
    tape.record([Bar(STOCK_KEY, T0, 60, 500.0, 501.0, 499.0, 500.5, 4_000)])
    assert (tape.last_quantity(FUT_KEY), tape.last_quantity(STOCK_KEY)) == (25, 4_000)


def test_record_with_option_ticks_keeps_a_30_second_average_reference():
    tape = TradeTape([FUTURE, CALL, STOCK], lpp=True)
    assert tape.option_keys == frozenset({CALL_KEY})
    tape.record([Tick(CALL_KEY, T0, 100.0, 50), Tick(FUT_KEY, T0, 19_500.0, 50)])
    tape.record([Tick(CALL_KEY, T0 + 10 * 10**9, 110.0, 50)])
    assert tape.reference(CALL_KEY) == 105.0
    tape.record([Tick(CALL_KEY, T0 + 31 * 10**9, 120.0, 50)])  # the first has aged out
    assert tape.reference(CALL_KEY) == 115.0
    assert tape.reference(FUT_KEY) is None  # only options have a band


def test_record_with_lpp_off_keeps_no_reference():
    tape = TradeTape([CALL], lpp=False)
    tape.record([Tick(CALL_KEY, T0, 100.0, 50)])
    assert tape.reference(CALL_KEY) is None and tape.last_quantity(CALL_KEY) == 50
