"""The headless run summary: net, gross and charges by component, as a trader reads them."""

from __future__ import annotations

from decimal import Decimal

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import load_config
from kitetui.money import Charges
from kitetui.report import format_summary
from kitetui.supervisor.run_summary import RunSummary
from kitetui.supervisor.snapshots import charge_components


def test_summary_prints_net_gross_and_each_charge() -> None:
    summary = RunSummary(
        run_id="r1",
        resumed=False,
        realized=-31000.0,
        unrealized=-900.0,
        charges=21700.55,
        charges_by_component=(("brokerage", 3000.0), ("stt", 9000.55), ("gst", 700.0)),
        unpriced_fills=2,
    )
    config = load_config(DEFAULT_CONFIG)
    text = format_summary(summary, config, "state.db")
    assert "P&L       net ₹-53,600.55   gross ₹-31,900.00   charges ₹21,700.55" in text
    assert "realized ₹-31,000.00   unrealized ₹-900.00" in text
    assert "charges   brokerage ₹3,000.00   stt ₹9,000.55   gst ₹700.00" in text
    assert "(2 fill(s) unpriced: see ChargesUnpriced)" in text


def test_an_open_position_says_its_average_and_its_last_price_by_name() -> None:
    """probe k33: a desk stopped with a long open printed ``NIFTY22NOVFUT +50 @ 18333.7``:
    the last price, in the place a trader reads the entry's (it was bought at 18,341.50)."""
    summary = RunSummary(
        run_id="r1", resumed=False, open_positions=[("NIFTY22NOVFUT", 50, 18341.5, 18333.7)]
    )
    text = format_summary(summary, load_config(DEFAULT_CONFIG), "state.db")
    assert "open      NIFTY22NOVFUT +50 (avg 18,341.50, last 18,333.70)" in text


def test_the_breakdown_names_a_dp_charge_only_when_the_run_paid_one() -> None:
    """The Risk panel, ``kitetui ctl`` and the run summary list ``charge_components``:
    the contract note's six, then the DP charge (off the note) when a delivery was sold."""
    names = ["brokerage", "stt", "exchange", "sebi", "stamp", "gst"]
    paid = Charges(stt=Decimal("101"), dp=Decimal("15.93"))
    assert [n for n, _ in charge_components(paid)] == [*names, "dp"]
    assert dict(charge_components(paid))["dp"] == 15.93
    assert [n for n, _ in charge_components(Charges(stt=Decimal("101")))] == names
