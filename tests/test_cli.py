"""``kitetui``'s own subcommands as a user types them (kitetui/cli.py)."""

from __future__ import annotations

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
