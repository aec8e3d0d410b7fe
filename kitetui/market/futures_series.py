"""Which vendor continuous future (``NIFTY-I``, ``-II``, ``-III``) a monthly contract is
on a given day.

Vendor F&O files name futures by series, not by contract: ``-I`` is the near month,
``-II`` the next, ``-III`` the far, and each rolls to the following contract the day
after a monthly expiry. So ``NIFTY-II`` on 2022-11-18 is ``NIFTY22DECFUT``, and on
2022-11-25 (the day after the November expiry) ``NIFTY23JANFUT``. A config names a real
contract; ``kitetui.market.loaders`` keeps a series' row only on the days that series
is that contract: series k on day d is the k-th monthly expiry on or after d.

The monthly expiry is NSE's rule for index and stock futures: the last Thursday of the
month for contracts expiring up to August 2025, the last Tuesday from September 2025
(NSE moved every equity derivative's expiry to Tuesday then, the move
``kitetui.market.resolve`` notes for NIFTY's weeklies), moved to the trading day before
when that day is a holiday (``kitetui.market.calendar``: 25-Jan-2023, as Thursday the
26th was Republic Day). The calendar is the desk's: the shipped NSE list with the
config's ``calendar.holidays_override`` (``kitetui.market.replay.load_replay_sources``
hands it to both load paths), so a holiday the override adds on an expiry day moves the
expiry, and the roll, a trading day earlier, as NSE moves it. The rest of kitetui
never uses a rule like this: it takes expiries from the instrument master (``resolve``),
which a replay file has no copy of for its dates. So the rule is checked against every
future the bundled 2022 master and the shared 2026 master list
(``tests/market/test_continuous_series.py``).

Some index futures had their own weekday before 2025 (BANKNIFTY's monthly expired on
Wednesdays in 2024; FINNIFTY, MIDCPNIFTY and NIFTYNXT50 had theirs): for those the
expiries before January 2025 are not known here (None), and the loader says which series
it assumed instead of guessing a day. A year the shipped calendar does not cover is
read as "every weekday trades" (the replay's ``CalendarNotCovered`` says so), so a
holiday on an expiry Thursday of such a year puts the roll a day late unless the
override lists it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from kitetui.market.calendar import TradingCalendar, nse
from kitetui.market.contract_symbols import MONTHS, parse_contract_symbol

__all__ = [
    "TUESDAY_FROM",
    "ContractSeries",
    "contract_series",
    "monthly_expiry",
    "shipped_calendar",
]

#: The first expiry month of NSE's Tuesday rule (before it: the last Thursday).
TUESDAY_FROM = (2025, 9)
_THURSDAY, _TUESDAY = 3, 1
#: Index futures whose monthly expiry had another weekday before this month.
_OWN_WEEKDAY = frozenset({"BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50"})
_OWN_WEEKDAY_UNTIL = (2025, 1)
_SERIES_KNOWN = 3  # vendors list -I, -II and -III


def monthly_expiry(
    underlying: str, year: int, month: int, calendar: TradingCalendar
) -> date | None:
    """The monthly future's expiry of ``underlying`` in (``year``, ``month``): the last
    Thursday (Tuesday from ``TUESDAY_FROM``), or the trading day before it when that
    day does not trade; None where the rule is not known (module docstring)."""
    if underlying.upper() in _OWN_WEEKDAY and (year, month) < _OWN_WEEKDAY_UNTIL:
        return None
    weekday = _TUESDAY if (year, month) >= TUESDAY_FROM else _THURSDAY
    last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    day = last - timedelta(days=(last.weekday() - weekday) % 7)
    while not calendar.is_trading_day(day):
        day -= timedelta(days=1)
    return day


@cache
def shipped_calendar() -> TradingCalendar:
    """The NSE calendar as shipped, read once: the one a caller that names none gets."""
    return nse()


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


@dataclass(frozen=True, slots=True)
class ContractSeries:
    """A monthly future (``underlying``, expiry month) on a calendar: which continuous
    series it is on a day, and which contract a series is on a day."""

    underlying: str
    month: int  # year * 12 + month - 1 of the contract's expiry
    calendar: TradingCalendar

    def _expiry(self, index: int) -> date | None:
        year, month0 = divmod(index, 12)
        return monthly_expiry(self.underlying, year, month0 + 1, self.calendar)

    def _first(self, day: date) -> int | None:
        """The month index of the near-month contract on ``day``, when known."""
        here = _month_index(day.year, day.month)
        expiry = self._expiry(here)
        if expiry is None:
            return None
        return here if day <= expiry else here + 1

    def series_on(self, day: date) -> int:
        """Which series (1 near, 2 next, 3 far, more beyond) the contract is on ``day``;
        0 once it has expired."""
        here = _month_index(day.year, day.month)
        if here < self.month - _SERIES_KNOWN:
            return self.month - here  # at least 4: beyond every series a vendor lists
        first = self._first(day)  # known: ``contract_series`` checked these months
        if first is None or first > self.month:
            return 0
        return self.month - first + 1

    def contract_of(self, series: int, day: date) -> str | None:
        """The tradingsymbol series ``series`` denotes on ``day`` (None: not known)."""
        first = self._first(day)
        if first is None:
            return None
        year, month0 = divmod(first + series - 1, 12)
        return f"{self.underlying}{year % 100:02d}{MONTHS[month0]}FUT"


def contract_series(
    symbol: str, underlying: str, calendar: TradingCalendar | None = None
) -> ContractSeries | None:
    """``symbol`` (a monthly future, ``NIFTY22NOVFUT``) read for its series on
    ``calendar`` (the desk's: the shipped one with ``calendar.holidays_override``; the
    shipped one when None), or None when its name says no expiry month or the rule does
    not know its expiries (the contract's month and the three before it, the days a
    vendor series can be it)."""
    name = parse_contract_symbol(symbol, underlying=underlying)
    if name is None or name.instrument_type != "FUT" or name.day is not None:
        return None
    found = ContractSeries(
        name.underlying, _month_index(name.year, name.month), calendar or shipped_calendar()
    )
    known = range(found.month - _SERIES_KNOWN, found.month + 1)
    return found if all(found._expiry(i) is not None for i in known) else None
