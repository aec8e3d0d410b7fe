"""Strategies: signals fire exactly when their rule says, params validate, registry works.

Constructed bar sequences pin each signal to a bar. For the EMA cross the bar is known
by construction (a jump or a drop flips the sign of fast - slow on that bar); for mean
reversion the expected bars come from applying the rule to pandas-ta-classic's RSI and
Bollinger bands over the same closes, so "exactly when" is checked against an
independent computation of the indicators. A run over real NSE bars shows both
strategies going LONG and SHORT.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_ta_classic as ta
import pytest
from pydantic import ValidationError

import strategies.registry as registry
from kitetui.domain import NS_PER_MINUTE, Bar, SignalKind
from strategies.base import BAD_BAR_REASON, NOT_READY_REASON, Decision, Strategy
from strategies.ema_cross import EmaCrossStrategy
from strategies.mean_reversion import MeanReversionStrategy
from strategies.registry import get_strategy, register, strategy_names

LONG, SHORT, EXIT, HOLD = SignalKind.LONG, SignalKind.SHORT, SignalKind.EXIT, SignalKind.HOLD
T0 = 1_680_493_500_000_000_000  # 2023-04-03 09:15 IST


def make_bars(closes: list[float], spread: float = 0.5, symbol: str = "TEST") -> list[Bar]:
    return [
        Bar(symbol, T0 + i * NS_PER_MINUTE, 60, c, c + spread, c - spread, c, 1_000)
        for i, c in enumerate(closes)
    ]


def run(strategy: Strategy, bars: list[Bar], position_qty: int = 0) -> list[Decision]:
    return [strategy.on_bar(bar, position_qty) for bar in bars]


def signals(decisions: list[Decision]) -> list[tuple[int, SignalKind]]:
    return [(i, d.kind) for i, d in enumerate(decisions) if d.kind is not HOLD]


# --- EMA cross ---------------------------------------------------------------------

DOWN_THEN_JUMP = [200.0 - i for i in range(30)] + [260.0] * 10  # up-cross at bar 30
UP_THEN_DROP = [100.0 + i for i in range(30)] + [60.0] * 10  # down-cross at bar 30
RISING = [100.0 + i for i in range(40)]
CROSS_IN_WARMUP = [100.0 - i for i in range(10)] + [90.0 + 2 * i for i in range(30)]
WHIPSAW = [200.0 - i for i in range(30)] + [260.0] * 5 + [150.0] * 5  # up at 30, down at 35


@pytest.mark.parametrize(
    ("closes", "position", "allow_short", "expected"),
    [
        (DOWN_THEN_JUMP, 0, True, [(30, LONG)]),
        (DOWN_THEN_JUMP, -3, True, [(30, LONG)]),
        (DOWN_THEN_JUMP, 3, True, []),
        (DOWN_THEN_JUMP, 0, False, [(30, LONG)]),
        (UP_THEN_DROP, 0, True, [(30, SHORT)]),
        (UP_THEN_DROP, 3, True, [(30, SHORT)]),
        (UP_THEN_DROP, -3, True, []),
        (UP_THEN_DROP, 0, False, []),
        (UP_THEN_DROP, 3, False, [(30, EXIT)]),
        (RISING, 0, True, []),
        (CROSS_IN_WARMUP, 0, True, []),
        (WHIPSAW, 0, True, [(30, LONG), (35, SHORT)]),
        (WHIPSAW, 0, False, [(30, LONG)]),
    ],
    ids=[
        "up-flat",
        "up-short",
        "up-already-long",
        "up-no-shorts",
        "down-flat",
        "down-long",
        "down-already-short",
        "down-flat-no-shorts",
        "down-long-no-shorts",
        "rising",
        "cross-in-warmup",
        "whipsaw",
        "whipsaw-no-shorts",
    ],
)
def test_ema_cross_with_constructed_bars_signals_exactly_on_the_cross(
    closes, position, allow_short, expected
):
    strategy = EmaCrossStrategy(EmaCrossStrategy.Params(fast=2, slow=4, allow_short=allow_short))
    decisions = run(strategy, make_bars(closes), position)
    assert signals(decisions) == expected
    for i, _ in expected:
        assert 0.0 <= decisions[i].confidence <= 1.0
        assert "crossed" in decisions[i].reason


def test_ema_cross_with_warmup_bars_holds_not_ready_then_reports_atr():
    strategy = EmaCrossStrategy(EmaCrossStrategy.Params(fast=2, slow=4))
    assert strategy.warmup_bars == 15  # ATR 14 needs 15 bars, more than the slow EMA
    decisions = run(strategy, make_bars(RISING))
    assert all(d == (HOLD, NOT_READY_REASON, 0.0, {}) for d in decisions[:14])
    ready = decisions[14]
    assert ready.kind is HOLD and ready.reason == "ema2>ema4, no cross"
    assert set(ready.indicators) == {"ema_fast", "ema_slow", "atr"}
    # close rises 1 a bar and high = close + 0.5, so every true range is 1.5
    assert ready.indicators["atr"] == pytest.approx(1.5)


def test_ema_cross_with_default_params_reason_names_the_periods():
    strategy = EmaCrossStrategy()
    assert strategy.warmup_bars == 50
    decisions = run(strategy, make_bars([100.0 - 0.1 * i for i in range(60)]))
    assert decisions[-1].reason == "ema20<ema50, no cross"
    assert [d.reason for d in decisions[:49]] == [NOT_READY_REASON] * 49


def test_ema_cross_with_touch_and_turn_back_does_not_signal():
    strategy = EmaCrossStrategy(EmaCrossStrategy.Params(fast=2, slow=4))
    decisions = run(strategy, make_bars([100.0] * 20 + [100.0 + i for i in range(20)]))
    # flat: fast == slow (no sign, "=" reason); then rising: first sign, not a cross
    assert decisions[16].reason == "ema2=ema4, no cross"
    assert signals(decisions) == []


@pytest.mark.parametrize("strategy_cls", [EmaCrossStrategy, MeanReversionStrategy])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_strategy_with_non_finite_bar_holds_and_keeps_state(strategy_cls, bad):
    closes = WHIPSAW
    clean, dirty = strategy_cls(), strategy_cls()
    expected = run(clean, make_bars(closes))
    got = []
    for i, bar in enumerate(make_bars(closes)):
        if i == 20:
            broken = Bar(bar.symbol, bar.ts_ns, 60, bar.open, bar.high, bar.low, bad)
            assert dirty.on_bar(broken, 0) == (HOLD, BAD_BAR_REASON, 0.0, {})
        got.append(dirty.on_bar(bar, 0))
    assert got == expected


# --- mean reversion ----------------------------------------------------------------


def _zigzag(n: int, level: float = 100.0) -> list[float]:
    return [level + (0.3, -0.2, 0.4, -0.3, 0.1)[i % 5] for i in range(n)]


SELLOFF = _zigzag(40) + [98.5, 97.0, 95.5, 94.0, 93.0, 93.5] + [94.5 + i for i in range(8)]
SPIKE = _zigzag(40) + [101.5, 103.0, 104.5, 106.0, 107.0, 106.5] + [105.5 - i for i in range(8)]
RALLY_THEN_DIP = [100.0 + 0.5 * i for i in range(40)] + [108.0, 108.5, 109.0]


def _oracle(closes: list[float], spread: float = 0.5) -> dict[str, np.ndarray]:
    close = pd.Series(closes)
    bb = ta.bbands(close, length=20, std=2.0)
    atr = ta.atr(close + spread, close - spread, close, length=14)
    rsi = ta.rsi(close, length=14).to_numpy()
    lower, mid, upper = (bb[f"BB{k}_20_2.0"].to_numpy() for k in "LMU")
    ready = ~(np.isnan(rsi) | np.isnan(mid) | np.isnan(atr.to_numpy()))
    return {"close": close.to_numpy(), "rsi": rsi, "lower": lower, "mid": mid, "upper": upper,
            "ready": ready}  # fmt: skip


def _expected_mean_reversion(o: dict[str, np.ndarray], position: int, allow_short: bool):
    c, rsi, ready = o["close"], o["rsi"], o["ready"]
    with np.errstate(invalid="ignore"):
        if position > 0:
            rules = [(EXIT, (c >= o["mid"]) | (rsi > 50))]
        elif position < 0:
            rules = [(EXIT, (c <= o["mid"]) | (rsi < 50))]
        else:
            rules = [(LONG, (c < o["lower"]) & (rsi < 30))]
            if allow_short:
                rules.append((SHORT, (c > o["upper"]) & (rsi > 70)))
    fired = {int(i): kind for kind, mask in rules for i in np.flatnonzero(mask & ready)}
    return sorted(fired.items())


@pytest.mark.parametrize(
    ("closes", "position", "allow_short", "must_fire"),
    [
        (SELLOFF, 0, True, LONG),
        (SELLOFF, 0, False, LONG),
        (SELLOFF, 2, True, EXIT),
        (SPIKE, 0, True, SHORT),
        (SPIKE, 0, False, None),
        (SPIKE, -2, True, EXIT),
        (SELLOFF, -2, True, EXIT),
        (SPIKE, 2, True, EXIT),
        (RALLY_THEN_DIP, 0, True, None),
        (_zigzag(60), 0, True, None),
    ],
    ids=[
        "selloff-flat",
        "selloff-flat-no-shorts",
        "selloff-long",
        "spike-flat",
        "spike-flat-no-shorts",
        "spike-short",
        "selloff-short",
        "spike-long",
        "rally-then-dip",
        "range",
    ],
)
def test_mean_reversion_with_constructed_bars_signals_exactly_per_rule(
    closes, position, allow_short, must_fire
):
    params = MeanReversionStrategy.Params(allow_short=allow_short)
    decisions = run(MeanReversionStrategy(params), make_bars(closes), position)
    expected = _expected_mean_reversion(_oracle(closes), position, allow_short)
    assert signals(decisions) == expected
    if must_fire is not None:
        assert must_fire in {kind for _, kind in expected}, "sequence does not exercise the rule"
    else:
        assert expected == []
    for i, _ in expected:
        assert 0.0 <= decisions[i].confidence <= 1.0
        assert set(decisions[i].indicators) == {"rsi", "bb_lower", "bb_mid", "bb_upper", "atr"}


def test_mean_reversion_with_selloff_goes_long_on_first_band_break_with_low_rsi():
    decisions = run(MeanReversionStrategy(), make_bars(SELLOFF))
    first = signals(decisions)[0]
    assert first == (42, LONG)  # 95.5: the third down bar is the first with rsi < 30
    assert decisions[42].reason == "close<bb_lower, rsi<30"
    assert decisions[40].reason.startswith("close<bb_lower but rsi")  # rsi 40.0
    assert decisions[41].reason.startswith("close<bb_lower but rsi")  # rsi 33.3


def test_mean_reversion_with_band_break_but_moderate_rsi_holds():
    o = _oracle(RALLY_THEN_DIP)
    decisions = run(MeanReversionStrategy(), make_bars(RALLY_THEN_DIP))
    below = np.flatnonzero(o["ready"] & (o["close"] < o["lower"]))
    assert below.size, "sequence must break the lower band"
    for i in below:
        assert decisions[i].kind is HOLD
        assert decisions[i].reason.startswith("close<bb_lower but rsi")


@pytest.mark.parametrize(
    ("position", "closes", "reason"),
    [
        # a spike up and back: close under the mid band with RSI ~49 (> 40)
        (1, [*_zigzag(30), 130.0, 100.6], "long: rsi>40"),
        # the mirror image: close over the mid band with RSI ~51 (< 60)
        (-1, [*_zigzag(30), 70.0, 99.4], "short: rsi<60"),
    ],
)
def test_mean_reversion_with_rsi_past_exit_level_before_mid_exits_on_rsi(position, closes, reason):
    o = _oracle(closes)
    i = len(closes) - 1
    if position > 0:
        assert o["close"][i] < o["mid"][i] and 40 < o["rsi"][i] < 50
    else:
        assert o["close"][i] > o["mid"][i] and 50 < o["rsi"][i] < 60
    strategy = MeanReversionStrategy(MeanReversionStrategy.Params(rsi_exit=40))
    decisions = run(strategy, make_bars(closes), position)
    assert (decisions[i].kind, decisions[i].reason) == (EXIT, reason)
    default = run(MeanReversionStrategy(), make_bars(closes), position)[i]
    assert default.kind is HOLD  # with rsi_exit=50 the same bar waits


def test_mean_reversion_with_warmup_bars_holds_not_ready():
    strategy = MeanReversionStrategy()
    assert strategy.warmup_bars == 20
    decisions = run(strategy, make_bars(_zigzag(25)))
    assert [d.reason for d in decisions[:19]] == [NOT_READY_REASON] * 19
    assert decisions[19].reason == "flat: close inside bands"
    assert decisions[19].indicators["atr"] > 0


def test_mean_reversion_with_flat_prices_holds_not_ready():
    decisions = run(MeanReversionStrategy(), make_bars([100.0] * 30, spread=0.0))
    assert all(d.reason == NOT_READY_REASON for d in decisions)  # RSI is 0/0 on no change


# --- params ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy_cls", "params"),
    [
        (EmaCrossStrategy, {"fats": 10}),
        (EmaCrossStrategy, {"fast": 0}),
        (EmaCrossStrategy, {"slow": -5}),
        (EmaCrossStrategy, {"fast": 50, "slow": 20}),
        (EmaCrossStrategy, {"fast": 20, "slow": 20}),
        (EmaCrossStrategy, {"fast": "twenty"}),
        (EmaCrossStrategy, {"allow_short": "maybe"}),
        (EmaCrossStrategy, {"fast": "9", "slow": 21}),  # strict: no string coercion
        (EmaCrossStrategy, {"fast": 9.0, "slow": 21}),
        (EmaCrossStrategy, {"allow_short": "no"}),
        (EmaCrossStrategy, {"allow_short": 1}),
        (EmaCrossStrategy, {"slow": 10**9}),  # bounded: at most MAX_PERIOD bars
        (MeanReversionStrategy, {"rsi_lo": 25}),
        (MeanReversionStrategy, {"rsi_low": 0}),
        (MeanReversionStrategy, {"rsi_high": 100}),
        (MeanReversionStrategy, {"rsi_low": 75}),
        (MeanReversionStrategy, {"rsi_exit": 20}),
        (MeanReversionStrategy, {"rsi_low": 45, "rsi_exit": 60}),
        (MeanReversionStrategy, {"bb_std": 0}),
        (MeanReversionStrategy, {"bb_std": float("inf")}),
        (MeanReversionStrategy, {"bb_period": 1}),
        (MeanReversionStrategy, {"rsi_period": 0}),
        (MeanReversionStrategy, {"rsi_period": 10**9}),
        (MeanReversionStrategy, {"bb_std": "2.0"}),
        (MeanReversionStrategy, {"bb_std": 11.0}),
    ],
)
def test_params_with_unknown_key_or_bad_value_are_rejected(strategy_cls, params):
    with pytest.raises(ValidationError):
        strategy_cls.Params.model_validate(params)


@pytest.mark.parametrize(
    ("strategy_cls", "params", "attr", "value"),
    [
        (EmaCrossStrategy, {}, "fast", 20),
        (EmaCrossStrategy, {}, "slow", 50),
        (EmaCrossStrategy, {"fast": 9, "slow": 21}, "slow", 21),
        (EmaCrossStrategy, {"allow_short": False}, "allow_short", False),
        (MeanReversionStrategy, {}, "rsi_low", 30.0),
        (MeanReversionStrategy, {}, "rsi_high", 70.0),
        (MeanReversionStrategy, {"bb_std": 2.5}, "bb_std", 2.5),
    ],
)
def test_params_with_valid_mapping_build_a_strategy(strategy_cls, params, attr, value):
    strategy = strategy_cls.from_mapping(params)
    assert getattr(strategy.params, attr) == value


def test_params_with_assignment_are_frozen():
    params = EmaCrossStrategy.Params()
    with pytest.raises(ValidationError):
        params.fast = 5


def test_strategy_with_other_strategys_params_raises_type_error():
    with pytest.raises(TypeError, match=r"EmaCrossStrategy\.Params"):
        EmaCrossStrategy(MeanReversionStrategy.Params())


# --- registry ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"), [("ema_cross", EmaCrossStrategy), ("mean_reversion", MeanReversionStrategy)]
)
def test_registry_with_known_name_returns_the_class(name, cls):
    assert get_strategy(name) is cls
    assert cls.name == name
    assert name in strategy_names()


def test_registry_with_unknown_name_raises_key_error_listing_known_names():
    with pytest.raises(KeyError) as info:
        get_strategy("ema_crossover")
    message = info.value.args[0]
    assert "ema_crossover" in message
    assert "ema_cross" in message and "mean_reversion" in message


def test_registry_names_are_sorted():
    assert list(strategy_names()) == sorted(strategy_names())


class _Dummy(Strategy):
    name = "dummy_for_test"

    @property
    def warmup_bars(self) -> int:
        return 1

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        return Decision(HOLD, "dummy", 0.0, {})


def test_registry_with_new_strategy_registers_it(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    assert register(_Dummy) is _Dummy
    assert get_strategy("dummy_for_test") is _Dummy
    assert register(_Dummy) is _Dummy  # registering the same class again is harmless


def test_registry_with_taken_name_raises_value_error(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    impostor = type("Impostor", (_Dummy,), {"name": "ema_cross"})
    with pytest.raises(ValueError, match="taken"):
        register(impostor)
    assert get_strategy("ema_cross") is EmaCrossStrategy


def test_registry_with_nameless_or_foreign_class_raises_type_error(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    nameless = type("Nameless", (_Dummy,), {})  # inherits a name, declares none itself
    with pytest.raises(TypeError, match="name"):
        register(nameless)
    with pytest.raises(TypeError, match="not a Strategy"):
        register(dict)


# --- real data ---------------------------------------------------------------------

KITE_2023 = "intraday_1min/kite_bank_stocks_2023_lullaharsh1"


@pytest.fixture(scope="module", params=["HDFCBANK", "BANKNIFTY"])
def real_bars(request, shared_data: Path) -> list[Bar]:
    df = pd.read_csv(shared_data / KITE_2023 / f"{request.param}.csv.gz")
    ts = pd.DatetimeIndex(pd.to_datetime(df["Date"])).as_unit("ns").asi8.tolist()
    cols = (df[c].tolist() for c in ("open", "high", "low", "close", "volume"))
    return [
        Bar(request.param, t, 60, o, h, lo, c, int(v))
        for t, o, h, lo, c, v in zip(ts, *cols, strict=True)
    ]


@pytest.mark.parametrize("name", ["ema_cross", "mean_reversion"])
def test_strategy_with_real_bars_emits_long_and_short(real_bars, name):
    strategy = get_strategy(name)()
    position, kinds = 0, []
    for i, bar in enumerate(real_bars):
        decision = strategy.on_bar(bar, position)
        kinds.append(decision.kind)
        if i < strategy.warmup_bars - 1:
            assert decision.reason == NOT_READY_REASON
            continue
        assert decision.indicators["atr"] > 0 and math.isfinite(decision.indicators["atr"])
        assert 0.0 <= decision.confidence <= 1.0
        if decision.kind is LONG:
            position = 1
        elif decision.kind is SHORT:
            position = -1
        elif decision.kind is EXIT:
            position = 0
    counts = {kind: kinds.count(kind) for kind in SignalKind}
    assert counts[LONG] >= 10 and counts[SHORT] >= 10, counts
    if name == "mean_reversion":
        assert counts[EXIT] >= 10, counts
