"""A sweep's results: ranked, as a terminal table, as results.csv and as best.yaml.

Ranking: net P&L after charges, highest first; a tie goes to the higher Sharpe (a
point without one after any with one), then the smaller drawdown, then the grid
order. A point that never traded (no fill: its slow average never warmed up, its
threshold was never met) measured nothing, and its ₹0 would beat every losing point:
it ranks after every point that traded, and is never best (``best_of``: no best.yaml,
and a walk-forward fold without a point that traded chooses nothing). Nor is a point
with fills the rate table could not price (data from before its first row, a segment
it lacks): they were charged nothing, so its "net" is net of only some charges and
would beat a point that paid them all; it ranks after every point whose fills were
all priced, and ``unpriced`` says so in one line. Failed points rank last, in grid
order, each with its reason. results.csv has every point (the
table shows the best few); best.yaml is the sweep's config with the best point's
params written into its engines, so
``kitetui backtest -c best.yaml`` runs that point again. Both are rewritten as
points finish (at most once a second) and when the sweep ends or is stopped, so an
interrupted sweep keeps what finished.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kitetui.backtest.files import csv_text, money
from kitetui.config import AppConfig, one_line
from kitetui.market.replay import DateWindow
from kitetui.private_files import write_private
from kitetui.sweep.point import PointResult

if TYPE_CHECKING:  # rich is imported by the functions that draw (a refusal never does)
    from rich.table import Table
    from rich.text import Text


def traded(result: PointResult) -> bool:
    """Whether the point's run filled anything: a closed trade, or a fill of a position
    still open at its end (charged, or one the rate table could not price)."""
    return result.ok and (result.trades > 0 or bool(result.charges) or result.unpriced_fills > 0)


def measured(result: PointResult) -> bool:
    """Whether the point traded and every fill of it was charged: its net P&L is net of
    all its charges, comparable with another such point's."""
    return traded(result) and not result.unpriced_fills


def rank_key(result: PointResult) -> tuple[Any, ...]:
    if not result.ok or result.net_pnl is None:
        return (3, 0, 0, 0, result.fold, result.index)
    sharpe = result.sharpe if result.sharpe is not None else -math.inf
    drawdown = result.max_drawdown if result.max_drawdown is not None else Decimal(0)
    tier = 0 if measured(result) else 1 if traded(result) else 2
    return (tier, -result.net_pnl, -sharpe, drawdown, result.fold, result.index)


def ranked(results: Sequence[PointResult]) -> list[PointResult]:
    return sorted(results, key=rank_key)


def best_of(results: Sequence[PointResult]) -> PointResult | None:
    """The first-ranked point that traded with every fill charged; None when none did
    (or none ran)."""
    candidates = [r for r in results if measured(r)]
    return ranked(candidates)[0] if candidates else None


def unpriced(results: Sequence[PointResult]) -> str:
    """One line when points traded with fills the rate table could not price, or "":
    their net leaves those charges out, which is why they rank after the others and
    none of them is best."""
    short = [r for r in results if r.ok and r.unpriced_fills]
    if not short:
        return ""
    fills = sum(r.unpriced_fills for r in short)
    first = min(r.unpriced_from for r in short)
    return (
        f"* {len(short):,} point(s) traded with {fills:,} fill(s) the rate table could not "
        f"price (the first on {first}; a point's backtest names each order and why): "
        "their net P&L leaves those charges out, so they rank after every point whose "
        "fills were all priced and none of them is best"
    )


def _figures(result: PointResult) -> tuple[Any, ...]:
    """What a point measured: two points with these equal are one result twice."""
    return (
        result.net_pnl,
        result.gross_pnl,
        result.charges,
        result.unpriced_fills,
        result.sharpe,
        result.max_drawdown,
        result.trades,
        result.wins,
    )


def tied(best: PointResult, results: Sequence[PointResult]) -> str:
    """When other points of ``best``'s pool measured exactly what it did, one line that
    says so (or ""): the grid cannot tell them apart, and only the grid's order put
    ``best`` first, which best.yaml and the summary would otherwise present as a
    finding."""
    same = [
        r
        for r in results
        if r is not best and r.ok and (r.fold, r.phase) == (best.fold, best.phase)
        if _figures(r) == _figures(best)
    ]
    if not same:
        return ""
    shown = "; ".join(r.label for r in same[:3]) + ("; …" if len(same) > 3 else "")
    return (
        f"tied on every figure with {len(same):,} other point(s) ({shown}): the grid "
        "cannot tell them apart, only its order put this one first"
    )


