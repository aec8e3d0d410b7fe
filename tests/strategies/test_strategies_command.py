"""``kitetui strategies``: every registered strategy, one a line, name first, then its
params with defaults and bounds; ``--json`` gives the same as one document."""

from __future__ import annotations

import json

from cli_helpers import run_kitetui

from strategies.registry import strategy_names


def test_strategies_command_lists_every_strategy_with_params_defaults_and_bounds():
    result = run_kitetui("strategies")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(strategy_names())
    by_name = {line.split()[0]: line for line in lines}
    ema_cross = "ema_cross             fast=20 [1, 999]  slow=50 [2, 1000]  allow_short=true"
    assert by_name["ema_cross"] == ema_cross
    assert "multiplier=3.0 (0, 20]" in by_name["supertrend"]
    assert "htf_minutes=15 15|30|60" in by_name["htf_trend"]
    assert "rsi_low=30.0 (0, 100)" in by_name["mean_reversion"]
    assert "session_bars=3 [0, 375]" in by_name["vwap_filter"]


def test_strategies_command_with_json_describes_each_param():
    result = run_kitetui("strategies", "--json")
    assert result.returncode == 0, result.stderr
    specs = {spec["name"]: spec for spec in json.loads(result.stdout)}
    assert list(specs) == list(strategy_names())
    vol = specs["vol_regime"]
    assert vol["summary"].startswith("Volatility regime:")
    atr_slow = next(p for p in vol["params"] if p["name"] == "atr_slow")
    assert atr_slow == {
        "name": "atr_slow",
        "type": "int",
        "default": 75,
        "min": 15,
        "max": 1000,
        "min_exclusive": False,
        "max_exclusive": False,
        "choices": [],
        "description": "baseline ATR period (bars); the recent ATR is 14",
    }
    for spec in specs.values():
        for param in spec["params"]:
            assert param["description"], (spec["name"], param["name"])
            if param["type"] in ("int", "float"):
                assert param["min"] is not None and param["max"] is not None
