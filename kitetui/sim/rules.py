"""The order rules of Kite and NSE that the sim exchange enforces, as data and pure maths.

The sim is only worth testing against if it refuses what Kite refuses and fills the way
the exchange fills: a stop-loss market order on an option, a market order without
market protection, a limit price outside the circuit or the limit-price-protection
band all lose real money when a desk first meets them live. Each rule here names its
source; ``docs/exchange-rules.md`` is the table of rule -> sim behaviour -> Kite's
error -> source, and says which wordings are unverified.

``SimRules`` switches each rule (the shipped config has every rule on; a test may
relax one). The functions are pure so they are unit-tested without a server:
``auto_protection_percent`` (Kite's automatic market-protection band),
``protection_price`` (a protected market order's limit), ``lpp_band`` (NSE's limit
price protection range for options) and ``ReferencePrices`` (NSE's 30-second average
trade price the band is built on).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from kitetui.market.instruments import Instrument
from kitetui.money import exact_fraction
from kitetui.sim.market import IST
from kitetui.trading.auto_square_off import cutoff_minute

__all__ = [
    "MAX_EQUITY_QUANTITY",
    "MSG_AMO_HOURS",
    "MSG_AMO_INDEX_MARKET",
    "MSG_CIRCUIT",
    "MSG_DAY_LIMIT",
    "MSG_HOLDINGS",
    "MSG_HOLDINGS_RAW",
    "MSG_LPP_CANCELLED",
    "MSG_MASS_CANCEL",
    "MSG_MAX_MODIFICATIONS",
    "MSG_MAX_QUANTITY",
    "MSG_MIS_AFTER_SQUARE_OFF",
    "MSG_NOT_TRADED",
    "MSG_NO_PROTECTION",
    "MSG_RMS_SQUARE_OFF_CANCEL",
    "MSG_SL_M_OPTIONS",
    "MSG_TAG_CHARACTERS",
    "MSG_TAG_LENGTH",
    "MSG_TOO_MANY_INSTRUMENTS",
    "MSG_TOO_MANY_REQUESTS",
    "ReferencePrices",
    "SimRules",
    "amo_blocked",
    "auto_protection_percent",
    "auto_square_off_minute",
    "freeze_message",
    "is_index_option",
    "is_option",
    "lpp_band",
    "protection_price",
    "trigger_circuit_message",
]

# ---------------------------------------------------------------------- Kite's texts
# Verified: quoted from Kite's answers (links in docs/exchange-rules.md).
MSG_NO_PROTECTION = (
    "Market orders without market protection are not allowed via API. "
    "Please set market protection or use a Limit order."
)  # pykiteconnect#242 (InputException), kite.trade forum comments 52331, 52991
MSG_CIRCUIT = (
    "Price exceeds circuit limits for the instrument. Place an order within the daily range."
)
# tradingqna 193460: the text Kite answers both a circuit breach and an LPP breach with.
MSG_LPP_CANCELLED = (
    "The order was cancelled by the exchange because the price is outside the current "
    "allowed limit price protection range. [Read more.](https://zrd.sh/lpp-range-rejection)"
)  # kite.trade forum discussion 13838: an SL on an option cancelled once triggered
MSG_MAX_MODIFICATIONS = "Maximum allowed order modifications exceeded."  # forum 31294
MSG_DAY_LIMIT = "Maximum allowed order requests exceeded."  # forum 7679, 8397, 51118
MSG_TOO_MANY_REQUESTS = "Too many requests"  # forum 48463, 3328
MSG_NOT_TRADED = "Contract not traded. Market order not allowed"  # NSE code 17181
# The OMS's raw text of a CNC sell beyond holdings, as Zerodha's tradingqna answer 24010
# quotes it (the friendly ``status_message`` beside it is not quoted anywhere).
MSG_HOLDINGS_RAW = "RMS:Rule: Check holdings"
# Unverified wordings (no source quotes them; the rule itself is sourced).
MSG_SL_M_OPTIONS = (
    "Stoploss market (SL-M) orders are not allowed for option contracts. "
    "Place a stoploss limit (SL) order instead."
)
MSG_TAG_LENGTH = "`tag` should be max 20 characters"  # Kite Publisher says "max 8"
MSG_TAG_CHARACTERS = "`tag` should be alphanumeric"
MSG_TOO_MANY_INSTRUMENTS = "Too many instruments: at most {limit} per call."
# CNC sell beyond holdings: the rule's words are kite.trade/docs/kite/orders', the
# message is ours.
MSG_HOLDINGS = (
    "Insufficient holdings: to sell stocks as CNC, stocks need to be available in holdings."
)
MSG_MAX_QUANTITY = "Order quantity greater than 1,00,000 shares is not allowed."
# The session's end: the exchange cancels what is unmatched after the close; Zerodha's
# support article gives the reason as "exchange mass cancel" (the full message unquoted).
MSG_MASS_CANCEL = "exchange mass cancel"
# Zerodha's intraday auto square-off (support article "What are the auto square-off
# timings for open intraday positions?"): the rule is sourced, these wordings are ours.
MSG_RMS_SQUARE_OFF_CANCEL = "Pending MIS order cancelled by the RMS before the auto square-off."
MSG_MIS_AFTER_SQUARE_OFF = (
    "Fresh MIS orders are not allowed after the intraday auto square-off time."
)
MSG_AMO_HOURS = (
    "After market orders (AMO) cannot be placed, modified or cancelled during market "
    "hours (9:00 AM to 3:45 PM for equity, 9:10 AM to 3:45 PM for F&O)."
)
MSG_AMO_INDEX_MARKET = (
    "Market orders are not allowed in index options as AMO. Place a limit order instead."
)

# Zerodha's pre-order-book checks (support article "Why is the rejected order not
# displayed in the order book?", cited in docs/exchange-rules.md).
MAX_EQUITY_QUANTITY = 100_000  # "Order quantity greater than 1,00,000 shares"
# AMO blocked from 9:00 (equity) / 9:10 (F&O) to 15:45 IST, as (hour, minute).
_AMO_BLOCK_START = {"equity": (9, 0), "fo": (9, 10)}
_AMO_BLOCK_END = (15, 45)
# The underlyings of NSE's and BSE's index derivatives (options on anything else are
# stock options).
INDEX_UNDERLYINGS = frozenset(
    {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "SENSEX", "BANKEX", "SENSEX50"}
)

# The index each index derivative settles on (NSE's final settlement price of an index
# future or option is the index's close on its expiry day), as the sim's market keys it.
INDEX_OF = {
    "NIFTY": "NSE:NIFTY 50",
    "BANKNIFTY": "NSE:NIFTY BANK",
    "FINNIFTY": "NSE:NIFTY FIN SERVICE",
    "MIDCPNIFTY": "NSE:NIFTY MID SELECT",
    "NIFTYNXT50": "NSE:NIFTY NEXT 50",
    "SENSEX": "BSE:SENSEX",
    "BANKEX": "BSE:BANKEX",
    "SENSEX50": "BSE:SENSEX50",
}

OPTION_TYPES = frozenset({"CE", "PE"})
DERIVATIVE_EXCHANGES = frozenset({"NFO", "BFO"})


def freeze_message(quantity: int, freeze: int, lot: int) -> str:
    """Kite's freeze-quantity refusal (forum comment 42709, an InputException)."""
    lot = max(1, lot)
    return (
        f"The order quantity {quantity} ({quantity // lot} lots) is higher than the maximum "
        f"quantity of {freeze} ({freeze // lot} lots) allowed by the exchanges. Please reduce "
        "the order quantity or use iceberg orders. [Read more.](https://support.zerodha.com/"
        "category/trading-and-markets/margin-leverage-and-product-and-order-types/articles/"
        "what-does-the-error-rms-rule-check-freeze-quantity-for-fo-including-square-off-order-mean)"
    )


