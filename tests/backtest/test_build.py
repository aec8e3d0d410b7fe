"""The report's equity curve: which fills each point of the desk's curve had seen."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from backtest.factories import fill, ledger, ts
from kitetui.backtest.build import net_equity

MINUTE = 60_000_000_000


def test_a_candle_fill_counts_from_the_point_of_the_batch_that_applied_it() -> None:
    """A market entry decided on the 09:20 bar fills at the 09:21 bar's open, stamped
    09:21, and is applied in the batch that brings that bar, after the 09:21 point was
    taken: the 09:21 point is net of nothing, the 09:22 point of its ₹20."""
    at = ts("2024-01-02", "09:21")
    entry = replace(fill("BUY", 50, "21700", at, brokerage=20, tag="e1"), charges_paise=2_000)
    entry = replace(entry, clock_ns=at + MINUTE)
    capital = 100_000_000  # paise
    points = net_equity(ledger([entry], [(at, capital), (at + MINUTE, capital - 2_000)]))
    first, second = points
    assert (first.gross, first.charges, first.net) == (Decimal(1_000_000), 0, Decimal(1_000_000))
    assert (second.gross, second.charges) == (Decimal(1_000_000), Decimal(20))
    assert second.net == Decimal("999980")


def test_a_fill_without_its_clock_counts_from_its_own_time() -> None:
    """Rows read by hand (and the performance book's) carry no clock: their time stands."""
    at = ts("2024-01-02", "09:21")
    entry = replace(fill("BUY", 50, "21700", at, brokerage=20), charges_paise=2_000)
    points = net_equity(ledger([entry], [(at - MINUTE, 100_000_000), (at, 99_998_000)]))
    assert [p.charges for p in points] == [0, Decimal(20)]
    assert [p.gross for p in points] == [Decimal(1_000_000)] * 2


def test_a_fill_the_rate_table_could_not_price_shows_blank_charges_in_fills_csv() -> None:
    """Not 0.00, which reads as priced and free: the report's warnings say why."""
    import csv
    import io

    from kitetui.backtest.build import build_report
    from kitetui.backtest.files import fills_csv

    day = "2024-01-02"
    priced = fill("BUY", 50, "21700", ts(day, "09:20"), brokerage=20)
    unpriced = replace(fill("SELL", 50, "21760", ts(day, "10:00")), priced=False)
    report = build_report(ledger([priced, unpriced], [(ts(day, "09:15"), 100_000_000)]))
    rows = list(csv.DictReader(io.StringIO(fills_csv(report))))
    assert rows[0]["brokerage"] == "20" and rows[0]["charges"] == "20"
    assert [rows[1][k] for k in ("brokerage", "stt", "gst", "charges")] == ["", "", "", ""]
    assert rows[1]["price"] == "21760"


def test_every_row_of_equity_csv_adds_up_gross_less_charges_paid_is_net() -> None:
    """probe k33: equity.csv's ``charges_paid`` was the exact sum of the fills' charges
    while ``equity_net`` is the desk's curve, net of each order's charges rounded to
    paise: on the NIFTY 2024 backtest (422 orders) the last row read gross 920,375.00,
    charges 64,890.04 and net 855,484.91, five paise short of its own subtraction."""
    import csv
    import io

    from kitetui.backtest.build import build_report
    from kitetui.backtest.files import equity_csv

    day = "2024-01-02"
    entry = replace(
        fill("BUY", 50, "21700", ts(day, "09:20"), brokerage="20.004"), charges_paise=2_000
    )
    exit_ = replace(
        fill("SELL", 50, "21700", ts(day, "09:30"), brokerage="20.004"), charges_paise=2_000
    )
    capital = 100_000_000
    points = [(ts(day, "09:15"), capital), (ts(day, "09:25"), capital - 2_000)]
    points.append((ts(day, "09:35"), capital - 4_000))
    rows = list(
        csv.DictReader(io.StringIO(equity_csv(build_report(ledger([entry, exit_], points)))))
    )
    for row in rows:
        gross, paid, net = (Decimal(row[k]) for k in ("equity_gross", "charges_paid", "equity_net"))
        assert gross - paid == net, row
    last = rows[-1]
    assert Decimal(last["charges_paid"]) == 40 and Decimal(last["equity_net"]) == 999_960
