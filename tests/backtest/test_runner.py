"""``kitetui backtest`` and ``kitetui report`` from the command line, on a slice of the
bundled demo data (an F&O day and an equity week: seconds), and the overrides."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from cli_helpers import run_kitetui

from kitetui.backtest.errors import OutputError
from kitetui.backtest.files import REPORT_FILES
from kitetui.backtest.runner import (
    BacktestRequest,
    apply_overrides,
    parse_param,
    run_backtest,
    write_report_apart,
)
from kitetui.config import ConfigError, load_config
from kitetui.desk import Desk
from kitetui.store.verify import verify_database
from kitetui.supervisor import Supervisor
from tests.backtest_helpers import SMALL, WINDOW
from tests.store.journal_support import pages_a_vacuum_saves


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, config_file: Path) -> dict:
    """One backtest of the slice, run once for the module's tests."""
    folder = tmp_path_factory.mktemp("bt")
    db, out = folder / "bt.db", folder / "report"
    done = run_kitetui(
        "backtest", "-c", str(config_file), "--db", str(db), "--out", str(out), timeout=180
    )
    assert done.returncode == 0, done.stderr
    return {"db": db, "out": out, "proc": done, "folder": folder}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_backtest_writes_every_report_file_private(finished) -> None:
    out: Path = finished["out"]
    for name in (*REPORT_FILES, "report.html"):
        assert (out / name).is_file(), name
        assert (out / name).stat().st_mode & 0o777 == 0o600
    assert out.stat().st_mode & 0o777 == 0o700
    assert finished["proc"].stderr == ""
    assert "report.html" in finished["proc"].stdout
    assert "net P&L" in finished["proc"].stdout


def test_backtest_leaves_its_own_database_compacted_and_whole(finished, tmp_path) -> None:
    """A backtest's database holding that one run is compacted as it closes
    (store/compact.py): a ``VACUUM INTO`` copy is no smaller, and every chain verifies."""
    db = tmp_path / "bt.db"  # a copy: the module's other tests read the file untouched
    shutil.copyfile(finished["db"], db)
    assert pages_a_vacuum_saves(db) == 0
    assert verify_database(db, trust_seal=False).rows["orders"] > 0


def test_backtest_report_json_adds_up_with_its_csv_files(finished) -> None:
    out: Path = finished["out"]
    report = json.loads((out / "report.json").read_text())
    for key in ("gross_pnl", "net_pnl", "charges", "trades", "win_rate", "avg_win", "avg_loss",
                "profit_factor", "expectancy", "max_drawdown", "sharpe", "sortino", "exposure",
                "turnover", "by_strategy", "by_symbol", "by_day"):  # fmt: skip
        assert key in report, key
    assert set(report["charges"]) == {"brokerage", "stt", "exchange", "sebi", "stamp", "gst",
                                      "dp", "total"}  # fmt: skip
    assert set(report["max_drawdown"]) >= {"amount", "duration_days"}
    assert report["trades"] > 0 and set(report["by_strategy"]) == {"fno", "equity"}
    assert report["by_strategy"]["fno"]["strategy"] == "ema_cross"
    assert report["net_pnl"] == pytest.approx(report["gross_pnl"] - report["charges"]["total"])
    for part in ("by_strategy", "by_symbol", "by_day"):
        assert sum(p["net_pnl"] for p in report[part].values()) == pytest.approx(report["net_pnl"])
    fills = _csv(out / "fills.csv")
    assert list(fills[0])[:9] == ["ts", "fill_id", "order_tag", "engine", "exchange",
                                  "tradingsymbol", "product", "side", "quantity"]  # fmt: skip
    assert all(row["ts"].endswith("+05:30") for row in fills)
    assert {row["exchange"] for row in fills} == {"NFO", "NSE"}
    charged = sum(Decimal(row["charges"]) for row in fills)
    assert float(charged) == pytest.approx(report["charges"]["total"], abs=1e-6)
    # brokerage is per order: no order pays more than ₹20 however it filled
    per_order: dict[str, Decimal] = {}
    for row in fills:
        per_order[row["order_tag"]] = per_order.get(row["order_tag"], 0) + Decimal(row["brokerage"])
    assert max(per_order.values()) <= 20
    trades = _csv(out / "trades.csv")
    assert sum(Decimal(t["net"]) for t in trades) == pytest.approx(
        Decimal(str(report["net_pnl"])), abs=Decimal("0.00001")
    )
    closed = sum(1 for t in trades if t["status"] == "CLOSED")
    assert closed == report["trades"]
    equity = _csv(out / "equity.csv")
    last = equity[-1]
    assert Decimal(last["equity_gross"]) - 1_000_000 == pytest.approx(
        Decimal(str(report["gross_pnl"])), abs=Decimal("0.01")
    )
    # the curve is net of what the desk took off: each order's total rounded to paise
    # (the journal's charges_paise), a few paise from the exact sum (docs/charges.md)
    conn = sqlite3.connect(f"file:{finished['db']}?mode=ro&immutable=1", uri=True)
    try:  # read-only, closed: the module's other tests hold the database unchanged
        (taken,) = conn.execute("SELECT sum(charges_paise) FROM fills").fetchone()
    finally:
        conn.close()
    assert Decimal(last["charges_paid"]) == Decimal(taken) / 100
    assert abs(Decimal(last["charges_paid"]) - charged) < Decimal("0.05")
    for row in equity:
        gross, paid, net = (Decimal(row[k]) for k in ("equity_gross", "charges_paid", "equity_net"))
        assert gross - paid == net, row
    orders = _csv(out / "orders.csv")
    assert {o["tag"] for o in orders} >= set(per_order)


