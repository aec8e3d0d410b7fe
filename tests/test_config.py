"""Config: every mistake is one clear line naming file, key path and reason; exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_kitetui

from kitetui import cli
from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import ConfigError, check_armed, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]
TG = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # the shape of a Telegram bot token


def _base() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_default_config_with_shipped_files_is_valid() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.mode == "replay"
    assert {e.name for e in config.engines} == {"fno", "options", "equity"}
    assert (REPO / "configs" / "dev.yaml").resolve() == DEFAULT_CONFIG.resolve()


@pytest.mark.parametrize(
    ("mutate", "key_path", "reason_part"),
    [
        (lambda d: d["risk"].update(max_daily_loss="lots"), "risk.max_daily_loss", "number"),
        (lambda d: d["risk"].update(max_daily_loss="20000"), "risk.max_daily_loss", "number"),
        (lambda d: d["risk"].update(max_daily_loss=-5), "risk.max_daily_loss", "greater than 0"),
        (lambda d: d["risk"].update(max_dayly_loss=5), "risk.max_dayly_loss", "unknown key"),
        (lambda d: d.update(colour="red"), "colour", "unknown key"),
        (lambda d: d["engines"][1].update(strategy="nope"), "engines[1].strategy", "nope"),
        (lambda d: d["engines"][0]["params"].update(fast=0), "engines[0].params.fast", "greater"),
        (
            lambda d: d["engines"][0]["params"].update(speedy=1),
            "engines[0].params.speedy",
            "unknown key",
        ),
        (lambda d: d["engines"][0].update(timeframe="7m"), "engines[0].timeframe", "1m"),
        # probeB F5: check-config said ok; the run died on its first bar (a traceback)
        (
            lambda d: d["engines"][2].update(strategy="htf_trend", params={}, timeframe="60m"),
            "engines[2].timeframe",
            "the 15-minute trend needs bars whose timeframe divides it, got 3600 s bars",
        ),
        (lambda d: d["session"].update(square_off="25:00"), "session.square_off", "pattern"),
        (lambda d: d["session"].update(entry_cutoff="15:25"), "session", "entry_cutoff"),
        (lambda d: d["replay"].update(speed="fast"), "replay.speed", "'max' or a number from"),
        (lambda d: d.update(mode="live"), "(top level)", "needs a 'kite:' section"),
        (lambda d: d.update(mode="paper", kite={"colour": 1}), "kite.colour", "unknown key"),
        (lambda d: d.pop("replay"), "(top level)", "needs a 'replay:' section"),
        (
            lambda d: d["engines"].append(
                {"name": "fno2", "kind": "fno", "underlyings": ["NIFTY"], "strategy": "ema_cross"}
            ),
            "(top level)",
            "NIFTY is traded by both fno and fno2",
        ),
        (
            lambda d: d["engines"][1].pop("underlying_symbol"),
            "engines[1].underlying_symbol",
            "Field required",
        ),
        (lambda d: d["engines"][0].update(kind="crypto"), "engines[0]", "crypto"),
        (lambda d: d["engines"][2].update(universe="SENSEX"), "engines[2].universe", "NIFTY"),
        (lambda d: d["engines"][2].pop("universe"), "engines[2]", "'symbols' or a 'universe'"),
        # check-config passed it; the desk died at its first alert (Popen's ValueError)
        (lambda d: d.update(alerts={"command": ["a\x00b"]}), "alerts.command[0]", "NUL"),
        # a careless hook: its token sat in the config and in `ps` while it ran
        (
            lambda d: d.update(
                alerts={"command": ["curl", "-d", "@-", f"https://api.telegram.org/bot{TG}/send"]}
            ),
            "alerts.command[3]",
            "a URL with a token in its path: secrets never go in the config",
        ),
        (
            lambda d: d.update(alerts={"command": ["/bin/hook", "https://x.test/a?token=1"]}),
            "alerts.command[1]",
            "'token' parameter carries a credential",
        ),
        (
            lambda d: d.update(alerts={"command": ["/bin/hook", "--api-key=abc"]}),
            "alerts.command[1]",
            "an option --api-key carrying a credential",
        ),
        (
            lambda d: d.update(mode="paper", kite={"root": "https://me:pw@127.0.0.1:8790"}),
            "kite.root",
            "a URL with a password",
        ),
        (lambda d: d.update(database="a\x00b.db"), "database", "NUL"),
        # a 400-digit int: math.isfinite raised OverflowError before the bound was read
        (lambda d: d["replay"].update(speed=10**400), "replay.speed", "from 0.01 to 100,000"),
        (
            lambda d: d.setdefault("kite", {}).update(market_protection=10**400),
            "kite.market_protection",
            "a percentage in (0, 100]",
        ),
        (
            lambda d: d["engines"][0].update(roll_sessions=-1),
            "engines[0].roll_sessions",
            "greater than or equal",
        ),
        (
            lambda d: d["engines"][1].update(premium_stop_pct=100),
            "engines[1].premium_stop_pct",
            "less than 100",
        ),
        (lambda d: d.update(instruments=[]), "(top level)", "needs 'instruments:'"),
        (
            lambda d: d["replay"]["sources"].append({"path": "x.csv"}),
            "replay.sources[9]",
            "'symbol' is required",
        ),
        (
            lambda d: d["freeze_limits"].update(NIFTY=0),
            "freeze_limits.NIFTY",
            "greater than or equal to 1",
        ),
    ],
)
def test_config_with_mistake_names_key_path_and_reason(mutate, key_path, reason_part) -> None:
    data = _base()
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "my.yaml")
    error = caught.value
    assert error.file == "my.yaml"
    assert error.key_path == key_path
    assert reason_part in error.reason
    assert str(error).startswith(f"my.yaml: {key_path}: ")


def test_config_with_broken_yaml_reports_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "mode: replay\nrisk: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "line" in caught.value.reason and str(path) in str(caught.value)


def test_config_with_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_cli_with_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    data = _base()
    data["risk"]["max_open_positions"] = "five"
    path = _write(tmp_path, data)
    proc = run_kitetui("run", "--no-ui", "--config", str(path), "--db", str(tmp_path / "state.db"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: risk.max_open_positions: ")
    assert not (tmp_path / "state.db").exists()


def _model_keys() -> set[str]:
    from pydantic import BaseModel

    from kitetui import config as cfg

    keys: set[str] = set()
    models = [cfg.AppConfig, cfg.ReplayConfig, cfg.SourceConfig, cfg.PaperConfig, cfg.RiskConfig,
              cfg.SizingConfig, cfg.SessionConfig, cfg.CalendarConfig, cfg.KiteConfig,
              cfg.JournalConfig, cfg.UiConfig, cfg.EquityEngineConfig, cfg.FnoEngineConfig,
              cfg.OptionsEngineConfig]  # fmt: skip
    for model in models:
        assert issubclass(model, BaseModel)
        keys |= set(model.model_fields)
    return keys


def test_config_docs_with_every_model_key_describe_it() -> None:
    text = (REPO / "docs" / "config.md").read_text()
    missing = sorted(key for key in _model_keys() if f"`{key}`" not in text)
    assert not missing, f"docs/config.md does not describe {missing}"


@pytest.mark.parametrize(
    ("text", "key_path", "reason_part"),
    [
        ("risk:\n  max_daily_loss: 5\n  max_daily_loss: 999999999\n", "risk.max_daily_loss",
         "line 3: duplicate key 'max_daily_loss' (first at line 2)"),
        ("capital: 1e20\n", "capital", "less than or equal to 100000000000"),
        ("allow_live: yes\n", "allow_live", "valid boolean"),
        ("replay:\n  speed: 1e9\n", "replay.speed", "from 0.01 to 100,000"),
    ],
)  # fmt: skip
def test_load_config_with_hostile_text_names_key_and_reason(
    tmp_path: Path, text: str, key_path: str, reason_part: str
) -> None:
    path = _write(tmp_path, text + yaml.safe_dump({k: v for k, v in _base().items()
                                                   if k not in text}))  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key_path == key_path
    assert reason_part in caught.value.reason


def test_config_error_with_control_characters_prints_one_safe_line() -> None:
    error = ConfigError("f.yaml", "a\nb", "bad \x1b[31mred\x1b[0m\n" + "x" * 500)
    assert "\n" not in str(error) and "\x1b" not in str(error)
    assert len(error.reason) == 200 and error.key_path == "a\\nb"


def test_cli_check_config_with_duplicate_key_exits_2_with_one_line(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text() + "\nrisk:\n  max_daily_loss: 999999999\n"
    path = _write(tmp_path, text)
    proc = run_kitetui("check-config", str(path))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: risk: line ") and "duplicate key 'risk'" in line


def test_cli_check_config_with_demo_config_reports_ok_and_days() -> None:
    proc = run_kitetui("check-config", str(DEFAULT_CONFIG))
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.strip() == f"{DEFAULT_CONFIG}: ok (6 replay day(s))"


def test_live_config_without_allow_live_is_valid_but_not_armed(tmp_path) -> None:
    """Arming is a run-time matter: the file checks, starting it is refused."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data.update(mode="live", kite={})
    config = parse_config(data, "live.yaml")
    assert config.mode == "live" and not config.allow_live
    with pytest.raises(ConfigError, match=r"^live.yaml: allow_live: mode live places real"):
        check_armed(config, "live.yaml")
    check_armed(config.model_copy(update={"allow_live": True}), "live.yaml")
    check_armed(parse_config(yaml.safe_load(DEFAULT_CONFIG.read_text())), "dev.yaml")


