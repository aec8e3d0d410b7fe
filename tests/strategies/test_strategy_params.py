"""Every registered strategy's params: strict types, a bound on every number, defaults
that build a strategy, and bad values refused at the config edge with one line.

The checks iterate over the registry, so a strategy added later is covered too: a
number without bounds or a field that coerces "9" to 9 fails here.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_kitetui
from pydantic import ValidationError

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import ConfigError, parse_config
from strategies.catalog import describe
from strategies.registry import get_strategy, strategy_names

SEED_STRATEGIES = {
    "ema_cross",  # the seeds' EMA 20/50 intraday (its defaults)
    "fno_intraday_trend",
    "mean_reversion",
    "rsi_pullback",
    "vwap_filter",
    "vol_regime",
    "htf_trend",
    "supertrend",
}
ALL = [get_strategy(name) for name in strategy_names()]
FIELDS = [(cls, spec) for cls in ALL for spec in describe(cls).params]


def _of_kind(*kinds: str) -> list:
    return [
        pytest.param(cls, spec, id=f"{cls.name}.{spec.name}")
        for cls, spec in FIELDS
        if spec.kind in kinds
    ]


def test_registry_holds_every_seed_strategy():
    assert set(strategy_names()) == SEED_STRATEGIES


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_params_defaults_build_a_strategy_that_warms_up(cls):
    strategy = cls.from_mapping({})
    assert 1 <= strategy.warmup_bars <= 1_001
    assert cls.Params.model_config["strict"] is True


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_params_with_unknown_key_are_rejected(cls):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        cls.Params.model_validate({"allow_shorts": True})


@pytest.mark.parametrize(("cls", "spec"), _of_kind("int", "float"))
def test_params_every_number_has_both_bounds(cls, spec):
    assert spec.minimum is not None and spec.maximum is not None, spec
    assert spec.maximum <= 1_000 * (20 if spec.kind == "float" else 1), spec


@pytest.mark.parametrize(("cls", "spec"), _of_kind("int"))
@pytest.mark.parametrize("bad", ["str", "float", True, 10**9, -(10**9)], ids=str)
def test_params_int_with_wrong_type_or_out_of_bounds_is_rejected(cls, spec, bad):
    value = {"str": str(spec.default), "float": float(spec.default)}.get(bad, bad)
    with pytest.raises(ValidationError, match=spec.name):
        cls.Params.model_validate({spec.name: value})


@pytest.mark.parametrize(("cls", "spec"), _of_kind("float"))
@pytest.mark.parametrize("bad", ["str", True, math.nan, math.inf, -math.inf, 1e9, -1e9], ids=str)
def test_params_float_with_wrong_type_or_out_of_bounds_is_rejected(cls, spec, bad):
    value = str(spec.default) if bad == "str" else bad
    with pytest.raises(ValidationError, match=spec.name):
        cls.Params.model_validate({spec.name: value})


@pytest.mark.parametrize(("cls", "spec"), _of_kind("bool"))
@pytest.mark.parametrize("bad", ["no", "false", "yes", 0, 1, None], ids=str)
def test_params_bool_with_anything_but_a_bool_is_rejected(cls, spec, bad):
    with pytest.raises(ValidationError, match=spec.name):
        cls.Params.model_validate({spec.name: bad})


@pytest.mark.parametrize(("cls", "spec"), _of_kind("choice"))
def test_params_choice_with_a_value_outside_the_choices_is_rejected(cls, spec):
    for bad in (str(spec.default), float(spec.default), max(spec.choices) + 1):
        with pytest.raises(ValidationError, match=spec.name):
            cls.Params.model_validate({spec.name: bad})


@pytest.mark.parametrize(("cls", "spec"), _of_kind("int", "float"))
def test_params_at_their_bounds_are_accepted_or_rejected_as_listed(cls, spec):
    """The listed bounds are the enforced ones (other fields may veto an edge value)."""
    for edge, exclusive, step in (
        (spec.minimum, spec.min_exclusive, -1),
        (spec.maximum, spec.max_exclusive, 1),
    ):
        beyond = edge if exclusive else edge + step * (1 if spec.kind == "int" else 1e-6)
        with pytest.raises(ValidationError, match=spec.name):
            cls.Params.model_validate({spec.name: beyond})


def test_params_with_int_for_float_field_are_accepted():
    params = get_strategy("supertrend").Params.model_validate({"multiplier": 2})
    assert params.multiplier == 2.0 and isinstance(params.multiplier, float)


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"fast": "9", "slow": 21}, "engines[0].params.fast: Input should be a valid integer"),
        ({"allow_short": "no"}, "engines[0].params.allow_short: Input should be a valid bool"),
        ({"slow": 10**9}, "engines[0].params.slow: Input should be less than or equal to 1000"),
    ],
)
def test_config_with_bad_strategy_param_names_it(params, where):
    data = yaml.safe_load(Path(DEFAULT_CONFIG).read_text())
    data["engines"][0]["params"] = params
    with pytest.raises(ConfigError) as info:
        parse_config(data, "desk.yaml")
    assert str(info.value).startswith(f"desk.yaml: {where}")


def test_check_config_with_string_param_exits_2_with_one_line(tmp_path):
    data = yaml.safe_load(Path(DEFAULT_CONFIG).read_text())
    data["engines"][0]["strategy"] = "supertrend"
    data["engines"][0]["params"] = {"period": "10"}
    config = tmp_path / "desk.yaml"
    config.write_text(yaml.safe_dump(data))
    result = run_kitetui("check-config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: engines[0].params.period: Input should be a valid integer"
    ]
