"""`kitetui export` (kitetui/export.py): one table of a run as CSV, read-only, private."""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kitetui import cli
from kitetui.export import WHATS
from tests.attacks.sigkill_corpus import light_config


def kitetui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kitetui", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    db = folder / "state.db"
    proc = kitetui("run", "--config", str(light_config(folder)), "--no-ui", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    return db


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_parser_offers_every_export() -> None:
    assert set(cli.EXPORTS) == set(WHATS)


def test_export_of_each_table_matches_the_journal_and_changes_nothing(
    finished: Path, tmp_path: Path
) -> None:
    before = hashlib.sha256(finished.read_bytes()).hexdigest()
    with sqlite3.connect(f"file:{finished}?mode=ro", uri=True) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
        count = {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            for table in ("orders", "fills", "signals", "events", "hold_counts")
        }
        (holds,) = conn.execute("SELECT sum(holds) FROM hold_counts").fetchone()
    got = {}
    for what in WHATS:
        out = tmp_path / f"{what}.csv"
        proc = kitetui("export", "--db", str(finished), "--what", what, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        assert f"{what} of run {run_id} written" in proc.stderr
        assert out.stat().st_mode & 0o777 == 0o600
        got[what] = rows(out.read_text())
    for table in ("orders", "fills", "signals", "events"):
        assert len(got[table]) == count[table] > 0, table
    # HOLDs that changed nothing: counted per day, engine, symbol and reason
    assert len(got["holds"]) == count["hold_counts"] > 0
    assert sum(int(r["holds"]) for r in got["holds"]) == holds
    assert all(r["first_ts"] <= r["last_ts"] for r in got["holds"])
    assert all(r["ts"].endswith("+05:30") for r in got["fills"] + got["signals"])
    fills_charged = sum(float(r["charges"]) for r in got["fills"])
    trades_charged = sum(float(r["charges"]) for r in got["trades"])
    assert fills_charged == pytest.approx(trades_charged, abs=0.01) and fills_charged > 0
    assert got["equity"] and {"equity_gross", "charges_paid"} <= set(got["equity"][0])
    assert hashlib.sha256(finished.read_bytes()).hexdigest() == before


def test_export_to_stdout_and_by_run_prefix(finished: Path) -> None:
    with sqlite3.connect(f"file:{finished}?mode=ro", uri=True) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
    proc = kitetui("export", "--db", str(finished), "--run", run_id[:10], "--what", "orders",
                   "--out", "-")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout) and proc.stderr == ""


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--run", "nosuchrun"), 2, "no run 'nosuchrun'"),
        (("--out", "/nonexistent-dir/x.csv"), 2, "cannot write the export"),
    ],
    ids=["unknown-run", "unwritable"],
)
def test_export_refusals_are_one_line(
    finished: Path, tmp_path: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    base = {"--what": "fills", "--out": str(tmp_path / "unused.csv"), "--run": "latest"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for pair in base.items() for x in pair]
    proc = kitetui("export", "--db", str(finished), *flat)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and says in proc.stderr
    assert "Traceback" not in proc.stderr


def test_export_of_a_missing_database_says_so(tmp_path: Path) -> None:
    proc = kitetui("export", "--db", str(tmp_path / "none.db"), "--what", "fills", "--out", "-")
    assert proc.returncode == 2 and "no such database" in proc.stderr


def test_export_never_writes_over_a_database_under_any_name(finished: Path, tmp_path: Path) -> None:
    """The command line had no guard: ``--out`` naming the database (or its seal) while a
    desk ran turned it into a CSV, and the desk's next start was refused."""
    folder = tmp_path / "desk"
    folder.mkdir()
    db = folder / "state.db"
    db.write_bytes(finished.read_bytes())
    seal = folder / "state.db-seal"
    seal.write_bytes(b"seal")
    (folder / "link.db").symlink_to(db)
    (folder / "hard.db").hardlink_to(db)
    (tmp_path / "seal-link").hardlink_to(seal)
    before = {p: p.read_bytes() for p in (db, seal)}
    for out in (db, seal, folder / "link.db", folder / "hard.db", tmp_path / "seal-link"):
        proc = kitetui("export", "--db", str(db), "--what", "fills", "--out", str(out))
        assert proc.returncode == 2, (out, proc.stderr)
        says = "is a database or a file the desk keeps beside one; an export never replaces it"
        assert proc.stderr == f"error: {out}: {says}\n"
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize("change", ["a fill", "a newer schema"])
def test_read_commands_refuse_a_closed_database_the_desk_would_refuse(
    finished: Path, tmp_path: Path, change: str
) -> None:
    """``report``, ``export`` and ``runs`` read a fill changed outside kitetui (or a
    schema from a newer kitetui) and exited 0 as if it were the journal."""
    db = tmp_path / "state.db"
    db.write_bytes(finished.read_bytes())
    with sqlite3.connect(db) as conn:
        if change == "a fill":
            conn.execute("UPDATE fills SET price = price + 1 WHERE rowid = 1")
        else:
            conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = db.read_bytes()
    out = tmp_path / "fills.csv"
    for args in (
        ("export", "--what", "fills", "--out", str(out)),
        ("runs",),
        ("report", "--out", str(tmp_path / "report")),
    ):
        proc = kitetui(*args, "--db", str(db))
        assert proc.returncode == 3, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and str(db) in proc.stderr, proc.stderr
    assert db.read_bytes() == before
    assert not out.exists() and not (tmp_path / "report").exists()


def test_standard_output_gets_each_field_escaped_and_one_row_a_line() -> None:
    """A broker's reason (Kite's text, or anyone's through a sim) reached the terminal
    raw: an OSC retitled it, a newline forged a log line."""
    from kitetui.export import _escaped_fields

    reason = "Bad \x1b]0;PWNED\x07\x1b[2J\nfake line level=INFO kind=Filled"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [["tag", "reason"], ["T1", reason], ["T2", "ok"]]
    )
    shown = _escaped_fields(out.getvalue())
    assert shown.isprintable() or all(line.isprintable() for line in shown.splitlines())
    assert len(shown.splitlines()) == 3
    assert (
        rows(shown)[0]["reason"]
        == "Bad \\x1b]0;PWNED\\x07\\x1b[2J\\nfake line level=INFO kind=Filled"
    )