def _exit_table() -> dict[int, str]:
    """docs/config.md's exit table: each code and the rest of its row."""
    text = (REPO / "docs" / "config.md").read_text()
    rows = re.findall(r"^\| (\d+) \|(.*)$", text, flags=re.MULTILINE)
    return {int(code): rest for code, rest in rows}


def test_config_docs_exit_table_lists_every_exit_code_the_cli_has() -> None:
    table = _exit_table()
    codes = {value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    assert codes <= table.keys(), f"docs/config.md lacks exit {sorted(codes - table.keys())}"
    # the code for "another desk holds it" is the one the CLI returns (tests/test_desk.py)
    holders = [code for code, row in table.items() if "another desk" in row]
    assert holders == [cli.EXIT_LOCKED], table
    assert "disk is full" in table[cli.EXIT_DISK_FULL]


def test_config_with_a_hooks_plain_arguments_and_a_loopback_root_passes() -> None:
    data = _base()
    data["alerts"] = {
        "command": [
            "/home/me/bin/telegram-alert",
            "--key-file=/home/me/.tg",
            "https://ntfy.sh/desk",
        ]
    }
    assert parse_config(data, "my.yaml").alerts.command is not None
    data.update(mode="paper", kite={"root": "http://127.0.0.1:8790", "ws_root": "ws://[::1]:8791"})
    assert parse_config(data, "my.yaml").kite.root == "http://127.0.0.1:8790"


def test_config_refusing_a_credential_never_shows_it() -> None:
    data = _base()
    data["alerts"] = {"command": ["curl", f"https://api.telegram.org/bot{TG}/send"]}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "my.yaml")
    assert TG not in str(caught.value) and TG.split(":")[1] not in str(caught.value)