def trigger_circuit_message(buy: bool, limit: float) -> str:
    """A stop's trigger outside the circuit. The sell text is Kite's (forum 3141); the buy
    text is its mirror image (unverified)."""
    if buy:
        return (
            "Trigger price for stoploss buy orders cannot be above the upper circuit price. "
            f"Please try placing the order with trigger price below {limit:g}."
        )
    return (
        "Trigger price for stoploss sell orders cannot be below the lower circuit price. "
        f"Please try placing the order with trigger price above {limit:g}."
    )


# ---------------------------------------------------------------------- switches


@dataclass(frozen=True, slots=True)
class SimRules:
    """Which of Kite's and NSE's rules the sim enforces (all of them by default).

    ``liquidity_fraction``: the share of each recorded trade (a tick's quantity, a
    candle's volume) an order may take, so large orders fill in parts; None = whole
    fills (the paper broker's default).
    """

    sl_m_options: bool = True
    require_market_protection: bool = True
    circuit_limits: bool = True
    lpp: bool = True
    tag_alphanumeric: bool = True
    amo_hours: bool = True
    cnc_holdings: bool = True
    # DAY orders lapse at the close and each day's order book and tradebook start empty
    day_end: bool = True
    # MIS positions squared off (pending MIS orders cancelled first) at the cut-off, and
    # no fresh MIS order after it
    auto_square_off: bool = True
    liquidity_fraction: float | None = 0.25

    def __post_init__(self) -> None:
        fraction = self.liquidity_fraction
        if fraction is not None and not (math.isfinite(fraction) and 0 < fraction <= 1):
            raise ValueError(f"liquidity_fraction must be in (0, 1] or None, got {fraction!r}")


