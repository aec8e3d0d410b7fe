"""Ranking (net P&L after charges, then Sharpe, then drawdown), results.csv and
best.yaml, on hand-made results."""

from __future__ import annotations

import csv
import io
import itertools
import math
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from kitetui.backtest.runner import apply_overrides, parse_param
from kitetui.config import parse_config, read_config_data
from kitetui.market.replay import DateWindow
from kitetui.sweep.point import PointResult
from kitetui.sweep.results import (
    best_of,
    csv_rows,
    failures,
    inert,
    ranked,
    rerun_command,
    results_table,
    tied,
    unpriced,
    write_best,
    write_csv,
)

WINDOW = DateWindow(date(2023, 4, 5), date(2023, 4, 6))


def _result(
    index, net, sharpe=None, drawdown="0", error="", fold=0, phase="sweep", trades=4, unpriced=0
):
    return PointResult(
        index,
        (("fast", str(5 + index)), ("slow", "21")),
        fold,
        phase,
        WINDOW,
        error,
        net_pnl=None if error else Decimal(net),
        sharpe=sharpe,
        max_drawdown=None if error else Decimal(drawdown),
        trades=0 if error else trades,
        wins=0 if error or not trades else 2,
        win_rate=None if error or not trades else 0.5,
        charges=None if error or not trades else Decimal("40"),
        unpriced_fills=unpriced,
        unpriced_from="2016-08-16" if unpriced else "",
    )


def test_ranked_by_net_then_sharpe_then_drawdown_failed_last() -> None:
    results = [
        _result(0, "100", sharpe=1.0, drawdown="50"),
        _result(1, "", error="invalid params: fast (30) must be less than slow (21)"),
        _result(2, "250.5"),
        _result(3, "100", sharpe=2.0, drawdown="80"),
        _result(4, "100", sharpe=2.0, drawdown="10"),
        _result(5, "100", sharpe=None),
        _result(6, "-3"),
    ]
    assert [r.index for r in ranked(results)] == [2, 4, 3, 0, 5, 6, 1]
    assert best_of(results).index == 2
    assert best_of([results[1]]) is None
    assert failures(results) == [
        "✗ point 1 (fast=6 slow=21): invalid params: fast (30) must be less than slow (21)"
    ]


def test_a_point_that_never_traded_ranks_after_every_point_that_did_and_is_never_best() -> None:
    """The probe's F3: ₹0 from a slow average that never warmed up beat every losing
    point and became best.yaml, and a walk-forward chose it in every fold."""
    results = [
        _result(0, "0", trades=0),
        _result(1, "-500", sharpe=-1.0),
        _result(2, "", error="invalid params"),
        _result(3, "-20", sharpe=-0.1),
        _result(4, "0", trades=0),
    ]
    assert [r.index for r in ranked(results)] == [3, 1, 0, 4, 2]
    assert best_of(results).index == 3
    assert best_of([results[0], results[2], results[4]]) is None  # nothing traded


def test_a_point_with_unpriced_fills_ranks_after_every_fully_priced_one_and_is_never_best():
    """Probe: a sweep of 2016 data (before the rate table's first row) charged nothing
    and ranked "net P&L after charges" that was gross, saying nothing; a point charged
    for only part of its fills would beat one that paid them all."""
    results = [
        _result(0, "900", unpriced=12),  # charged nothing for 12 fills: not net
        _result(1, "-500", sharpe=-1.0),
        _result(2, "0", trades=0),
        _result(3, "-20", sharpe=-0.1),
    ]
    assert [r.index for r in ranked(results)] == [3, 1, 0, 2]
    assert best_of(results).index == 3
    assert best_of([results[0], results[2]]) is None  # what traded was not all priced
    held = _result(4, "300", trades=0, unpriced=1)  # one unpriced entry, still open
    assert [r.index for r in ranked([results[2], held])] == [4, 2]  # it did trade
    line = unpriced(results)
    assert line.startswith("* 1 point(s) traded with 12 fill(s) the rate table could not price")
    assert "the first on 2016-08-16" in line
    assert unpriced([results[1], results[3]]) == ""
    header, rows = csv_rows(results, ["fast"])
    column = header.index("unpriced_fills")
    assert header[column - 1] == "charges"
    assert [(row[1], row[column]) for row in rows] == [(3, 0), (1, 0), (0, 12), (2, 0)]
    out = io.StringIO()
    Console(file=out, width=200).print(results_table(results, ["fast"]))
    assert "₹900.00 *" in out.getvalue() and "₹-20.00 *" not in out.getvalue()


