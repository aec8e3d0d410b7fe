"""``kitetui``'s own subcommands as a user types them (kitetui/cli.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cli_helpers import run_kitetui

LIVE_EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "live.example.yaml"


def test_replay_of_a_missing_recording_names_that_file_and_creates_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "r.db"
    missing = tmp_path / "missing.ticks.gz"
    proc = run_kitetui("replay", str(missing), "--db", str(db))
    assert proc.returncode == 4
    assert proc.stderr == f"error: {missing}: file not found\n"
    assert "instruments.csv" not in proc.stderr
    assert not db.exists()


def test_replay_of_a_recording_without_its_master_says_which_is_missing(tmp_path: Path) -> None:
    recording = tmp_path / "s.ticks.gz"
    recording.write_bytes(b"")
    proc = run_kitetui("replay", str(recording), "--db", str(tmp_path / "r.db"))
    assert proc.returncode == 4
    assert proc.stderr.startswith(f"error: {recording}: the instrument master saved beside")
    assert "s.instruments.csv" in proc.stderr


def test_check_config_of_the_live_example_checks_it_without_arming() -> None:
    proc = run_kitetui("check-config", str(LIVE_EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(
        "ok (live, not armed: `run` needs allow_live: true and --live)"
    )


def test_run_of_an_unarmed_live_config_is_refused_naming_allow_live(tmp_path: Path) -> None:
    proc = run_kitetui(
        "run", "--config", str(LIVE_EXAMPLE), "--no-ui", "--live", "--db", str(tmp_path / "x.db")
    )
    assert proc.returncode == 2
    assert "allow_live: mode live places real orders" in proc.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_symbol_in_two_masters_is_a_warning_in_check_config_and_an_event_in_the_run(
    tmp_path: Path,
) -> None:
    """The first master's SBIN wins, as a repeat within one master; the dropped row of
    the second is said by check-config and journaled by the run, naming both files."""
    master = tmp_path / "m3.csv"
    master.write_text(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
        "tick_size,lot_size,instrument_type,segment,exchange\n"
        "1234,3045,SBIN,STATE BANK OF INDIA,0.0,,0.0,0.10,5,EQ,NSE,NSE\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        "mode: replay\n"
        "replay: {speed: max, sources: [{symbol: SBIN, path: 'pkg:replay/SBIN.csv.gz'}]}\n"
        f"instruments: ['{master}', 'pkg:replay/nse_instruments.csv']\n"
        "engines: [{name: equity, kind: equity, symbols: [SBIN], timeframe: 3m,\n"
        "           strategy: mean_reversion, params: {}}]\n"
    )
    said = "nse_instruments.csv: 1 row(s) repeat an exchange:tradingsymbol of m3.csv"

    checked = run_kitetui("check-config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert f"warning: DuplicateInstrumentsDropped: {said}" in checked.stderr

    db = tmp_path / "r.db"
    ran = run_kitetui("run", "-c", str(config), "--db", str(db), "--no-ui", timeout=120)
    assert ran.returncode == 0, ran.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT message FROM events WHERE kind = 'DuplicateInstrumentsDropped'"
        ).fetchall()
    assert [message.startswith(said) for (message,) in rows] == [True]


def test_two_overlapping_sources_of_one_symbol_are_exit_4_in_check_config_and_run(
    tmp_path: Path,
) -> None:
    """Interleaved into one series they would corrupt bars, indicators and stops."""
    rows = "".join(f"2023-04-03 09:{15 + i:02d}:00+05:30,500,501,499,500,10\n" for i in range(30))
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("date,open,high,low,close,volume\n" + rows)
    config = tmp_path / "c.yaml"
    config.write_text(
        "mode: replay\n"
        f"replay: {{speed: max, sources: [{{symbol: SBIN, path: '{tmp_path}/a.csv'}},\n"
        f"                                {{symbol: SBIN, path: '{tmp_path}/b.csv'}}]}}\n"
        "instruments: ['pkg:replay/nse_instruments.csv']\n"
        "engines: [{name: equity, kind: equity, symbols: [SBIN], timeframe: 3m,\n"
        "           strategy: mean_reversion, params: {}}]\n"
    )
    said = f"error: {tmp_path}/b.csv: SBIN candles overlap those of {tmp_path}/a.csv"
    checked = run_kitetui("check-config", str(config))
    ran = run_kitetui("run", "-c", str(config), "--no-ui", "--db", str(tmp_path / "r.db"))
    for proc in (checked, ran):
        assert proc.returncode == 4, proc.stderr
        assert proc.stderr.startswith(said) and proc.stderr.count("\n") == 1


def test_arguments_and_paths_that_were_tracebacks_are_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    """An empty --db, a speed beyond the config's bounds (inf, 1e400, 1e-320 crawled),
    a NUL in the config's database path."""
    from kitetui.cli import DEFAULT_CONFIG

    for args, says in (
        (("run", "--no-ui", "--db", ""), "--db must name a file"),
        (("run", "--no-ui", "--speed", "inf"), "speed must be from 0.01 to 100,000"),
        (("run", "--no-ui", "--speed", "1e400"), "speed must be from 0.01 to 100,000"),
        (("run", "--no-ui", "--speed", "1e-320"), "speed must be from 0.01 to 100,000"),
        (("run", "--no-ui", "--speed", "60xxx"), "speed must be a number"),
    ):
        proc = run_kitetui(*args, "--config", str(DEFAULT_CONFIG))
        assert proc.returncode == 2, (args, proc.stderr)
        assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    for bad in ("a\x00b.db",):
        config = tmp_path / "c.yaml"
        text = DEFAULT_CONFIG.read_text().replace("database: state.db", f"database: {bad!r}")
        assert text != DEFAULT_CONFIG.read_text()
        config.write_text(text.replace("'", '"'))
        proc = run_kitetui("check-config", str(config))
        assert proc.returncode == 2 and "database" in proc.stderr, proc.stderr
        assert "NUL" in proc.stderr, proc.stderr


