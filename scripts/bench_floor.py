"""What one bar costs in CPython before the pipeline touches it: the floor of a per-bar design.

    .venv/bin/python scripts/bench_floor.py --bars DIR [--strategy ema_cross]
                                            [--params '{"fast": 20, "slow": 50}'] [--repeats 5]

Issue 13 asks 300,000 bars/s through the whole backtest pipeline, ~3.3 µs a bar. Before
optimising the pipeline further this measures what a bar costs with nothing else running,
on the very objects and code the run uses, so the target can be weighed against the
design that has to meet it:

* ``loop``: ``for bar in bars: pass`` over bars already built (the interpreter's floor);
* ``build``: iterating the loader's lazy columns (``load_candles(..., lazy=True)``), which
  builds one frozen ``Bar`` a bar, as the replay does;
* ``strategy``: ``Strategy.on_bar(bar, 0)`` for each bar, one strategy object a symbol, as
  the engines call it (indicators, the decision, no journal, no broker);
* ``ema``: one ``EMA.update(close)`` a bar (the cheapest indicator).

``DIR`` holds ``SYMBOL.csv`` 1-minute candle files, e.g. the folder
``scripts/bench_peers.py --keep DIR`` writes (``DIR/bars``). Figures are medians over
``--repeats`` of wall µs a bar, and the bars/s each step alone would allow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchlib.report import machine_header
from benchlib.stats import median

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import strategies  # noqa: E402,F401  (registers the built-ins)
from kitetui.domain import Bar  # noqa: E402
from kitetui.market.indicators import EMA  # noqa: E402
from kitetui.market.loaders import load_candles  # noqa: E402
from strategies.registry import get_strategy  # noqa: E402


def _load(folder: Path) -> tuple[list[Sequence[Bar]], list[Bar]]:
    lazy, built = [], []
    for path in sorted(folder.glob("*.csv")):
        result = load_candles(path, path.stem, lazy=True)
        lazy.append(result.bars)
        built.extend(result.bars)
    built.sort(key=lambda bar: (bar.ts_ns, bar.symbol))
    return lazy, built


def _timed(step: Callable[[], int], repeats: int) -> float:
    """Median wall µs a bar of ``step`` (which returns how many bars it went through)."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = step()
        samples.append((time.perf_counter() - start) * 1e6 / count)
    return median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", required=True, type=Path, help="folder of SYMBOL.csv candles")
    parser.add_argument("--strategy", default="ema_cross")
    parser.add_argument("--params", default="{}", help="the strategy's params as JSON")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    lazy, bars = _load(args.bars)
    if not bars:
        parser.error(f"{args.bars}: no SYMBOL.csv candle files")
    cls = get_strategy(args.strategy)
    params = cls.Params(**json.loads(args.params))
    symbols = {bar.symbol for bar in bars}

    def loop() -> int:
        for _bar in bars:
            pass
        return len(bars)

    def build() -> int:
        count = 0
        for stream in lazy:
            for _bar in stream:
                count += 1
        return count

    def strategy() -> int:
        per_symbol = {symbol: cls(params) for symbol in symbols}
        for bar in bars:
            per_symbol[bar.symbol].on_bar(bar, 0)
        return len(bars)

    def ema() -> int:
        average = EMA(20)
        for bar in bars:
            average.update(bar.close)
        return len(bars)

    for line in machine_header("The per-bar floor (scripts/bench_floor.py)", REPO):
        print(line)
    print(f"{len(bars):,} bars, {len(lazy)} symbols, strategy {args.strategy} {params}")
    total = 0.0
    for name, step in (("loop", loop), ("build", build), ("strategy", strategy), ("ema", ema)):
        micros = _timed(step, args.repeats)
        if name in ("build", "strategy"):
            total += micros
        print(f"{name:>10}  {micros:6.2f} µs/bar   ceiling {1e6 / micros:>12,.0f} bars/s")
    print(f"{'build+strategy':>14}  {total:6.2f} µs/bar   ceiling {1e6 / total:>8,.0f} bars/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
