"""``kitetui sweep`` from the command line: a few points of the small config in two
workers, the table, results.csv and a best.yaml that ``kitetui backtest`` runs again
to the same figures; a walk-forward; Ctrl-C keeping what finished; one-line refusals."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest
from cli_helpers import run_kitetui

from kitetui.backtest.build import build_report
from kitetui.backtest.ledger import load_ledger
from tests.backtest_helpers import SMALL, WINDOW


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, small_config: Path) -> dict:
    out = tmp_path_factory.mktemp("sweep") / "out"
    done = run_kitetui(
        "sweep",
        "-c",
        str(small_config),
        "--grid",
        "equity.bb_std=1.5:2.5:1",
        "--grid",
        "fno.fast=9,30",
        *WINDOW,
        "--workers",
        "2",
        "--out",
        str(out),
        timeout=180,
    )
    return {"proc": done, "out": out}


def test_sweep_ranks_every_point_and_reports_the_failed_ones(swept) -> None:
    done, out = swept["proc"], swept["out"]
    assert done.returncode == 0, done.stderr
    rows = _rows(out / "results.csv")
    assert len(rows) == 4
    ok = [r for r in rows if r["status"] == "ok"]
    assert [r["fno.fast"] for r in ok] == ["9", "9"]
    nets = [Decimal(r["net_pnl"]) for r in ok]
    assert nets == sorted(nets, reverse=True)
    assert [r["rank"] for r in ok] == ["1", "2"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["error"] for r in failed} == {
        "invalid params: fno.params: fast (30) must be less than slow (21)"
    }
    assert "4 point(s)" in done.stdout and "2 failed" in done.stdout
    assert "on 2 local workers" in done.stdout
    assert "✗ point 1 (equity.bb_std=1.5 fno.fast=30): invalid params" in done.stdout
    assert "[4/4]" in done.stderr  # redirected: one progress line a point
    assert (out / "results.csv").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["best.yaml", "results.csv"]


def test_best_yaml_runs_again_as_a_backtest_to_the_same_figures(swept, tmp_path) -> None:
    out = swept["out"]
    best = _rows(out / "results.csv")[0]
    report = tmp_path / "report"
    done = run_kitetui(
        "backtest",
        "-c",
        str(out / "best.yaml"),
        *WINDOW,
        "--db",
        str(tmp_path / "bt.db"),
        "--out",
        str(report),
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    total = build_report(load_ledger(tmp_path / "bt.db", "latest")).total
    assert total.net_pnl == Decimal(best["net_pnl"])  # exact: results.csv keeps every digit
    assert total.trades == int(best["trades"]) > 0
    assert json.loads((report / "report.json").read_text())["trades"] == total.trades


def test_walk_forward_reports_out_of_sample_runs(small_config, tmp_path) -> None:
    out = tmp_path / "wf"
    done = run_kitetui(
        "sweep",
        "-c",
        str(small_config),
        "--grid",
        "equity.bb_std=1.5,2.5",
        "--walk-forward",
        "3d:2d",
        "--workers",
        "2",
        "--out",
        str(out),
        "--keep-runs",
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(out / "results.csv")
    # 6 trading days with data (18 Nov 2022; 3, 5, 6, 10, 11 Apr 2023): 2 folds
    ins = [r for r in rows if r["phase"] == "in"]
    outs = [r for r in rows if r["phase"] == "out"]
    assert [(r["fold"], r["from"], r["to"]) for r in outs] == [
        ("1", "2023-04-06", "2023-04-10"),
        ("2", "2023-04-11", "2023-04-11"),
    ]
    for fold in outs:
        best_in = next(r for r in ins if r["fold"] == fold["fold"] and r["rank"] == "1")
        assert fold["equity.bb_std"] == best_in["equity.bb_std"]  # the in-sample pick
        assert best_in["to"] < fold["from"]
    assert len(ins) == 4
    assert "out-of-sample only" in done.stdout
    kept = sorted(p.name for p in (out / "runs").glob("*.db"))
    assert kept == [
        "f01-in-point-0000.db",
        "f01-in-point-0001.db",
        "f01-out-point-0000.db" if outs[0]["point"] == "0" else "f01-out-point-0001.db",
        "f02-in-point-0000.db",
        "f02-in-point-0001.db",
        "f02-out-point-0000.db" if outs[1]["point"] == "0" else "f02-out-point-0001.db",
    ]
    assert all(r["database"].endswith(".db") for r in rows)
    assert not (out / ".points").exists()
    report = run_kitetui("report", "--db", outs[0]["database"], "--out", str(tmp_path / "r"))
    assert report.returncode == 0, report.stderr
    assert outs[0]["run_id"] in report.stdout


def _equity_only(folder: Path) -> Path:
    """The small config's equity engine alone (mean_reversion on two stocks): its
    ``bb_std`` of 9 or 10 never meets a band in these days, so it never trades."""
    path = folder / "equity.yaml"
    equity = SMALL.index("  - name: equity")
    path.write_text(SMALL[: SMALL.index("  - name: fno")] + SMALL[equity:])
    return path


def test_points_that_never_traded_are_never_best(tmp_path) -> None:
    """The probe's F3: a point that never traded scored ₹0, beat every losing point and
    became best.yaml, and a walk-forward chose it in every fold, saying nothing."""
    config = _equity_only(tmp_path)
    plain = run_kitetui(
        "sweep", "-c", str(config), "--grid", "bb_std=10,2", "--workers", "2",
        "--out", str(tmp_path / "plain"), timeout=180,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    rows = _rows(tmp_path / "plain" / "results.csv")
    assert [(r["bb_std"], r["rank"]) for r in rows] == [("2", "1"), ("10", "2")]
    assert Decimal(rows[0]["net_pnl"]) < 0 and int(rows[0]["trades"]) > 0  # a loss, yet first
    assert "best: bb_std=2" in plain.stdout
    walk = run_kitetui(
        "sweep", "-c", str(config), "--grid", "bb_std=9,10", "--walk-forward", "3d:2d",
        "--workers", "2", "--out", str(tmp_path / "walk"), timeout=180,
    )  # fmt: skip
    assert walk.returncode == 0, walk.stderr
    assert {r["phase"] for r in _rows(tmp_path / "walk" / "results.csv")} == {"in"}
    assert "fold 1: no in-sample point traded" in walk.stdout  # each fold says so
    assert "fold 2: no in-sample point traded" in walk.stdout
    assert "best: none" in walk.stdout
    assert not (tmp_path / "walk" / "best.yaml").exists()


def _finished(out: Path) -> int:
    """The points results.csv holds (it is there, with its header, from the start)."""
    try:
        return len(_rows(out / "results.csv"))
    except FileNotFoundError:
        return 0


def _start_long_sweep(
    small_config: Path, out: Path, *more: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A 45-point sweep in its own process group, returned once a point has finished
    (its workers are then running the next ones)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kitetui",
            "sweep",
            "-c",
            str(small_config),
            "--grid",
            "equity.bb_std=1:3:0.25",
            "--grid",
            "equity.rsi_low=20:40:5",
            "--workers",
            "2",
            "--out",
            str(out),
            *more,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not _finished(out) and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(str(proc.communicate()))
        time.sleep(0.2)
    return proc


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _running(pids: list[int]) -> list[int]:
    """Those of ``pids`` still alive (not gone, not a zombie), after up to 30 s."""
    deadline = time.monotonic() + 30
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (lambda proc: os.killpg(proc.pid, signal.SIGINT), 130),  # a terminal's Ctrl-C
        (lambda proc: os.kill(proc.pid, signal.SIGTERM), 143),  # kill, a service manager
        (lambda proc: os.killpg(proc.pid, signal.SIGTERM), 143),  # to the whole group
    ],
    ids=["ctrl-c", "sigterm", "sigterm-group"],
)
def test_a_stop_signal_ends_the_sweep_cleanly_and_keeps_finished_points(
    small_config, tmp_path, send, code
) -> None:
    out = tmp_path / "stopped"
    proc = _start_long_sweep(small_config, out, "--keep-runs")
    try:
        workers = _children(proc.pid)
        assert workers
        send(proc)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    rows = _rows(out / "results.csv")
    assert 1 <= len(rows) < 45
    assert all(r["status"] == "ok" for r in rows)  # finished points only, none cut short
    assert "INTERRUPTED" in stdout
    assert (out / "best.yaml").exists()
    assert sorted(p.name for p in out.iterdir()) == ["best.yaml", "results.csv", "runs"]
    # the points in flight went with their journals (probe F7.1): each kept one has a row
    kept = {p.name.split(".db")[0] + ".db" for p in (out / "runs").iterdir()}
    assert kept == {Path(r["database"]).name for r in rows}
    assert _running(workers) == []  # no worker left behind


def test_sigterm_stops_a_ray_sweep_as_ctrl_c_does(small_config, tmp_path, request) -> None:
    pytest.importorskip("ray")
    # Ray's session files and token in a short temporary folder (socket paths < 107 chars)
    scratch = Path(tempfile.mkdtemp(prefix="kr", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    # TMPDIR too: the points keep the sweep's data in the temp dir (not /tmp's)
    env = {**os.environ, "RAY_TMPDIR": str(scratch), "HOME": str(scratch), "TMPDIR": str(scratch)}
    out = tmp_path / "ray"
    proc = _start_long_sweep(small_config, out, "--ray", env=env)
    try:
        os.kill(proc.pid, signal.SIGTERM)  # ray.init installs a SIGTERM handler of its own
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert "INTERRUPTED" in stdout
    assert all(r["status"] == "ok" for r in _rows(out / "results.csv"))


def test_workers_of_a_killed_sweep_end_themselves(small_config, tmp_path) -> None:
    """...and remove the journals of the points they were running, with the sweep's
    scratch folder: nothing but the sweep's files is left in --out."""
    out = tmp_path / "killed"
    proc = _start_long_sweep(small_config, out)
    workers = _children(proc.pid)
    deadline = time.monotonic() + 30
    while not list(out.glob(".points-*/kitetui-point-*")):  # a point in flight
        assert time.monotonic() < deadline, "no point's journal appeared"
        time.sleep(0.01)
    proc.kill()  # kill -9: the sweep cannot stop them, they must notice
    proc.communicate(timeout=60)
    left = _running(workers)
    for pid in left:  # not left running when the test fails
        os.kill(pid, signal.SIGKILL)
    assert workers
    assert left == []
    # Each worker's point journal is removed by a cleaner once that worker has ended
    # (best.yaml only once a finished point traded: which finish first varies).
    wanted = {"best.yaml", "results.csv"}
    while {p.name for p in out.iterdir()} - wanted and time.monotonic() < deadline + 30:
        time.sleep(0.05)
    left_in_out = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert "results.csv" in left_in_out and set(left_in_out) <= wanted, left_in_out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "fast"], "error: --grid fast: expected NAME=START:STOP:STEP or NAME=a,b,c"),
        (["--grid", "nope=1,2"], "error: --grid nope=1,2: no engine's strategy has a param"),
        (["--grid", "fast=1:5:0"], "error: --grid fast=1:5:0: STEP must be positive, got 0"),
        ([], "error: --grid: give at least one --grid NAME=VALUES"),
        (["--grid", "fast=5,9", "--ray", "nowhere"], "error: --ray nowhere: expected ray://"),
        (["--grid", "fast=5,9", "--walk-forward", "9"], "error: --walk-forward 9: expected"),
        (
            ["--grid", "fast=5,9", "--walk-forward", "30:5"],
            "error: --walk-forward: 6 trading day(s) of data: a fold needs more than 30",
        ),
        (["--grid", "fast=5,9", "--from", "2023-04-09", "--to", "2023-04-01"], "error: --from"),
        (
            ["--grid", "fast=5,9", "--from", "2024-01-01"],
            "error: {config}: --from/--to: no replay data in 2024-01-01 … the end (the data "
            "cover 2022-11-18 … 2023-04-11)",
        ),
        (
            ["--grid", "fast=5,9", "--walk-forward", "1:1", "--to", "2022-01-31"],
            "error: {config}: --from/--to: no replay data in the start … 2022-01-31",
        ),
        (["--grid", "fast=0,9"], "error: --grid fast=0,9: fast=0: Input should be greater"),
        (["--grid", "fast=30,40"], "error: --grid: every point is refused, e.g. fast=30: fno."),
        (["--grid", "fast=1:1e999999999:1"], "error: --grid fast=1:1e999999999:1: a range's"),
        (["--grid", "fast=5,9", "--workers", "100000"], "error: --workers 100000: at most"),
        (
            ["--grid", "equity.bb_std=1:3.5:0.001", "--walk-forward", "1:1"],
            "error: --walk-forward: 2,501 points × 5 folds = 12,505 runs (at most 10,000 a sweep)",
        ),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(small_config, tmp_path, args, message) -> None:
    out = tmp_path / "never"
    done = run_kitetui("sweep", "-c", str(small_config), *args, "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.startswith(message.format(config=small_config)), done.stderr
    assert done.stderr.count("\n") == 1
    assert not out.exists()


def test_an_unusable_data_file_is_one_line_and_exit_4_before_any_point(tmp_path) -> None:
    """Without --from/--to too: every point failed on it, and the sweep said exit 1."""
    from kitetui.market.loaders import data_path
    from tests.backtest_helpers import SMALL

    whole = data_path("pkg:replay/SBIN.csv.gz").read_bytes()
    cut = tmp_path / "SBIN.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    config = tmp_path / "cut.yaml"
    config.write_text(SMALL.replace("pkg:replay/SBIN.csv.gz", str(cut)))
    out = tmp_path / "never"
    done = run_kitetui("sweep", "-c", str(config), "--grid", "fast=5,9", "--out", str(out))
    assert done.returncode == 4, done.stderr
    assert done.stderr.startswith(f"error: {cut}: cannot read near line ")
    assert done.stderr.count("\n") == 1
    assert not out.exists()


def test_an_out_dir_holding_a_sweep_is_refused_and_left_alone(swept, small_config) -> None:
    out = swept["out"]
    before = (out / "results.csv").read_bytes()
    done = run_kitetui("sweep", "-c", str(small_config), "--grid", "fast=5,9", "--out", str(out))
    assert done.returncode == 2
    assert (
        done.stderr == f"error: {out}: already holds a sweep's results.csv (give another --out)\n"
    )
    assert (out / "results.csv").read_bytes() == before


def test_an_out_holding_someones_best_yaml_is_refused_and_left_alone(small_config, tmp_path):
    """The probe's F7.2: results.csv was guarded, a best.yaml already there was replaced."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "best.yaml").write_text("precious: true\n")
    done = run_kitetui("sweep", "-c", str(small_config), "--grid", "fast=5,9", "--out", str(out))
    assert done.returncode == 2
    assert done.stderr == f"error: {out}: already holds a best.yaml (give another --out)\n"
    assert (out / "best.yaml").read_text() == "precious: true\n"
    assert sorted(p.name for p in out.iterdir()) == ["best.yaml"]


def test_an_out_that_is_a_file_is_refused_before_any_point_runs(small_config, tmp_path) -> None:
    out = tmp_path / "a-file"
    out.write_text("mine")
    done = run_kitetui("sweep", "-c", str(small_config), "--grid", "fast=5,9", "--out", str(out))
    assert done.returncode == 2
    assert done.stderr == f"error: {out}: cannot write the sweep (a file, not a folder)\n"
    assert out.read_text() == "mine"


def test_a_runs_link_planted_in_a_shared_out_is_refused(small_config, tmp_path) -> None:
    """--keep-runs wrote the point databases through it, into a folder another user holds."""
    out, elsewhere = tmp_path / "shared", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "runs").symlink_to(elsewhere)
    done = run_kitetui(
        "sweep", "-c", str(small_config), "--grid", "fast=5", "--keep-runs", "--out", str(out)
    )
    assert done.returncode == 2
    assert "runs: is a symbolic link" in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_ray_without_the_extra_says_how_to_install_it(small_config, tmp_path) -> None:
    out = tmp_path / "never"
    blocked = (
        "import sys; sys.modules['ray'] = None; from kitetui.cli import main; "
        f"sys.exit(main(['sweep', '-c', {str(small_config)!r}, '--grid', 'fast=5,9', "
        f"'--ray', '--out', {str(out)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr == "error: --ray: Ray is not installed: pip install 'kitetui[ray]'\n"
    assert not out.exists()


def test_a_sweep_started_with_sighup_ignored_runs_on_after_a_hangup(small_config, tmp_path):
    out = tmp_path / "nohup"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kitetui", "sweep", "-c", str(small_config), "--grid",
         "equity.bb_std=1.5:3:0.5", "--workers", "2", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # as nohup does
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _finished(out) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGHUP)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "INTERRUPTED" not in stdout
    assert len(_rows(out / "results.csv")) == 4


def test_ray_cluster_that_cannot_be_reached_is_one_line_in_seconds(small_config, tmp_path):
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "never"
    started = time.monotonic()
    done = run_kitetui(
        "sweep", "-c", str(small_config), "--grid", "fast=5,9",
        "--ray", f"ray://127.0.0.1:{port}", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"error: --ray ray://127.0.0.1:{port}: cannot reach 127.0.0.1:{port} (Connection "
        "refused): is the cluster's head up, and its port open to this machine?\n"
    )
    assert time.monotonic() - started < 20  # Ray's own client took ~31 s, in many lines
    assert not out.exists()