# -- the files the command line writes for the user: planted links, other users' folders ---


def plant(tmp_path: Path, text: str = "my own notes\n") -> Path:
    """A file of the user's that a report or an export must never change."""
    precious = tmp_path / "precious.txt"
    precious.write_text(text)
    precious.chmod(0o644)
    return precious


def test_export_to_a_hard_linked_file_leaves_the_other_name_alone(
    finished: Path, tmp_path: Path
) -> None:
    """probe: ``--out`` a hard link (st_nlink 2) was truncated in place, and so the
    other name's content went with it; the export now replaces its own name whole."""
    precious = plant(tmp_path)
    out = tmp_path / "fills.csv"
    out.hardlink_to(precious)

    proc = kitetui("export", "--db", str(finished), "--what", "fills", "--out", str(out))

    assert proc.returncode == 0, proc.stderr
    assert precious.read_text() == "my own notes\n"
    assert precious.stat().st_mode & 0o777 == 0o644 and precious.stat().st_nlink == 1
    assert rows(out.read_text()) and out.stat().st_mode & 0o777 == 0o600


def test_export_to_a_symlink_the_user_names_refuses_and_leaves_its_target(
    finished: Path, tmp_path: Path
) -> None:
    """probe: the export wrote through the link and made its target 0600."""
    precious = plant(tmp_path)
    out = tmp_path / "latest.csv"
    out.symlink_to(precious)

    proc = kitetui("export", "--db", str(finished), "--what", "fills", "--out", str(out))

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"error: {out}: is a symbolic link; an export never writes through one "
        "(name the file it points at)\n"
    )
    assert precious.read_text() == "my own notes\n"
    assert precious.stat().st_mode & 0o777 == 0o644
    assert out.is_symlink()


def test_report_over_a_hard_linked_report_file_leaves_the_other_name_alone(
    finished: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    first = kitetui("report", "--db", str(finished), "--out", str(out))
    assert first.returncode == 0, first.stderr
    precious = plant(tmp_path, (out / "equity.csv").read_text())
    for name in ("equity.csv", "report.html"):
        (out / name).unlink()
        (out / name).hardlink_to(precious)

    again = kitetui("report", "--db", str(finished), "--out", str(out))

    assert again.returncode == 0, again.stderr
    assert precious.stat().st_nlink == 1 and precious.stat().st_mode & 0o777 == 0o644
    assert (out / "report.html").read_text().startswith("<!")
    assert {p.name for p in out.iterdir()} == {
        "report.json",
        "report.html",
        "orders.csv",
        "fills.csv",
        "trades.csv",
        "equity.csv",
    }  # fmt: skip  (no scratch file left behind)


def test_report_into_a_folder_another_user_owns_refuses_and_writes_nothing(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """probe: ``--out`` a folder another user owns (open to all) got the trade history,
    each file ours and 0600, but the folder's owner can swap or delete them: refused."""
    theirs = tmp_path / "shared-reports"
    theirs.mkdir()
    theirs.chmod(0o777)
    monkeypatch.setattr(Path, "stat", owned_by(theirs, 4242))

    code = cli.main(["report", "--db", str(finished), "--out", str(theirs)])

    err = capsys.readouterr().err
    assert code == 2, err
    assert err == (
        f"error: {theirs}: cannot write the report (the folder is owned by uid 4242, not by "
        "you; kitetui writes only into folders of yours (or root's, like /tmp))\n"
    )
    assert list(theirs.iterdir()) == []


def test_export_into_a_folder_another_user_owns_refuses(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    theirs = tmp_path / "shared"
    theirs.mkdir()
    theirs.chmod(0o777)
    monkeypatch.setattr(Path, "stat", owned_by(theirs, 4242))

    code = cli.main(["export", "--db", str(finished), "--what", "fills",
                     "--out", str(theirs / "fills.csv")])  # fmt: skip

    err = capsys.readouterr().err
    assert code == 2, err
    assert "the folder is owned by uid 4242, not by you" in err and err.count("\n") == 1
    assert list(theirs.iterdir()) == []


def owned_by(theirs: Path, uid: int):
    """``Path.stat`` answering ``uid`` as the owner of ``theirs`` (another user: the
    tests run as root too, where chown would be the only other way)."""
    real_stat = Path.stat

    def stat_(self: Path, *args: object, **kwargs: object):
        found = real_stat(self, *args, **kwargs)
        if self == theirs:
            values = list(found)
            values[4] = uid  # st_uid
            return type(found)(values)
        return found

    return stat_
