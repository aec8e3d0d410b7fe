"""End to end: two symbols that signal on the same bar under ``max_open_positions: 1``
enter once, and the other entry is RiskBlocked (probe B, finding 1).

The replay is generated here: SBIN and HDFCBANK follow the same path at their own
price levels (a slow drift down, then a climb), so ``ema_cross`` crosses up on the same
minute in both and the one batch carries both entries. Before the working entries
counted, both went out and filled: two positions against a limit of one.
"""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from kitetui.backtest.runner import BacktestRequest, run_backtest
from kitetui.config import load_config

DAY = datetime.fromisoformat("2023-04-05T09:15:00+05:30")
LEVELS = {"SBIN": 500.0, "HDFCBANK": 1600.0}
MINUTES = 120

CONFIG = """\
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
    - {{symbol: SBIN, path: "{folder}/SBIN.csv"}}
    - {{symbol: HDFCBANK, path: "{folder}/HDFCBANK.csv"}}
instruments: ["pkg:replay/nse_instruments.csv"]
risk:
  max_open_positions: 1
  max_gross_exposure: 100000000
  max_order_value: 10000000
engines:
  - name: equity
    kind: equity
    symbols: [SBIN, HDFCBANK]
    margin_rate: 0.2
    timeframe: 1m
    strategy: ema_cross
    params: {{fast: 3, slow: 8}}
"""


def _path(minute: int) -> float:
    """The shared shape, as a fraction of the level: down 0.05% a minute, then up 0.3%."""
    if minute < 40:
        return 1.0 - 0.0005 * minute
    return 0.98 + 0.003 * (minute - 40)


def _write_candles(folder: Path, symbol: str, level: float) -> None:
    lines = ["Date,open,high,low,close,volume"]
    close = level * _path(0)
    for minute in range(MINUTES):
        stamp = (DAY + timedelta(minutes=minute)).isoformat(sep=" ")
        opened, close = close, round(level * _path(minute) / 0.05) * 0.05
        high, low = max(opened, close) + 0.1, min(opened, close) - 0.1
        lines.append(f"{stamp},{opened:.2f},{high:.2f},{low:.2f},{close:.2f},1000")
    (folder / f"{symbol}.csv").write_text("\n".join(lines) + "\n")


def test_two_entries_on_one_bar_with_room_for_one_place_one(tmp_path: Path) -> None:
    for symbol, level in LEVELS.items():
        _write_candles(tmp_path, symbol, level)
    config_path = tmp_path / "two.yaml"
    config_path.write_text(CONFIG.format(folder=tmp_path))
    request = BacktestRequest(
        config=load_config(config_path),
        config_path=str(config_path),
        database=tmp_path / "bt.db",
        out=None,
        window=None,
    )
    assert run_backtest(request, stdout=io.StringIO()) == 0
    with sqlite3.connect(tmp_path / "bt.db") as db:
        entries = db.execute(
            "SELECT symbol, ts_ns FROM orders WHERE purpose = 'ENTRY' ORDER BY ts_ns"
        ).fetchall()
        blocked = db.execute(
            "SELECT symbol, ts_ns, message, data FROM events WHERE kind = 'RiskBlocked'"
        ).fetchall()
    assert len(entries) == 1, entries
    (entered, at), others = entries[0], set(LEVELS) - {entries[0][0]}
    limit = [row for row in blocked if json.loads(row[3])["rule"] == "max_open_positions"]
    assert [(symbol, ts) for symbol, ts, _, _ in limit] == [(others.pop(), at)]
    assert "1 more with an entry working, limit 1" in limit[0][2]
    assert entered in LEVELS