def inert(results: Sequence[PointResult], names: Sequence[str]) -> list[str]:
    """The grid names whose values changed nothing: wherever the other names' values
    were the same (and the fold and phase), each of its values measured the same
    figures. Its engine had no data in the window, say, or its strategy never reads
    it: a trader would otherwise take the best point's value of it for a choice."""
    found = []
    ran = [r for r in results if r.ok]
    for name in names:
        groups: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
        sizes: dict[tuple[Any, ...], int] = {}
        for r in ran:
            key = (r.fold, r.phase, tuple(p for p in r.params if p[0] != name))
            groups.setdefault(key, set()).add(_figures(r))
            sizes[key] = sizes.get(key, 0) + 1
        compared = [key for key, size in sizes.items() if size > 1]
        if compared and all(len(groups[key]) == 1 for key in compared):
            found.append(name)
    return found


def inert_lines(results: Sequence[PointResult], names: Sequence[str]) -> list[str]:
    """``inert``'s names, one line each, for below the table."""
    return [
        f"note: {name} changed nothing: each of its values measured the same figures "
        "(its engine had no data in the window, or its strategy does not read it)"
        for name in inert(results, names)
    ]


COLUMNS = (
    "rank",
    "point",
    "fold",
    "phase",
    "from",
    "to",
    "params",
    "net_pnl",
    "gross_pnl",
    "charges",
    "unpriced_fills",
    "sharpe",
    "max_drawdown",
    "trades",
    "wins",
    "win_rate",
    "wall_s",
    "status",
    "error",
    "run_id",
    "database",
    "worker",
)


def rupees(value: Decimal | None) -> str:
    """For people: ₹1,234.56 (the CSV keeps the exact figure)."""
    return "–" if value is None else f"₹{value:,.2f}"