def test_a_database_path_with_a_tilde_is_under_home_not_a_folder_named_tilde(
    tmp_path: Path,
) -> None:
    import yaml

    from kitetui.cli import DEFAULT_CONFIG
    from kitetui.config import parse_config
    from kitetui.supervisor import Supervisor

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config = parse_config({**data, "database": "~/desk.db"}, "t.yaml")
    supervisor = Supervisor(config, "t.yaml", speed=None)
    assert supervisor.db_path == Path.home() / "desk.db"


def test_a_run_of_another_config_says_the_unfinished_run_it_did_not_resume(
    tmp_path: Path,
) -> None:
    """probe k33: a desk stopped (Ctrl-C) with a position, then started on an edited
    config, began a new run without a word: the stopped run, and its position, could
    never be resumed again (only the newest run of a mode is), and nothing said so."""
    import asyncio

    from kitetui.store.database import open_database
    from kitetui.store.runs import create_run, finish_run

    db = tmp_path / "r.db"
    old = "20240101T000000-aaaaaa"

    async def stopped_run_holding_sbin() -> None:
        conn = await open_database(db)
        try:
            await create_run(conn, old, "replay", "old.yaml", "0" * 16)
            await conn.execute(
                "INSERT INTO positions VALUES (?, 'SBIN', 'equity', 'MIS', 10, 500, 501, 0, 0)",
                (old,),
            )
            await conn.commit()
            await finish_run(conn, old, "STOPPED")
        finally:
            await conn.close()

    asyncio.run(stopped_run_holding_sbin())
    config = tmp_path / "c.yaml"
    config.write_text(
        "mode: replay\n"
        "replay: {speed: max, sources: [{symbol: SBIN, path: 'pkg:replay/SBIN.csv.gz'}]}\n"
        "instruments: ['pkg:replay/nse_instruments.csv']\n"
        "engines: [{name: equity, kind: equity, symbols: [SBIN], timeframe: 3m,\n"
        "           strategy: mean_reversion, params: {}}]\n"
    )
    ran = run_kitetui("run", "-c", str(config), "--db", str(db), "--no-ui", timeout=120)
    assert ran.returncode == 0, ran.stderr
    said = (
        f"run {old} (STOPPED) was not resumed: it was started with another config (or "
        "--from/--to); "
        "a new run began, and the old one can no longer be resumed. It still held SBIN +10"
    )
    assert f"note      {said}" in ran.stdout, ran.stdout
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT level, message FROM events WHERE kind = 'PreviousRunLeft'"
        ).fetchall()
    assert rows == [("WARNING", said)]


def test_the_report_of_a_desk_run_names_each_engines_strategy(tmp_path: Path) -> None:
    """probe k33: ``kitetui report`` of a ``kitetui run`` (not a backtest) left the
    strategy column blank in its summary, report.json and HTML: it read the strategies
    from the ``BacktestStarted`` event alone, which only a backtest journals."""
    import json

    config = tmp_path / "c.yaml"
    config.write_text(
        "mode: replay\n"
        "replay: {speed: max, sources: [{symbol: SBIN, path: 'pkg:replay/SBIN.csv.gz'}]}\n"
        "instruments: ['pkg:replay/nse_instruments.csv']\n"
        "engines: [{name: equity, kind: equity, symbols: [SBIN], timeframe: 3m,\n"
        "           strategy: mean_reversion, params: {}}]\n"
    )
    db = tmp_path / "r.db"
    ran = run_kitetui("run", "-c", str(config), "--db", str(db), "--no-ui", timeout=120)
    assert ran.returncode == 0, ran.stderr
    out = tmp_path / "rep"
    done = run_kitetui("report", "--db", str(db), "--out", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["by_strategy"]["equity"]["strategy"] == "mean_reversion"
    assert report["run"]["engines"][0]["strategy"] == "mean_reversion"