def test_report_rebuilds_the_same_report_without_touching_the_database(finished) -> None:
    db: Path = finished["db"]
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db.parent.glob("bt.db*")}
    again = finished["folder"] / "again"
    done = run_kitetui("report", "latest", "--db", str(db), "--out", str(again))
    assert done.returncode == 0, done.stderr
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db.parent.glob("bt.db*")}
    assert after == before  # nothing changed, nothing created beside it (no -wal, no -shm)
    assert not (db.parent / "bt.db-wal").exists()
    for name in REPORT_FILES:
        assert (again / name).read_bytes() == (finished["out"] / name).read_bytes(), name
    listed = run_kitetui("report", "--list", "--db", str(db))
    run_id = json.loads((again / "report.json").read_text())["run"]["run_id"]
    assert listed.returncode == 0 and run_id in listed.stdout
    prefix = run_kitetui("report", run_id[:12], "--db", str(db), "--out", str(again))
    assert prefix.returncode == 0, prefix.stderr


def test_the_backtest_prints_the_summary_its_report_process_made(finished) -> None:
    """The report is built in a process of its own: what the backtest prints is the
    summary ``kitetui report`` prints for that run, but for the folder it names."""
    again = finished["folder"] / "rep0rt"  # as long as "report": the box is as wide
    done = run_kitetui("report", "latest", "--db", str(finished["db"]), "--out", str(again))
    assert done.returncode == 0, done.stderr
    printed = finished["proc"].stdout
    assert "net P&L" in printed and f"report: {finished['out']}" in printed
    assert printed.replace(str(finished["out"]), str(again)) == done.stdout


def _dies(*_args: object) -> str:
    os._exit(9)