def _float(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def csv_rows(results: Sequence[PointResult], names: Sequence[str]) -> tuple[list[str], list[list]]:
    """The CSV's header (one column a grid name among the fixed ones) and its rows,
    ranked within each (fold, phase)."""
    header = list(COLUMNS[:6]) + list(names) + list(COLUMNS[7:])
    rows = []
    groups: dict[tuple[int, str], int] = {}
    phases = {"sweep": 0, "in": 0, "out": 1}  # a fold's in-sample rows, then its pick
    in_order = sorted(results, key=lambda r: (r.fold, phases.get(r.phase, 2), rank_key(r)))
    for result in in_order:
        group = (result.fold, result.phase)
        groups[group] = groups.get(group, 0) + 1
        params = dict(result.params)
        window = result.window
        rows.append(
            [
                groups[group] if result.ok else "",
                result.index,
                result.fold or "",
                result.phase,
                window.first.isoformat() if window and window.first else "",
                window.last.isoformat() if window and window.last else "",
                *(params.get(name, "") for name in names),
                money(result.net_pnl),
                money(result.gross_pnl),
                money(result.charges),
                result.unpriced_fills if result.ok else "",
                _float(result.sharpe),
                money(result.max_drawdown),
                result.trades if result.ok else "",
                result.wins if result.ok else "",
                _float(result.win_rate),
                f"{result.wall_s:.2f}",
                "ok" if result.ok else "failed",
                result.error,
                result.run_id,
                result.database,
                result.worker,
            ]
        )
    return header, rows


def write_csv(path: Path, results: Sequence[PointResult], names: Sequence[str]) -> None:
    """results.csv, replaced whole (a reader never sees half a file: ``write_private``)."""
    header, rows = csv_rows(results, names)
    write_private(path, csv_text(header, rows))


def claim_csv(path: Path, names: Sequence[str]) -> None:
    """results.csv created with its header, only if it does not exist yet
    (``FileExistsError`` otherwise, a symlink included): the sweep's claim on its folder."""
    header, _ = csv_rows([], names)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8", newline="") as fh:
        fh.write(csv_text(header, []))


def best_config_data(raw: Any, config: AppConfig) -> Any:
    """The config file's own data with each engine's strategy and params as in
    ``config`` (the best point's), everything else as the user wrote it."""
    data = dict(raw)
    engines = []
    for written, engine in zip(raw["engines"], config.engines, strict=True):
        entry = dict(written)
        entry["strategy"] = engine.strategy
        entry["params"] = dict(engine.params)
        engines.append(entry)
    data["engines"] = engines
    return data


def write_best(
    path: Path,
    raw: Any,
    config: AppConfig,
    best: PointResult,
    source: str,
    note: str,
    tie: str = "",
) -> None:
    """best.yaml: the config with the best point's params, and a header saying whence
    (and, ``tie``, that other points measured the same)."""
    window = best.window
    lines = [
        f"# kitetui sweep of {source}: {note}",
        f"# best point: {best.label}; net P&L {rupees(best.net_pnl)}, "
        f"Sharpe {_float(best.sharpe, 2) or '-'}, {best.trades} trades",
    ]
    if tie:
        lines.append(f"# {one_line(tie)}")
    if window is not None:
        lines.append(f"# measured on {window.describe()}")
    lines.append(f"# run it again: {rerun_command('THIS_FILE', window)}")
    body = yaml.safe_dump(best_config_data(raw, config), sort_keys=False, allow_unicode=True)
    write_private(path, "\n".join(lines) + "\n" + body)


def rerun_command(path: str, window: DateWindow | None) -> str:
    """The backtest that gives a point's figures again: best.yaml alone replays all the
    data, so a point measured on a window needs that window's flags too."""
    flags = ""
    if window is not None and window.first is not None:
        flags += f" --from {window.first.isoformat()}"
    if window is not None and window.last is not None:
        flags += f" --to {window.last.isoformat()}"
    return f"kitetui backtest -c {path}{flags}"


def _cell(value: str) -> Text:
    """A param's value as typed, shown as text: never read as rich markup (``[/x]``
    would raise) nor passed to the terminal raw (an escape sequence)."""
    from rich.text import Text

    return Text(one_line(value))


def _rupees(value: Decimal | None, *, short: bool = False) -> Text:
    """``short``: the figure leaves out charges the rate table could not price, marked
    ``*`` as ``unpriced``'s line below the table explains."""
    from rich.text import Text

    if value is None:
        return Text("–")
    tone = "green" if value > 0 else "red" if value < 0 else ""
    return Text(f"₹{value:,.2f}" + (" *" if short else ""), style=tone)


#: How a figure too wide for its column is shown on a narrow terminal: wrapped whole
#: onto a second line, never cut to ``₹-11,466,…`` (which reads as another amount).
FIGURE = "fold"


def results_table(results: Sequence[PointResult], names: Sequence[str], top: int = 20) -> Table:
    """The best ``top`` points that ran, then the first ``top`` failed ones (``failures``
    says why; results.csv has them all). The drawdown is the closed-trade one."""
    from rich.table import Table
    from rich.text import Text

    table = Table()
    table.add_column("#", justify="right")
    for name in names:
        table.add_column(name, justify="right", overflow=FIGURE)
    for column in ("net P&L", "Sharpe", "closed DD", "trades", "win rate", "time"):
        table.add_column(column, justify="right", overflow=FIGURE)
    ordered = ranked(results)
    ok = [r for r in ordered if r.ok][:top]
    for rank, result in enumerate(ok, 1):
        params = dict(result.params)
        table.add_row(
            str(rank),
            *(_cell(params.get(name, "")) for name in names),
            _rupees(result.net_pnl, short=bool(result.unpriced_fills)),
            _float(result.sharpe, 2) or "–",
            f"₹{result.max_drawdown:,.2f}" if result.max_drawdown is not None else "–",
            str(result.trades),
            f"{result.win_rate * 100:.1f}%" if result.win_rate is not None else "–",
            f"{result.wall_s:.1f}s",
        )
    for result in [r for r in ordered if not r.ok][:top]:
        params = dict(result.params)
        table.add_row(
            Text("✗", style="red"),
            *(_cell(params.get(name, "")) for name in names),
            Text("failed", style="red"),
        )
    return table


def failures(results: Sequence[PointResult], top: int | None = None) -> list[str]:
    """One line a failed point: which (and in a walk-forward, on which fold's days),
    and why (below the table: reasons are long); past ``top`` of them, one line that
    says how many more results.csv holds (a grid of 9,999 refused combinations)."""
    phases = {"in": "in sample", "out": "out of sample"}
    failed = sorted((r for r in results if not r.ok), key=lambda r: (r.fold, r.phase, r.index))
    lines = []
    for r in failed[:top]:
        where = f", fold {r.fold} {phases.get(r.phase, r.phase)}" if r.fold else ""
        lines.append(f"✗ point {r.index} ({r.label}{where}): {r.error}")
    if top is not None and len(failed) > top:
        lines.append(f"✗ … and {len(failed) - top:,} more failed points (results.csv: each reason)")
    return lines