def test_a_tie_is_only_with_points_of_the_same_pool_that_measured_every_figure_alike() -> None:
    best = _result(0, "100", sharpe=1.0)
    same = _result(1, "100", sharpe=1.0)
    other_fold = _result(2, "100", sharpe=1.0, fold=1, phase="in")
    sharper = _result(3, "100", sharpe=1.5)  # the same net is not the same result
    assert tied(best, [best, same, other_fold, sharper]).startswith(
        "tied on every figure with 1 other point(s) (fast=6 slow=21)"
    )
    assert tied(best, [best, other_fold, sharper]) == ""


def test_a_name_is_inert_only_when_every_comparison_of_its_values_measured_the_same() -> None:
    def point(index, fast, slow, net):
        return PointResult(
            index, (("fast", fast), ("slow", slow)), 0, "sweep", None, "", Decimal(net), trades=1
        )

    results = [point(0, "5", "20", "1"), point(1, "5", "30", "2"), point(2, "7", "20", "1")]
    assert inert(results, ["fast", "slow"]) == ["fast"]  # slow=30 has one fast: no comparison
    assert inert([*results, point(3, "7", "30", "3")], ["fast", "slow"]) == []
    assert inert(results[:1], ["fast", "slow"]) == []


def test_csv_has_a_column_a_grid_name_and_exact_money(tmp_path: Path) -> None:
    results = [_result(0, "-10.125", sharpe=-0.5), _result(1, "12.5"), _result(2, "", error="x")]
    write_csv(tmp_path / "results.csv", results, ["fast", "slow"])
    path = tmp_path / "results.csv"
    assert path.stat().st_mode & 0o777 == 0o600
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [(r["rank"], r["point"], r["fast"], r["net_pnl"], r["status"]) for r in rows] == [
        ("1", "1", "6", "12.50", "ok"),
        ("2", "0", "5", "-10.125", "ok"),
        ("", "2", "7", "", "failed"),
    ]
    assert rows[1]["sharpe"] == "-0.5000"
    assert rows[2]["error"] == "x"
    assert (rows[0]["from"], rows[0]["to"]) == ("2023-04-05", "2023-04-06")


def test_csv_ranks_within_each_fold_and_phase() -> None:
    results = [
        _result(0, "5", fold=1, phase="in"),
        _result(1, "9", fold=1, phase="in"),
        _result(1, "-2", fold=1, phase="out"),
        _result(0, "3", fold=2, phase="in"),
    ]
    header, rows = csv_rows(results, ["fast"])
    assert header[:7] == ["rank", "point", "fold", "phase", "from", "to", "fast"]
    assert [(row[0], row[2], row[3]) for row in rows] == [
        (1, 1, "in"),
        (2, 1, "in"),
        (1, 1, "out"),
        (1, 2, "in"),
    ]


def test_best_yaml_is_the_config_with_the_points_params(small_config, small, tmp_path) -> None:
    best = PointResult(
        3,
        (("fno.fast", "5"), ("bb_std", "1.5")),
        0,
        "sweep",
        None,
        "",
        net_pnl=Decimal("12.5"),
        trades=2,
    )
    config = apply_overrides(small, None, [parse_param("fno.fast=5"), parse_param("bb_std=1.5")])
    path = tmp_path / "best.yaml"
    raw = read_config_data(small_config)
    write_best(path, raw, config, best, str(small_config), "ranked first")
    text = path.read_text()
    assert text.startswith(f"# kitetui sweep of {small_config}: ranked first\n")
    assert "# best point: fno.fast=5 bb_std=1.5; net P&L ₹12.50" in text
    loaded = parse_config(yaml.safe_load(text), path)
    engines = {e.name: e for e in loaded.engines}
    assert engines["fno"].params == {"fast": 5, "slow": 21}
    assert engines["equity"].params == {"bb_std": 1.5}
    assert loaded.model_dump(exclude={"engines"}) == small.model_dump(exclude={"engines"})