def is_option(instrument: Instrument) -> bool:
    return instrument.exchange in DERIVATIVE_EXCHANGES and instrument.instrument_type in (
        OPTION_TYPES
    )


def is_index_option(instrument: Instrument) -> bool:
    """An option on an index (NIFTY, SENSEX, ...): Zerodha refuses MARKET AMOs on these."""
    return is_option(instrument) and (instrument.name or "").upper() in INDEX_UNDERLYINGS


# ---------------------------------------------------------------------- square-off


def auto_square_off_minute(exchange: str) -> int:
    """The minute of the IST day at which Zerodha's RMS squares off MIS positions on
    ``exchange``: 3:20 PM cash, 3:25 PM derivatives (``kitetui.trading.auto_square_off``,
    shared with the desk; sources in docs/exchange-rules.md row 15)."""
    return cutoff_minute(exchange)


# ---------------------------------------------------------------------- AMO hours


def amo_blocked(exchange: str, ts_ns: int) -> bool:
    """Whether Zerodha blocks AMOs on ``exchange`` at ``ts_ns``: 9:00 AM to 3:45 PM IST
    for equity, 9:10 AM to 3:45 PM for F&O, on weekdays (support article "Why is the
    rejected order not displayed in the order book?"). Exchange holidays are not known
    to the sim, so a holiday weekday is treated as a trading day."""
    moment = datetime.fromtimestamp(ts_ns / 1e9, IST)
    if moment.weekday() >= 5:
        return False
    start = _AMO_BLOCK_START["fo" if exchange in DERIVATIVE_EXCHANGES else "equity"]
    return start <= (moment.hour, moment.minute) < _AMO_BLOCK_END


# ---------------------------------------------------------------------- market protection


def auto_protection_percent(option: bool, ltp: float) -> float:
    """The band Kite applies for ``market_protection=-1``: Zerodha's published table for
    market price protection (support article on ATO; a forum user saw ~3 % on a 10-100
    option with -1 through the API, tradingqna 193460)."""
    if option:
        if ltp < 10:
            return 5.0
        if ltp < 100:
            return 3.0
        if ltp < 500:
            return 2.0
        return 1.0
    if ltp < 100:
        return 2.0
    if ltp < 500:
        return 1.0
    return 0.5


def protection_price(ltp: float, percent: float, buy: bool, tick: float) -> float:
    """The limit a protected market order becomes: LTP +/- ``percent`` %, on the tick,
    rounded toward the LTP so the order never pays more (buy) or takes less (sell)
    than the band allows; never below one tick."""
    step = exact_fraction(tick) if tick > 0 else Fraction(1, 20)
    last = exact_fraction(ltp)
    band = last * exact_fraction(percent) / 100
    ticks = math.floor((last + band) / step) if buy else max(1, math.ceil((last - band) / step))
    return float(ticks * step)


# ---------------------------------------------------------------------- limit price protection


def lpp_band(reference: float) -> tuple[float, float]:
    """NSE's limit price protection range for index options around the reference
    price: +/- 20 rupees up to 50, +/- 40 % above (NSE circular of 28 Oct 2022, quoted by
    brokers: sasonline bulletin 455, Alice Blue). A buy above the high or a sell below
    the low is refused."""
    if reference <= 50:
        return max(0.0, reference - 20), reference + 20
    return reference * 0.6, reference * 1.4


class ReferencePrices:
    """NSE's LPP reference price per instrument: the simple average of the trade
    prices of the last 30 seconds; a contract that has not traded keeps its last
    reference (the circular's theoretical price at the open is out of the sim's reach,
    so before any trade the last price stands in)."""

    WINDOW_NS = 30 * 1_000_000_000

    def __init__(self) -> None:
        self._trades: dict[str, deque[tuple[int, float]]] = {}
        self._sums: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def add(self, key: str, ts_ns: int, price: float) -> None:
        trades = self._trades.setdefault(key, deque())
        trades.append((ts_ns, price))
        total = self._sums.get(key, 0.0) + price
        while trades[0][0] <= ts_ns - self.WINDOW_NS:
            total -= trades.popleft()[1]
        self._sums[key] = total
        self._last[key] = total / len(trades)

    def reference(self, key: str) -> float | None:
        return self._last.get(key)
