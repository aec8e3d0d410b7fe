"""Tick -> bar aggregation and bar resampling, checked against pandas on real data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kitetui.domain import NS_PER_MINUTE, NS_PER_SECOND, Bar, Tick
from kitetui.market.bars import BarResampler, TickBarAggregator, session_bucket
from kitetui.market.loaders import data_path, load_candles, load_ticks

pd = pytest.importorskip("pandas")

IST = timezone(timedelta(hours=5, minutes=30))


def ist_ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=IST).timestamp()) * NS_PER_SECOND


def ist_clock(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_SECOND, IST).strftime("%H:%M")


def bar(minute: int, o=100.0, h=101.0, low=99.0, c=100.5, v=10, oi=0, day=(2023, 4, 3)) -> Bar:
    return Bar("X", ist_ns(*day, 9, 15) + minute * NS_PER_MINUTE, 60, o, h, low, c, v, oi)


def tick(second: int, price: float, qty: int = 1, oi: int = 0, day=(2022, 11, 18)) -> Tick:
    return Tick("X", ist_ns(*day, 9, 15) + second * NS_PER_SECOND, price, qty, oi)


def resample_all(bars, target_s: int) -> tuple[list[Bar], list[int]]:
    """Run the resampler; also return the index of the source bar that emitted each bar."""
    resampler = BarResampler(bars[0].symbol, 60, target_s)
    out, emitted_at = [], []
    for i, source in enumerate(bars):
        done = resampler.on_bar(source)
        if done is not None:
            out.append(done)
            emitted_at.append(i)
    last = resampler.flush()
    if last is not None:
        out.append(last)
        emitted_at.append(len(bars))
    return out, emitted_at


def pandas_ohlcv(frame, rule: str, offset: str | None = None) -> list[tuple]:
    agg = frame.resample(rule, offset=offset, label="left", closed="left").agg(
        {
            "open": "first",
            "high": "max",
            "low": "min",
            "close": "last",
            "volume": "sum",
            "oi": "last",
        }
    )
    agg = agg.dropna(subset=["open"])
    return [
        (int(ts.value), o, h, lo, c, int(v), int(oi))
        for ts, o, h, lo, c, v, oi in agg.itertuples(name=None)
    ]


def bars_frame(bars):
    frame = pd.DataFrame(
        [(b.ts_ns, b.open, b.high, b.low, b.close, b.volume, b.oi) for b in bars],
        columns=["ts", "open", "high", "low", "close", "volume", "oi"],
    )
    index = pd.to_datetime(frame.pop("ts"), unit="ns", utc=True).dt.tz_convert("Asia/Kolkata")
    frame.index = pd.DatetimeIndex(index).as_unit("ns")
    return frame


def as_tuples(bars) -> list[tuple]:
    return [(b.ts_ns, b.open, b.high, b.low, b.close, b.volume, b.oi) for b in bars]


# --------------------------------------------------------------------------- resampler vs pandas


@pytest.mark.parametrize(("target_s", "rule"), [(300, "5min"), (900, "15min")])
def test_resampler_with_bundled_kite_bars_matches_pandas(target_s: int, rule: str) -> None:
    for symbol in ("SBIN", "BANKNIFTY"):
        bars = load_candles(data_path(f"pkg:replay/{symbol}.csv.gz"), symbol).bars
        out, emitted_at = resample_all(bars, target_s)

        assert as_tuples(out) == pandas_ohlcv(bars_frame(bars), rule)
        assert all(b.timeframe_s == target_s and b.symbol == symbol for b in out)
        # Complete data: each bar is emitted by the source bar that ends its bucket.
        per_bucket = target_s // 60
        assert [bars[i].ts_ns for i in emitted_at] == [
            b.ts_ns + (per_bucket - 1) * NS_PER_MINUTE for b in out
        ]
        assert len(out) == 5 * 375 // per_bucket


@pytest.mark.parametrize(("target_s", "rule"), [(300, "5min"), (900, "15min")])
def test_resampler_with_shared_full_files_matches_pandas(
    shared_data: Path, target_s: int, rule: str
) -> None:
    for path in (
        shared_data / "intraday_1min/kite_bank_stocks_2023_lullaharsh1/AXISBANK.csv.gz",
        shared_data / "intraday_1min/kite_fno_stocks_2016_kuldeeptp/ASHOKLEY.csv.gz",
    ):
        bars = load_candles(path, "X").bars
        out, _ = resample_all(bars, target_s)
        assert as_tuples(out) == pandas_ohlcv(bars_frame(bars), rule)


def test_resampler_with_60m_is_anchored_at_0915_like_kite(shared_data: Path) -> None:
    path = shared_data / "intraday_1min/kite_bank_stocks_2023_lullaharsh1/HDFCBANK.csv.gz"
    bars = load_candles(path, "HDFCBANK").bars
    out, emitted_at = resample_all(bars, 3600)

    assert as_tuples(out) == pandas_ohlcv(bars_frame(bars), "60min", offset="15min")
    first_day = [b for b in out if b.ts_ns < ist_ns(2023, 4, 4)]
    assert [ist_clock(b.ts_ns) for b in first_day] == [
        "09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15",
    ]  # fmt: skip
    assert len(out) == 40 * 7  # 7 bars a session, as in Kite's 60minute files
    # The short 15:15 bucket is complete with the 15:29 bar, not at the next session.
    assert ist_clock(bars[emitted_at[6]].ts_ns) == "15:29"
    assert first_day[-1].volume == sum(b.volume for b in bars[360:375])


@pytest.mark.parametrize(
    ("target_s", "starts"),
    [
        (1800, ["09:15", "09:45", "10:15"]),
        (900, ["09:15", "09:30", "09:45"]),
        (180, ["09:15", "09:18", "09:21"]),
        (7500, ["09:15", "11:20", "13:25"]),  # 125-minute bars: 3 a session
    ],
)
def test_session_bucket_is_anchored_at_the_open(target_s: int, starts: list[str]) -> None:
    found = []
    for minute in range(375):
        start, end = session_bucket(ist_ns(2024, 1, 1, 9, 15) + minute * NS_PER_MINUTE, target_s)
        assert end <= ist_ns(2024, 1, 1, 15, 30)
        if ist_clock(start) not in found:
            found.append(ist_clock(start))
    assert found[:3] == starts


def test_session_bucket_outside_the_session_and_daily() -> None:
    assert session_bucket(ist_ns(2024, 1, 20, 15, 40), 3600) == (
        ist_ns(2024, 1, 20, 15, 30),
        ist_ns(2024, 1, 20, 16, 30),
    )
    assert session_bucket(ist_ns(2024, 1, 20, 9, 7), 900) == (
        ist_ns(2024, 1, 20, 9, 0),
        ist_ns(2024, 1, 20, 9, 15),
    )
    assert session_bucket(ist_ns(2024, 1, 20, 15, 20), 3600) == (
        ist_ns(2024, 1, 20, 15, 15),
        ist_ns(2024, 1, 20, 15, 30),
    )
    assert session_bucket(ist_ns(2024, 1, 20, 23, 59), 86_400) == (
        ist_ns(2024, 1, 20),
        ist_ns(2024, 1, 21),
    )


# --------------------------------------------------------------------------- resampler behaviour


def test_resampler_emits_5m_bar_on_the_0919_bar() -> None:
    resampler = BarResampler("X", 60, 300)
    outs = [resampler.on_bar(bar(m, h=101 + m, low=99 - m, c=100 + m, v=m + 1)) for m in range(5)]

    assert outs[:4] == [None] * 4
    assert outs[4] == Bar("X", ist_ns(2023, 4, 3, 9, 15), 300, 100.0, 105.0, 95.0, 104.0, 15)
    assert resampler.flush() is None


def test_resampler_with_a_gap_emits_when_a_later_bucket_starts() -> None:
    resampler = BarResampler("X", 60, 300)
    assert resampler.on_bar(bar(0)) is None
    assert resampler.on_bar(bar(2, c=103.0)) is None
    done = resampler.on_bar(bar(6))  # 09:21: bucket 09:15 never got its 09:19 bar

    assert done is not None and done.ts_ns == ist_ns(2023, 4, 3, 9, 15)
    assert (done.close, done.volume) == (103.0, 20)
    flushed = resampler.flush()
    assert flushed is not None and flushed.ts_ns == ist_ns(2023, 4, 3, 9, 20)


def test_resampler_with_lone_last_bar_after_gap_returns_both_in_order() -> None:
    resampler = BarResampler("X", 60, 300)
    resampler.on_bar(bar(0))
    first = resampler.on_bar(bar(9, c=107.0))  # 09:24 alone ends the 09:20 bucket
    second = resampler.on_bar(bar(10))

    assert first is not None and first.ts_ns == ist_ns(2023, 4, 3, 9, 15)
    assert second is not None and second.ts_ns == ist_ns(2023, 4, 3, 9, 20)
    assert second.close == 107.0


def test_resampler_never_spans_two_sessions() -> None:
    resampler = BarResampler("X", 60, 3600)
    for minute in range(300, 340):  # 14:15 .. 14:54, then the data stops for the day
        resampler.on_bar(bar(minute))
    done = resampler.on_bar(bar(0, day=(2023, 4, 5)))

    assert done is not None and done.ts_ns == ist_ns(2023, 4, 3, 14, 15)
    partial = resampler.partial()
    assert partial is not None and partial.ts_ns == ist_ns(2023, 4, 5, 9, 15)
    assert partial.volume == 10


def test_resampler_ignores_late_and_foreign_bars() -> None:
    resampler = BarResampler("X", 60, 300)
    for minute in range(5):
        resampler.on_bar(bar(minute))
    assert resampler.on_bar(bar(3)) is None  # late: its bucket was already emitted
    assert resampler.on_bar(bar(6)) is None
    assert resampler.on_bar(bar(2)) is None  # late: older than the open bucket
    wrong = Bar("X", bar(7).ts_ns, 300, 1.0, 1.0, 1.0, 1.0)
    assert resampler.on_bar(wrong) is None

    assert (resampler.late_bars, resampler.rejected_bars) == (2, 1)
    assert resampler.flush().volume == 10


@pytest.mark.parametrize(
    ("source", "target"), [(60, 90), (120, 300), (0, 60), (60, 86_400 * 2), (60, 30_000)]
)
def test_resampler_with_bad_timeframes_raises(source: int, target: int) -> None:
    with pytest.raises(ValueError):
        BarResampler("X", source, target)


def test_resampler_to_daily_stamps_ist_midnight() -> None:
    resampler = BarResampler("X", 60, 86_400)
    for minute in range(375):
        assert resampler.on_bar(bar(minute, h=100 + minute)) is None
    done = resampler.flush()

    assert done is not None and done.ts_ns == ist_ns(2023, 4, 3)
    assert (done.high, done.volume) == (474.0, 3750)


# --------------------------------------------------------------------------- ticks


def aggregate(ticks, timeframe_s: int) -> tuple[list[Bar], TickBarAggregator]:
    aggregator = TickBarAggregator(ticks[0].symbol, timeframe_s)
    out = [b for t in ticks if (b := aggregator.on_tick(t)) is not None]
    last = aggregator.flush()
    if last is not None:
        out.append(last)
    return out, aggregator


@pytest.mark.parametrize(("timeframe_s", "rule"), [(60, "1min"), (300, "5min")])
def test_tick_aggregator_with_nifty_futures_matches_pandas(timeframe_s: int, rule: str) -> None:
    ticks = load_ticks(data_path("pkg:replay/NIFTY-I_20221118.csv.gz"), "NIFTY").ticks
    out, aggregator = aggregate(ticks, timeframe_s)

    frame = pd.DataFrame(
        [(t.ts_ns, t.price, t.price, t.price, t.price, t.qty, t.oi) for t in ticks],
        columns=["ts", "open", "high", "low", "close", "volume", "oi"],
    )
    index = pd.to_datetime(frame.pop("ts"), unit="ns", utc=True).dt.tz_convert("Asia/Kolkata")
    frame.index = pd.DatetimeIndex(index).as_unit("ns")

    assert as_tuples(out) == pandas_ohlcv(frame, rule)
    assert len(out) == 375 // (timeframe_s // 60)
    assert out[0].ts_ns == ist_ns(2022, 11, 18, 9, 15)
    assert out[0].open == 18396.0  # the file's first row, not the sorted lowest price
    assert sum(b.volume for b in out) == sum(t.qty for t in ticks)
    assert aggregator.late_ticks == aggregator.bad_ticks == 0


def test_tick_aggregator_returns_previous_bar_when_a_later_bucket_starts() -> None:
    aggregator = TickBarAggregator("X", 60)
    assert aggregator.on_tick(tick(0, 100.0, 2, oi=5)) is None
    assert aggregator.on_tick(tick(30, 102.0, 3, oi=6)) is None
    assert aggregator.on_tick(tick(59, 99.0, 1, oi=7)) is None
    done = aggregator.on_tick(tick(61, 101.0, 4, oi=8))

    assert done == Bar("X", ist_ns(2022, 11, 18, 9, 15), 60, 100.0, 102.0, 99.0, 99.0, 6, 7)
    assert aggregator.partial() == Bar(
        "X", ist_ns(2022, 11, 18, 9, 16), 60, 101, 101, 101, 101, 4, 8
    )
    flushed = aggregator.flush()
    assert flushed is not None and flushed.ts_ns == ist_ns(2022, 11, 18, 9, 16)
    assert aggregator.flush() is None and aggregator.partial() is None


def test_tick_aggregator_ignores_late_ticks_without_touching_closed_bars() -> None:
    aggregator = TickBarAggregator("X", 60)
    aggregator.on_tick(tick(0, 100.0))
    first = aggregator.on_tick(tick(60, 101.0))
    assert aggregator.on_tick(tick(10, 500.0, 1000)) is None  # belongs to the closed 09:15 bar
    assert aggregator.on_tick(tick(61, 102.0)) is None
    last = aggregator.flush()
    assert aggregator.on_tick(tick(90, 1.0)) is None  # older than the flushed bar's end

    assert first is not None and (first.high, first.volume) == (100.0, 1)
    assert last is not None and (last.high, last.close, last.volume) == (102.0, 102.0, 2)
    assert aggregator.late_ticks == 2


def test_tick_aggregator_skips_bad_prices_and_splits_days() -> None:
    aggregator = TickBarAggregator("X", 900)
    aggregator.on_tick(tick(0, 100.0))
    for price in (float("nan"), float("inf"), 0.0, -5.0):
        assert aggregator.on_tick(tick(1, price)) is None
    done = aggregator.on_tick(tick(2, 101.0, day=(2022, 11, 21)))

    assert aggregator.bad_ticks == 4
    assert done is not None and (done.high, done.low) == (100.0, 100.0)
    assert done.ts_ns == ist_ns(2022, 11, 18, 9, 15)
    assert aggregator.partial().ts_ns == ist_ns(2022, 11, 21, 9, 15)


def test_tick_aggregator_with_one_hour_bars_cuts_at_the_close() -> None:
    aggregator = TickBarAggregator("X", 3600)
    aggregator.on_tick(Tick("X", ist_ns(2022, 11, 18, 15, 29, 59), 100.0, 1))
    done = aggregator.on_tick(Tick("X", ist_ns(2022, 11, 18, 15, 30, 0), 101.0, 1))

    assert done is not None and done.ts_ns == ist_ns(2022, 11, 18, 15, 15)
    assert aggregator.partial().ts_ns == ist_ns(2022, 11, 18, 15, 30)