def test_best_yaml_says_how_to_run_the_point_again_on_its_window(small_config, small, tmp_path):
    best = _result(0, "12.5")
    path = tmp_path / "best.yaml"
    write_best(path, read_config_data(small_config), small, best, "s.yaml", "ranked first")
    text = path.read_text()
    assert "# measured on 2023-04-05 … 2023-04-06\n" in text
    again = "kitetui backtest -c THIS_FILE --from 2023-04-05 --to 2023-04-06"
    assert f"# run it again: {again}\n" in text


@pytest.mark.parametrize(
    ("window", "command"),
    [
        (None, "kitetui backtest -c b.yaml"),
        (DateWindow(date(2023, 4, 5), None), "kitetui backtest -c b.yaml --from 2023-04-05"),
        (DateWindow(None, date(2023, 4, 6)), "kitetui backtest -c b.yaml --to 2023-04-06"),
    ],
)
def test_rerun_command_carries_the_window(window, command) -> None:
    assert rerun_command("b.yaml", window) == command


def test_table_shows_param_values_as_text_not_markup_or_escapes() -> None:
    hostile = PointResult(0, (("mode", "[/x]\x1b[31m"),), 0, "sweep", None, "", Decimal(1))
    out = io.StringIO()
    Console(file=out, width=200).print(results_table([hostile], ["mode"]))
    assert "[/x]\\x1b[31m" in out.getvalue()  # shown as typed, the escape escaped
    assert "\x1b" not in out.getvalue()


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_terminal_wraps_figures_whole_never_cuts_them(width) -> None:
    big = PointResult(
        0,
        (("fast", "5"), ("slow", "50")),
        0,
        "sweep",
        None,
        "",
        Decimal("-11466176.1976"),
        sharpe=-27.95,
        max_drawdown=Decimal("11555207.68"),
        trades=2128,
        wins=475,
        win_rate=0.2232,
        wall_s=3.4,
    )
    out = io.StringIO()
    Console(file=out, width=width).print(results_table([big], ["fast", "slow"]))
    drawn = out.getvalue()
    assert "…" not in drawn  # ₹-11,466,… would read as another amount
    cells = [line.split("│")[4].strip() for line in drawn.splitlines() if line.startswith("│")]
    assert "".join(cells) == "₹-11,466,176.20"


_nets = st.one_of(st.none(), st.decimals(-1000, 1000, places=2))
_sharpes = st.one_of(st.none(), st.sampled_from([-1.5, 0.0, 0.7, 2.0]))


@given(st.lists(st.tuples(_nets, _sharpes, st.decimals(0, 50, places=1)), max_size=30))
def test_ranking_is_total_failed_last_and_ties_go_by_sharpe_then_drawdown(rows) -> None:
    results = [
        PointResult(
            i,
            (("fast", str(i)),),
            0,
            "sweep",
            None,
            "" if net is not None else "failed",
            net,
            sharpe=sharpe,
            max_drawdown=None if net is None else drawdown,
        )
        for i, (net, sharpe, drawdown) in enumerate(rows)
    ]
    order = ranked(results)
    assert sorted(r.index for r in order) == list(range(len(results)))  # each point once
    ok = [r for r in order if r.ok]
    assert order[: len(ok)] == ok  # failed points after every point that ran
    for a, b in itertools.pairwise(ok):
        assert a.net_pnl >= b.net_pnl
        if a.net_pnl == b.net_pnl:
            sa = -math.inf if a.sharpe is None else a.sharpe
            sb = -math.inf if b.sharpe is None else b.sharpe
            assert sa >= sb
            if sa == sb:
                assert (a.max_drawdown, a.index) < (b.max_drawdown, b.index)
    assert ranked(list(reversed(results))) == order  # the input's order plays no part
    _header, table = csv_rows(results, ["fast"])
    assert [row[0] for row in table] == [*range(1, len(ok) + 1), *[""] * (len(order) - len(ok))]