def test_a_report_process_that_dies_is_one_line_naming_what_builds_it_again(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    with pytest.raises(OutputError) as refused:
        write_report_apart(tmp_path / "bt.db", "RUN1", tmp_path / "rep", out, job=_dies)
    assert str(refused.value) == (
        f"{tmp_path / 'rep'}: the report's process died before it finished; "
        f"`kitetui report RUN1 --db {tmp_path / 'bt.db'}` writes it again"
    )
    assert out.getvalue() == ""


def _sigint(*_args: object) -> str:
    return repr(signal.getsignal(signal.SIGINT))


def test_the_report_process_leaves_a_ctrl_c_to_the_backtest(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: the report process ignores
    it from its first instant (no traceback of its own), and this process's own handler
    is back once the report process has started."""
    before = signal.getsignal(signal.SIGINT)
    out = io.StringIO()
    write_report_apart(tmp_path / "bt.db", "RUN1", tmp_path / "rep", out, job=_sigint)
    assert out.getvalue() == repr(signal.SIG_IGN)
    assert signal.getsignal(signal.SIGINT) is before


def test_backtest_with_defaults_writes_backtests_db_and_reports_in_the_working_folder(
    tmp_path: Path, config_file: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kitetui", "backtest", "-c", str(config_file), *WINDOW],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "backtests.db").is_file()
    assert not (tmp_path / "state.db").exists()
    (folder,) = (tmp_path / "reports").iterdir()
    report = json.loads((folder / "report.json").read_text())
    assert report["run"]["window"] == {"from": "2023-04-05", "to": "2023-04-06"}
    assert report["run"]["trading_days"] == 2
    assert report["run"]["data_from"].startswith("2023-04-05")


def test_backtest_strategy_and_params_override_the_config(
    tmp_path: Path, config_file: Path
) -> None:
    out = tmp_path / "r"
    done = run_kitetui(
        "backtest", "-c", str(config_file), "--db", str(tmp_path / "b.db"), "--out", str(out),
        "--from", "2023-04-05", "--to", "2023-04-05",
        "--strategy", "ema_cross", "--param", "fast=5", "--param", "equity.slow=8",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    engines = json.loads((out / "report.json").read_text())["run"]["engines"]
    assert {e["name"]: (e["strategy"], e["params"]) for e in engines} == {
        "fno": ("ema_cross", {"fast": 5, "slow": 21}),  # already ema_cross: its config's slow
        "equity": ("ema_cross", {"fast": 5, "slow": 8}),
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--param", "fast=abc"], "error: --param fast=abc: expected a whole number, got 'abc'"),
        (["--param", "fno.nosuch=1"], "error: --param fno.nosuch=1: ema_cross has no param"),
        (["--param", "fast"], "error: --param fast: expected NAME=VALUE"),
        (["--param", "fast=30"], "error: --param: fno.params: fast (30) must be less than slow"),
        (["--strategy", "nope"], "error: --strategy nope: unknown strategy 'nope'"),
        (["--from", "2023-04-06", "--to", "2023-04-05"], "error: --from/--to: the window ends"),
        (["--from", "2030-01-01"], "--from/--to: no replay data in 2030-01-01 … the end"),
        (["--param", "fast=5", "--param", "fast=7"], "error: --param fast=7: set twice"),
    ],
)
def test_backtest_refuses_bad_arguments_with_one_line_and_exit_2(
    tmp_path: Path, config_file: Path, args: list[str], expected: str
) -> None:
    db = tmp_path / "b.db"
    done = run_kitetui(
        "backtest", "-c", str(config_file), "--db", str(db), "--out", str(tmp_path / "r"), *args
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert not (tmp_path / "r").exists()


def test_backtest_refuses_an_out_that_is_a_file_before_it_runs(
    tmp_path: Path, config_file: Path
) -> None:
    out = tmp_path / "a-file"
    out.write_text("mine")
    db = tmp_path / "b.db"
    done = run_kitetui("backtest", "-c", str(config_file), "--db", str(db), "--out", str(out))
    assert done.returncode == 2
    assert done.stderr == f"error: {out}: cannot write the report (a file, not a folder)\n"
    assert not db.exists()  # refused before the run, not after it
    assert out.read_text() == "mine"


def test_backtest_refuses_a_date_that_is_not_one(tmp_path: Path, config_file: Path) -> None:
    done = run_kitetui("backtest", "-c", str(config_file), "--from", "2023-13-01")
    assert done.returncode == 2 and "not a date (YYYY-MM-DD)" in done.stderr


def test_report_refusals_name_what_is_wrong(tmp_path: Path, finished) -> None:
    missing = run_kitetui("report", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no such database" in missing.stderr
    unknown = run_kitetui("report", "nosuchrun", "--db", str(finished["db"]))
    assert unknown.returncode == 2 and "no run 'nosuchrun'" in unknown.stderr
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    refused = run_kitetui("report", "--db", str(junk))
    assert refused.returncode == 3, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert junk.read_bytes() == b"not a database at all" * 100


def test_report_into_a_folder_with_a_planted_link_writes_nothing(tmp_path: Path, finished) -> None:
    """Refused at fills.csv's turn, the report had already written report.json there."""
    out = tmp_path / "shared"
    out.mkdir()
    victim = tmp_path / "victim.csv"
    victim.write_text("mine")
    (out / "fills.csv").symlink_to(victim)
    done = run_kitetui("report", "--db", str(finished["db"]), "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"error: {out}: cannot write the report (fills.csv is a symbolic link; a report "
        "never writes through it)\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["fills.csv"]
    assert victim.read_text() == "mine"


def test_overrides_keep_config_params_without_strategy(config_file: Path) -> None:
    config = load_config(config_file)
    changed = apply_overrides(config, None, [parse_param("fno.slow=30")])
    assert changed.engines[0].params == {"fast": 9, "slow": 30}
    assert changed.engines[1].params == {}
    assert config.engines[0].params == {"fast": 9, "slow": 21}  # the original is untouched


def test_overrides_convert_bools_and_refuse_a_param_no_engine_has(config_file: Path) -> None:
    config = load_config(config_file)
    changed = apply_overrides(config, "ema_cross", [parse_param("allow_short=false")])
    assert [e.params for e in changed.engines] == [
        {"fast": 9, "slow": 21, "allow_short": False},  # it ran ema_cross: its params kept
        {"allow_short": False},  # it ran mean_reversion: ema_cross's defaults
    ]
    with pytest.raises(ConfigError, match="no engine's strategy has a param 'zzz'"):
        apply_overrides(config, None, [parse_param("zzz=1")])


def test_an_engine_scoped_param_wins_whatever_the_order(config_file: Path) -> None:
    config = load_config(config_file)  # with --strategy ema_cross both engines have fast
    for order in (["fno.fast=5", "fast=7"], ["fast=7", "fno.fast=5"]):
        changed = apply_overrides(config, "ema_cross", [parse_param(text) for text in order])
        assert changed.engines[0].params == {"fast": 5, "slow": 21}, order
        assert changed.engines[1].params["fast"] == 7, order


def test_a_plain_param_every_engine_sets_for_itself_is_refused(config_file: Path) -> None:
    """The probe's F4: ``fno.fast=5 fast=7`` with only fno having ``fast``: the plain one
    set nothing, silently (in a sweep, three identical points of an axis that did not
    matter)."""
    config = load_config(config_file)
    for order in (["fno.fast=5", "fast=7"], ["fast=7", "fno.fast=5"]):
        with pytest.raises(ConfigError) as caught:
            apply_overrides(config, None, [parse_param(text) for text in order])
        assert str(caught.value) == (
            "--param fast=7: sets nothing: fno.fast wins over it on every engine with it"
        )


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["fast=30", "fast=10"], "--param fast=10: set twice (also --param fast=30)"),
        (["fno.slow=30", "fno.slow=40"], "--param fno.slow=40: set twice (also --param fno.slow"),
    ],
)
def test_the_same_param_twice_is_refused(config_file: Path, texts, message) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(load_config(config_file), None, [parse_param(t) for t in texts])
    assert str(caught.value).startswith(message)


def _damaged_sbin(folder: Path) -> Path:
    """The small config with SBIN's file damaged: one unparseable row, one repeated, one
    bar with a wick from 1 to 9999."""
    import gzip

    from kitetui.market.loaders import data_path

    lines = gzip.decompress(data_path("pkg:replay/SBIN.csv.gz").read_bytes()).decode()
    rows = lines.splitlines()
    rows[500] = rows[500].replace(",", ",x", 1)  # its open: not a number
    rows.insert(522, rows[521])  # a minute twice
    day, opened, _, _, close, volume = rows[600].split(",")
    rows[600] = ",".join((day, opened, "9999", "1", close, volume))  # a wick no stock has
    (folder / "sbin.csv").write_text("\n".join(rows) + "\n")
    config = folder / "damaged.yaml"
    config.write_text(SMALL.replace('"pkg:replay/SBIN.csv.gz"', f'"{folder / "sbin.csv"}"'))
    return config


def test_the_datas_warnings_are_in_the_report(tmp_path: Path) -> None:
    """The probe's F5: the loader's warnings reached the journal only; report.json's
    ``warnings`` was empty and the HTML said nothing of a skipped row."""
    config = _damaged_sbin(tmp_path)
    out = tmp_path / "report"
    done = run_kitetui(
        "backtest", "-c", str(config), *WINDOW, "--db", str(tmp_path / "bt.db"),
        "--out", str(out), timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = json.loads((out / "report.json").read_text())["warnings"]
    assert any(w.startswith("RowSkipped: sbin.csv: 1 row(s) skipped") for w in warnings)
    assert any(w.startswith("DuplicateBarsDropped: sbin.csv") for w in warnings)
    # the wick is counted; the warm-up's own BarSkipped (DEBUG: not ready) are not
    assert "1 bar(s) refused by the price validator (BarSkipped)" in warnings
    assert "RowSkipped: sbin.csv" in (out / "report.html").read_text()
    assert "warning: RowSkipped: sbin.csv" in done.stdout
    sweep = run_kitetui(
        "sweep", "-c", str(config), *WINDOW, "--grid", "fno.fast=8,9", "--workers", "2",
        "--out", str(tmp_path / "sweep"), timeout=180,
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    said = [line for line in sweep.stderr.splitlines() if line.startswith("warning: sbin.csv")]
    assert len(said) == 2  # once each, not once a point


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_backtest_stopped_by_a_signal_writes_its_report_and_exits_128_plus_it(
    tmp_path: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """A backtest cut short by Ctrl-C or SIGTERM still writes the report of what ran,
    and says so, but exits 130 or 143: a script tells it from a finished one."""
    serve, process = Desk.serve, Supervisor._process
    desks: list[Desk] = []

    async def serving(desk: Desk, on_market=None):
        desks.append(desk)
        return await serve(desk, on_market=on_market)

    async def processing(supervisor: Supervisor, ts: int, batch, warm: bool) -> None:
        await process(supervisor, ts, batch, warm)
        if supervisor.summary is not None and supervisor.summary.batches == 30:
            desks[0]._stop_on(signum)  # what the loop's handler calls on the signal

    monkeypatch.setattr(Desk, "serve", serving)
    monkeypatch.setattr(Supervisor, "_process", processing)
    out = io.StringIO()
    request = BacktestRequest(
        config=load_config(config_file),
        config_path=str(config_file),
        database=tmp_path / "bt.db",
        out=tmp_path / "report",
        window=None,
    )
    assert run_backtest(request, stdout=out) == 128 + signum
    name = signal.Signals(signum).name
    assert f"stopped by {name} before the end of its data" in out.getvalue()
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["run"]["status"] == "STOPPED"


def test_backtest_into_a_folder_holding_another_runs_report_says_it_replaces_it(
    tmp_path: Path, config_file: Path, finished
) -> None:
    out = tmp_path / "report"
    shutil.copytree(finished["out"], out)
    before = json.loads((out / "report.json").read_text())["run"]["run_id"]
    done = run_kitetui(
        "backtest", "-c", str(config_file), "--db", str(tmp_path / "bt.db"), "--out", str(out),
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = json.loads((out / "report.json").read_text())["run"]["run_id"]
    assert after != before
    assert f"{out}: replacing the report of run {before}" in done.stderr


def test_naming_the_strategy_an_engine_already_runs_keeps_its_config_params(
    config_file: Path,
) -> None:
    """``--strategy ema_cross`` on an ema_cross 9/21 engine ran 20/50, the defaults."""
    config = load_config(config_file)
    assert config.engines[0].strategy == "ema_cross"
    changed = apply_overrides(config, "ema_cross", [parse_param("fno.slow=30")])
    assert changed.engines[0].params == {"fast": 9, "slow": 30}


def test_a_run_refused_for_its_data_keeps_the_reason(tmp_path: Path) -> None:
    """probe B 11: a backtest refused for bad data (exit 4) stayed FAILED with no event;
    ``kitetui runs`` and ``kitetui report`` could not say why."""
    (tmp_path / "sbin.csv").write_text("date,open,high,low,close,volume\n")
    config = tmp_path / "empty.yaml"
    config.write_text(SMALL.replace('"pkg:replay/SBIN.csv.gz"', f'"{tmp_path / "sbin.csv"}"'))
    db = tmp_path / "bt.db"
    done = run_kitetui(
        "backtest", "-c", str(config), *WINDOW, "--db", str(db), "--out", str(tmp_path / "r")
    )
    assert done.returncode == 4, done.stderr
    reason = done.stderr.strip().removeprefix("error: ")
    listed = run_kitetui("runs", "--db", str(db))
    assert f"failed: the run did not start: {reason}" in listed.stdout, listed.stdout
    report = run_kitetui("report", "--db", str(db), "latest", "--out", str(tmp_path / "rep"))
    assert report.returncode == 0, report.stderr
    warnings = json.loads((tmp_path / "rep" / "report.json").read_text())["warnings"]
    assert warnings[0] == f"the run failed (SupervisorFailed): the run did not start: {reason}"
