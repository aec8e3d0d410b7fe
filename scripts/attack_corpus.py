"""The attack corpus: hostile configs and data files, each with the answer it must get.

kitetui was attacked as a hostile user would (hundreds of bad configs and data files).
This script rebuilds that class of attack from generators, not from the examples: the
numeric bounds of every config key are read from the pydantic models themselves, so a
key added later is attacked too. Every case says what must happen:

* ``exit`` 2 (config), 4 (data) or 1, with exactly ONE line on stderr that contains
  ``expect`` (and for exit 2 names the config file), no traceback; or
* ``exit`` 0 with an event of kind ``expect`` recorded (a bad row skipped and counted).

``python scripts/attack_corpus.py`` builds the corpus in a temporary directory, runs
every case in-process (``load_config`` + ``kitetui.preflight.check_inputs``: exactly
what ``kitetui check-config`` runs) and prints the counts per class and pass/fail;
``--cli N`` also runs N cases of each class through the real command line
(``python -m kitetui check-config F`` / ``run --no-ui --speed max``); ``--list``
prints the cases. Exit status 0 when every case passed.

To extend it (database damage, SIGKILL points…) add a builder returning ``AttackCase``
values to ``BUILDERS``: a class name and a function. A case brings its own files, an
optional ``setup`` for what bytes cannot express (a FIFO, a directory, a symlink) and,
when the in-process run is not the right check, its own ``check`` function.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import math
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

DIR = "{DIR}"  # replaced by the case's directory when its files are written
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ============================================================================ cases


@dataclass(frozen=True)
class AttackCase:
    """One hostile input and the answer kitetui must give.

    ``files`` maps names (relative to the case directory) to bytes, where ``{DIR}`` is
    replaced by the directory; ``config`` names the config file among them; ``command``
    is ``check-config`` or ``run``. ``cli`` marks the cases worth a real subprocess.
    """

    klass: str
    name: str
    files: Mapping[str, bytes]
    expect_exit: int
    expect: str
    config: str = "config.yaml"
    command: str = "check-config"
    setup: Callable[[Path], None] | None = None
    cli: bool = False
    skip_reason: str = ""


@dataclass
class Outcome:
    exit_code: int
    stderr: str
    events: list[str] = field(default_factory=list)  # "Kind: message"


@dataclass(frozen=True)
class Verdict:
    case: AttackCase
    ok: bool
    detail: str


# ============================================================================ base configs


@functools.cache
def _demo_config() -> str:
    return (ROOT / "kitetui" / "data" / "dev.yaml").read_text()


def _base_config() -> dict[str, Any]:
    """The shipped demo config on two small sources: every engine kind and section."""
    data = yaml.load(_demo_config(), Loader=_YAML_LOADER)
    data["replay"]["speed"] = "max"
    data["replay"]["sources"] = [
        {"symbol": "SBIN", "path": "pkg:replay/SBIN.csv.gz"},
        {"symbol": "HDFCBANK", "path": "pkg:replay/HDFCBANK.csv.gz"},
    ]
    data["kite"] = {}  # allowed (unused) in replay mode: its keys get attacked too
    data["database"] = f"{DIR}/state.db"
    return data


def _dump(data: object) -> bytes:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True).encode()


def _config_case(name: str, data_or_text: object, exit_code: int, expect: str, **kw) -> AttackCase:
    text = data_or_text if isinstance(data_or_text, bytes) else _dump(data_or_text)
    files = dict(kw.pop("files", {}))
    files["config.yaml"] = text
    return AttackCase("configs", name, files, exit_code, expect, **kw)


def _mutated(mutate: Callable[[dict], object]) -> dict:
    data = _base_config()
    mutate(data)
    return data


def _set(path: tuple, value: object) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _key_text(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# ============================================================================ config builders


def _numeric_leaves() -> Iterable[tuple[tuple, Any, bool]]:
    """(path in the base config, FieldInfo, is_int) for every bounded number.

    Walks the pydantic models, so every numeric key that exists is attacked.
    """
    from pydantic import BaseModel

    from kitetui import config as cfg

    def numeric(annotation: Any) -> tuple[bool, bool]:  # (is numeric, is int)
        args = getattr(annotation, "__args__", ())
        if annotation is int or (int in args and float not in args):
            return True, True
        if annotation is float or float in args:
            return True, False
        return False, False

    def walk(model: type[BaseModel], prefix: tuple) -> Iterable[tuple[tuple, Any, bool]]:
        for name, info in model.model_fields.items():
            annotation = info.annotation
            nested = [
                arg
                for arg in (annotation, *getattr(annotation, "__args__", ()))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ]
            if nested:
                yield from walk(nested[0], (*prefix, name))
                continue
            is_number, is_int = numeric(annotation)
            if is_number and annotation is not bool and name != "speed":
                yield (*prefix, name), info, is_int

    sections = {
        "replay": cfg.ReplayConfig,
        "paper": cfg.PaperConfig,
        "risk": cfg.RiskConfig,
        "sizing": cfg.SizingConfig,
        "kite": cfg.KiteConfig,
        "journal": cfg.JournalConfig,
        "ui": cfg.UiConfig,
    }
    yield ("capital",), cfg.AppConfig.model_fields["capital"], False
    for section, model in sections.items():
        yield from walk(model, (section,))
    kinds = {"fno": cfg.FnoEngineConfig, "options": cfg.OptionsEngineConfig}
    kinds["equity"] = cfg.EquityEngineConfig
    for index, engine in enumerate(_base_config()["engines"]):
        yield from walk(kinds[engine["kind"]], ("engines", index))


def _bounds(info: Any) -> tuple[float | None, float | None]:
    low = high = None
    for item in info.metadata:
        for attr in ("gt", "ge"):
            if getattr(item, attr, None) is not None:
                low = getattr(item, attr)
        for attr in ("lt", "le"):
            if getattr(item, attr, None) is not None:
                high = getattr(item, attr)
    return low, high


def numeric_bound_cases() -> list[AttackCase]:
    """Above the ceiling, 10^30, below the floor, NaN, infinity, a bool, a string."""
    cases = []
    for path, info, is_int in _numeric_leaves():
        low, high = _bounds(info)
        key = _key_text(path)
        variants: list[tuple[str, object]] = [("1e30", 10**30 if is_int else 1e30)]
        if high is not None:
            variants.append(("over-max", high * 10 + 1))
        if low is not None:
            variants.append(("under-min", low - 1))
        if not is_int:
            variants += [("nan", math.nan), ("inf", math.inf)]
        variants += [("bool", True), ("string", "5"), ("list", [5])]
        for variant, value in variants:
            cases.append(
                _config_case(f"bound {key} {variant}", _mutated(_set(path, value)), 2, key)
            )
    return cases


def yaml_attack_cases() -> list[AttackCase]:
    base = _dump(_base_config()).decode()
    dup = "\n".join(line for line in base.splitlines()) + "\n"

    def with_line(after: str, line: str) -> bytes:
        i = dup.index(after) + len(after)
        return (dup[:i] + line + dup[i:]).encode()

    laughs = "lol: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefghi"):
        prev = "a" if i == 0 else "bcdefghi"[i - 1]
        laughs += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    cases = [
        _config_case(
            "duplicate top-level key",
            (dup + "capital: 999999999\n").encode(),
            2,
            "duplicate key 'capital'",
        ),
        _config_case(
            "duplicate section",
            (dup + "risk:\n  max_daily_loss: 999999999\n").encode(),
            2,
            "duplicate key 'risk'",
        ),
        _config_case(
            "duplicate nested key",
            with_line("risk:\n", "  max_daily_loss: 999999999\n"),
            2,
            "duplicate key 'max_daily_loss'",
        ),
        _config_case(
            "duplicate key in an engine",
            with_line("- name: fno\n", "  name: other\n"),
            2,
            "duplicate key 'name'",
        ),
        _config_case(
            "duplicate key in params",
            b"params: {fast: 9, fast: 99}\n" + dup.encode(),
            2,
            "duplicate key 'fast'",
        ),
        _config_case(
            "duplicate key in a flow mapping",
            (dup + "x: {a: 1, a: 2}\n").encode(),
            2,
            "duplicate key 'a'",
        ),
        _config_case("billion laughs", (laughs + dup).encode(), 2, "alias bomb", cli=True),
        _config_case("recursive alias", (dup + "x: &r [*r]\n").encode(), 2, "alias"),
        _config_case(
            "10k nested lists",
            ("x: " + "[" * 10_000 + "]" * 10_000 + "\n").encode(),
            2,
            "nested deeper",
            cli=True,
        ),
        _config_case(
            "10k nested maps",
            ("x: " + "{a: " * 10_000 + "1" + "}" * 10_000).encode(),
            2,
            "nested deeper",
        ),
        _config_case(
            "40 nested block maps",
            ("".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v\n").encode(),
            2,
            "nested deeper",
        ),
        _config_case("unclosed bracket", b"mode: replay\nrisk: [unclosed\n", 2, "not valid YAML"),
        _config_case("tab indentation", b"risk:\n\tmax_daily_loss: 5\n", 2, "not valid YAML"),
        _config_case("two documents", (dup + "---\nmode: live\n").encode(), 2, "single document"),
        _config_case(
            "python object tag",
            b"capital: !!python/object/apply:os.system [id]\n",
            2,
            "not valid YAML",
        ),
        _config_case(
            "binary tag",
            dup.replace("capital: 1000000", "capital: !!binary aGk=").encode(),
            2,
            "capital",
        ),
        _config_case("integer key", (dup + "1: one\n").encode(), 2, "not a string"),
        _config_case("boolean key", (dup + "true: yes\n").encode(), 2, "not a string"),
        _config_case("null key", (dup + "~: x\n").encode(), 2, "not a string"),
        _config_case("collection key", (dup + "? [a, b]\n: x\n").encode(), 2, "not a string"),
        _config_case("bell character", (dup + "x: \x07\n").encode(), 2, "not allowed"),
        _config_case("empty file", b"", 2, "mapping of keys"),
        _config_case("only a comment", b"# nothing\n", 2, "mapping of keys"),
        _config_case("top-level list", b"- mode: replay\n", 2, "mapping of keys"),
        _config_case("top-level scalar", b"replay\n", 2, "mapping of keys"),
        _config_case(
            "yes is not a boolean",
            dup.replace("mode: replay", "mode: replay\nallow_live: yes").encode(),
            2,
            "allow_live",
        ),
        _config_case(
            "octal-looking integer",
            dup.replace("max_open_positions: 5", "max_open_positions: 0100").encode(),
            2,
            "risk.max_open_positions",
        ),
        _config_case(
            "hex where a bool goes",
            dup.replace("mode: replay", "mode: replay\nallow_live: 0x1").encode(),
            2,
            "allow_live",
        ),
        _config_case("undefined alias", (dup + "x: *nope\n").encode(), 2, "not valid YAML"),
    ]
    return cases


def file_attack_cases() -> list[AttackCase]:
    def fifo(d: Path) -> None:
        (d / "config.yaml").unlink(missing_ok=True)
        os.mkfifo(d / "config.yaml")

    def directory(d: Path) -> None:
        (d / "config.yaml").unlink(missing_ok=True)
        (d / "config.yaml").mkdir()

    def dangling(d: Path) -> None:
        (d / "config.yaml").unlink(missing_ok=True)
        (d / "config.yaml").symlink_to(d / "nowhere.yaml")

    def loop(d: Path) -> None:
        (d / "config.yaml").unlink(missing_ok=True)
        (d / "config.yaml").symlink_to(d / "config.yaml")

    def unreadable(d: Path) -> None:
        (d / "config.yaml").chmod(0)

    root = hasattr(os, "geteuid") and os.geteuid() == 0
    good = _dump(_base_config())
    return [
        _config_case("binary file", bytes(range(256)) * 8, 2, "binary file", cli=True),
        _config_case("gzip instead of YAML", gzip.compress(good, mtime=0), 2, "binary file"),
        _config_case("latin-1 text", "mode: replay # café\n".encode("latin-1"), 2, "not UTF-8"),
        _config_case("utf-16 text", good.decode().encode("utf-16"), 2, "binary file"),
        _config_case("huge file", b"# pad\n" * 300_000, 2, "too large"),
        _config_case("directory as config", b"", 2, "is a directory", setup=directory, cli=True),
        _config_case("fifo as config", b"", 2, "not a regular file", setup=fifo),
        _config_case("dangling symlink", b"", 2, "cannot read", setup=dangling),
        _config_case("symlink loop", b"", 2, "cannot read", setup=loop),
        _config_case(
            "unreadable file",
            good,
            2,
            "Permission denied",
            setup=unreadable,
            skip_reason="root reads any file" if root else "",
        ),
    ]


def structure_cases() -> list[AttackCase]:
    def drop(path: tuple) -> Callable[[dict], None]:
        def mutate(data: dict) -> None:
            node = data
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]

        return mutate

    out: list[tuple[str, Callable[[dict], object], str]] = []
    for section in ("risk", "paper", "sizing", "session", "journal", "ui", "replay", "kite"):
        out.append((f"unknown key in {section}", _set((section, "colour"), 1), f"{section}.colour"))
        out.append((f"{section} is a number", _set((section,), 5), section))
        out.append((f"{section} is a list", _set((section,), [1]), section))
    out += [
        ("unknown top-level key", _set(("colour",), "red"), "colour"),
        ("engines empty", _set(("engines",), []), "engines"),
        ("engines a mapping", _set(("engines",), {"a": 1}), "engines"),
        ("engine kind unknown", _set(("engines", 0, "kind"), "crypto"), "engines[0]"),
        ("engine name upper case", _set(("engines", 0, "name"), "FNO"), "engines[0].name"),
        ("engine name too long", _set(("engines", 0, "name"), "a" * 40), "engines[0].name"),
        ("unknown strategy", _set(("engines", 0, "strategy"), "nope"), "engines[0].strategy"),
        (
            "strategy name huge",
            _set(("engines", 0, "strategy"), "x" * 10_000),
            "engines[0].strategy",
        ),
        ("unknown param", _set(("engines", 0, "params", "speedy"), 1), "engines[0].params"),
        ("params a list", _set(("engines", 0, "params"), [1]), "engines[0].params"),
        ("timeframe 7m", _set(("engines", 0, "timeframe"), "7m"), "engines[0].timeframe"),
        ("product XYZ", _set(("engines", 0, "product"), "XYZ"), "engines[0].product"),
        ("lower-case symbol", _set(("engines", 2, "symbols"), ["sbin"]), "engines[2].symbols[0]"),
        (
            "symbol with newline",
            _set(("engines", 2, "symbols"), ["SB\nIN"]),
            "engines[2].symbols[0]",
        ),
        (
            "symbol with ANSI escape",
            _set(("engines", 2, "symbols"), ["\x1b[31mSBIN"]),
            "engines[2].symbols[0]",
        ),
        ("symbol too long", _set(("engines", 2, "symbols"), ["A" * 41]), "engines[2].symbols[0]"),
        ("symbol listed twice", _set(("engines", 2, "symbols"), ["SBIN", "SBIN"]), "twice"),
        (
            "10k symbols",
            _set(("engines", 2, "symbols"), [f"S{i}" for i in range(10_000)]),
            "engines[2].symbols",
        ),
        (
            "underlying lower case",
            _set(("engines", 0, "underlyings"), ["nifty"]),
            "engines[0].underlyings[0]",
        ),
        ("underlying twice", _set(("engines", 0, "underlyings"), ["NIFTY", "NIFTY"]), "twice"),
        (
            "options underlying empty",
            _set(("engines", 1, "underlying"), ""),
            "engines[1].underlying",
        ),
        ("universe SENSEX", _set(("engines", 2, "universe"), "SENSEX"), "engines[2].universe"),
        ("freeze limit key lower case", _set(("freeze_limits", "nifty"), 5), "freeze_limits"),
        ("freeze limits 1e30", _set(("freeze_limits", "NIFTY"), 10**30), "freeze_limits.NIFTY"),
        ("mode unknown", _set(("mode",), "yolo"), "mode"),
        # Without allow_live a live config is valid (check-config checks it unarmed;
        # only `run` refuses it): what is refused is live without its kite section.
        ("live without kite", lambda d: (d.update(mode="live"), d.pop("kite")), "kite"),
        ("paper without kite", lambda d: (d.update(mode="paper"), d.pop("kite")), "kite"),
        ("replay without replay", drop(("replay",)), "replay"),
        ("replay without instruments", _set(("instruments",), []), "instruments"),
        ("sources empty", _set(("replay", "sources"), []), "replay.sources"),
        (
            "source without symbol",
            _set(("replay", "sources", 0), {"path": "x.csv"}),
            "replay.sources[0]",
        ),
        (
            "source glob with symbol",
            _set(("replay", "sources", 0), {"symbol": "SBIN", "path": "pkg:replay/*.csv.gz"}),
            "replay.sources[0]",
        ),
        (
            "source glob in folder",
            _set(("replay", "sources", 0), {"path": "pkg:*/x*.csv"}),
            "replay.sources[0]",
        ),
        (
            "source kind unknown",
            _set(("replay", "sources", 0, "kind"), "bars"),
            "replay.sources[0].kind",
        ),
        ("source path empty", _set(("replay", "sources", 0, "path"), ""), "replay.sources[0].path"),
        (
            "source path NUL",
            _set(("replay", "sources", 0, "path"), "a\x00b"),
            "replay.sources[0].path",
        ),
        (
            "source path 10k chars",
            _set(("replay", "sources", 0, "path"), "a" * 10_000),
            "replay.sources[0].path",
        ),
        (
            "pkg escape source",
            _set(("replay", "sources", 0, "path"), "pkg:../../etc/passwd"),
            "outside the package data",
        ),
        (
            "pkg escape glob",
            _set(("replay", "sources", 0), {"path": "pkg:../../../etc/*"}),
            "outside the package data",
        ),
        (
            "pkg escape absolute",
            _set(("replay", "sources", 0, "path"), "pkg:/../../etc/passwd"),
            "outside the package data",
        ),
        (
            "pkg escape instruments",
            _set(("instruments",), ["pkg:../../../../etc/passwd"]),
            "outside the package data",
        ),
        (
            "pkg escape holidays",
            _set(("calendar", "holidays_override"), "pkg:../../x.csv"),
            "outside the package data",
        ),
        ("speed negative", _set(("replay", "speed"), -1), "replay.speed"),
        ("speed 1e9", _set(("replay", "speed"), 1e9), "replay.speed"),
        ("speed string", _set(("replay", "speed"), "fast"), "replay.speed"),
        ("speed nan", _set(("replay", "speed"), math.nan), "replay.speed"),
        ("clock time 25:00", _set(("session", "square_off"), "25:00"), "session.square_off"),
        ("clock time as number", _set(("session", "open"), 915), "session.open"),
        ("session out of order", _set(("session", "entry_cutoff"), "15:25"), "session"),
        (
            "expiry cutoff bad",
            _set(("engines", 1, "expiry_day_cutoff"), "1:30pm"),
            "engines[1].expiry_day_cutoff",
        ),
        (
            "engine names repeat",
            lambda d: d["engines"].__setitem__(1, {**d["engines"][1], "name": "fno"}),
            "unique",
        ),
        (
            "underlying traded twice",
            lambda d: d["engines"].append(
                {"name": "fno2", "kind": "fno", "underlyings": ["NIFTY"], "strategy": "ema_cross"}
            ),
            "traded by both",
        ),
        ("kite root not a URL", _set(("kite", "root"), "ftp://x"), "kite.root"),
        ("kite ws_root not a URL", _set(("kite", "ws_root"), "http://x"), "kite.ws_root"),
        ("database path empty", _set(("database",), ""), "database"),
        ("journal synchronous OFF", _set(("journal", "synchronous"), "OFF"), "journal.synchronous"),
        ("on_stop unknown", _set(("on_stop",), "panic"), "on_stop"),
        (
            "instruments a string",
            _set(("instruments",), "pkg:replay/nse_instruments.csv"),
            "instruments",
        ),
        ("65 instrument files", _set(("instruments",), ["x.csv"] * 65), "instruments"),
    ]
    return [_config_case(name, _mutated(mutate), 2, expect) for name, mutate, expect in out]


def referenced_file_cases() -> list[AttackCase]:
    """Valid YAML whose named files are missing, wrong or hostile."""
    kite_header = (
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
        "tick_size,lot_size,instrument_type,segment,exchange\n"
    )

    def holidays(text: bytes, expect: str, name: str) -> AttackCase:
        data = _mutated(_set(("calendar", "holidays_override"), f"{DIR}/holidays.csv"))
        return _config_case(name, data, 2, expect, files={"holidays.csv": text})

    def make_dir(name: str) -> Callable[[Path], None]:
        return lambda d: (d / name).mkdir()

    cases = [
        _config_case(
            "holidays file missing",
            _mutated(_set(("calendar", "holidays_override"), f"{DIR}/none.csv")),
            2,
            "calendar.holidays_override",
            cli=True,
        ),
        _config_case(
            "holidays file a directory",
            _mutated(_set(("calendar", "holidays_override"), f"{DIR}/hdir")),
            2,
            "is a directory",
            setup=make_dir("hdir"),
        ),
        holidays(b"date,description\n2023-13-01,x\n", "bad date", "holidays bad date"),
        holidays(b"day,description\n2023-01-26,x\n", "no 'date' column", "holidays no date"),
        holidays(b"", "empty file", "holidays empty"),
        holidays(b"\xff\xfe\x00garbage", "not UTF-8", "holidays binary"),
        holidays(
            b"date,open,close\n2023-01-26,15:00,09:00\n",
            "before it opens",
            "holidays window reversed",
        ),
        holidays(
            b"date,open,close\n2023-01-26,9am,\n",
            "open but no close",
            "holidays open without close",
        ),
        holidays(b"date,open,close\n2023-01-26,9am,10am\n", "bad time", "holidays bad time"),
        holidays(b"date,description\n9999-01-01,x\n", "outside", "holidays year 9999"),
        _config_case(
            "instruments missing",
            _mutated(_set(("instruments",), [f"{DIR}/no.csv"])),
            4,
            "file not found",
            cli=True,
        ),
        _config_case(
            "instruments a directory",
            _mutated(_set(("instruments",), [f"{DIR}/idir"])),
            4,
            "is a directory",
            setup=make_dir("idir"),
        ),
        _config_case(
            "instruments not Kite",
            _mutated(_set(("instruments",), [f"{DIR}/i.csv"])),
            4,
            "not a Kite instruments CSV",
            files={"i.csv": b"a,b\n1,2\n"},
        ),
        _config_case(
            "instruments empty",
            _mutated(_set(("instruments",), [f"{DIR}/i.csv"])),
            4,
            "empty file",
            files={"i.csv": b""},
        ),
        _config_case(
            "instruments corrupt gzip",
            _mutated(_set(("instruments",), [f"{DIR}/i.csv.gz"])),
            4,
            "corrupt gzip",
            files={"i.csv.gz": b"\x1f\x8b\x08\x00junk"},
        ),
        _config_case(
            "equity engine trades an index",
            _mutated(lambda d: d["engines"][2].update(symbols=["NIFTY 50"], universe=None)),
            2,
            "not a tradable instrument",
            cli=True,
        ),
        _config_case(
            "equity engine trades an index from a user master",
            _mutated(
                lambda d: (
                    d["engines"][2].update(symbols=["NIFTY IT"], universe=None),
                    d["instruments"].append(f"{DIR}/i.csv"),
                )
            ),
            2,
            "an index (segment INDICES)",
            files={
                "i.csv": (
                    kite_header + "259849,1015,NIFTY IT,NIFTY IT,0.0,,0.0,0.0,0,EQ,INDICES,NSE\n"
                ).encode()
            },
        ),
        _config_case(
            "universe without membership for the replay",
            _mutated(_set(("engines", 2, "universe"), "NIFTY 100")),
            2,
            "membership list before",
            cli=True,
        ),
        _config_case(
            "source file missing",
            _mutated(_set(("replay", "sources", 0, "path"), f"{DIR}/none.csv")),
            4,
            "file not found",
        ),
        _config_case(
            "source is a directory",
            _mutated(_set(("replay", "sources", 0, "path"), f"{DIR}/sdir")),
            4,
            "is a directory",
            setup=make_dir("sdir"),
        ),
        _config_case(
            "source glob matches nothing",
            _mutated(_set(("replay", "sources", 0), {"path": f"{DIR}/nothing*.csv"})),
            4,
            "no file matches",
            cli=True,
        ),
    ]
    return cases


def config_cases() -> list[AttackCase]:
    return (
        yaml_attack_cases()
        + file_attack_cases()
        + structure_cases()
        + referenced_file_cases()
        + numeric_bound_cases()
    )


# ============================================================================ data builders

KITE_HEADER = "date,open,high,low,close,volume\n"


def _kite_rows(n: int = 30, day: str = "2023-04-03", price: float = 500.0) -> list[str]:
    rows = []
    for minute in range(n):
        hh, mm = divmod(9 * 60 + 15 + minute, 60)
        p = price + (minute % 7) * 0.5
        rows.append(
            f"{day} {hh:02d}:{mm:02d}:00+05:30,{p},{p + 1},{p - 1},{p + 0.5},{100 + minute}"
        )
    return rows


def _candles(rows: Iterable[str], header: str = KITE_HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


def _tick_rows(n: int = 30) -> list[str]:
    return [
        f"20221118,09:{15 + i // 60:02d}:{i % 60:02d},{18300 + i % 5},{50},{1000}" for i in range(n)
    ]


def _data_config(sources: list[dict], *, engine_symbol: str = "SBIN") -> bytes:
    data = _base_config()
    data["replay"]["sources"] = sources
    data["engines"] = [
        {
            "name": "eq",
            "kind": "equity",
            "symbols": [engine_symbol],
            "strategy": "ema_cross",
            "timeframe": "1m",
            "params": {"fast": 5, "slow": 13},
        },
    ]
    return _dump(data)


def _data_case(
    name: str,
    content: bytes,
    exit_code: int,
    expect: str,
    *,
    file: str = "data.csv",
    kind: str = "candles",
    symbol: str = "SBIN",
    optional: bool = False,
    cli: bool = False,
    extra_sources: list[dict] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    setup: Callable[[Path], None] | None = None,
) -> AttackCase:
    source: dict[str, object] = {"path": f"{DIR}/{file}", "kind": kind}
    if "*" not in file:
        source["symbol"] = symbol
    if optional:
        source["optional"] = True
    if kind == "ticks":
        source["exchange"] = "NFO"
    files = {file: content} if content is not None else {}
    files.update(extra_files or {})
    files["config.yaml"] = _data_config([source, *(extra_sources or [])])
    return AttackCase(
        "data files", name, files, exit_code, expect, command="run", cli=cli, setup=setup
    )


def data_cases() -> list[AttackCase]:
    good = _kite_rows()
    bad_row = "2023-04-03 09:45:00+05:30,{},{},{},{},{}"
    garbage = bytes((i * 7919) % 256 for i in range(4096))
    cases = [
        _data_case("header only", _candles([]), 4, "no data rows", cli=True),
        _data_case("empty data file", b"", 4, "empty file"),
        _data_case("blank lines only", b"\n\n\n", 4, "unrecognised header"),
        _data_case(
            "wrong columns", _candles(good, "time,price,size\n"), 4, "unrecognised header", cli=True
        ),
        _data_case("no header", _candles(good, ""), 4, "no header line"),
        _data_case(
            "gz that is plain CSV", _candles(good), 0, "NotGzip", file="data.csv.gz", cli=True
        ),
        _data_case("gz that is binary", garbage, 4, "data.csv.gz", file="data.csv.gz"),
        _data_case(
            "truncated gzip",
            gzip.compress(_candles(_kite_rows(2000)), mtime=0)[:3000],
            4,
            "cannot read",
            file="data.csv.gz",
            cli=True,
        ),
        _data_case(
            "gzip of binary", gzip.compress(garbage, mtime=0), 4, "data.csv.gz", file="data.csv.gz"
        ),
        _data_case(
            "corrupt gzip header",
            b"\x1f\x8b\x08\x00\x00\x00junkjunk",
            4,
            "cannot read",
            file="data.csv.gz",
        ),
        _data_case("NUL bytes", _candles(good) + b"\x00\x00\x00\n", 0, "RowSkipped"),
        _data_case(
            "huge field",
            _candles(good) + b"2023-04-03," + b"9" * 200_000 + b"\n",
            4,
            "field larger",
        ),
        _data_case(
            "non-numeric prices",
            _candles([*good, bad_row.format("abc", 1, 1, 1, 1)]),
            0,
            "RowSkipped",
            cli=True,
        ),
        _data_case(
            "all prices non-numeric",
            _candles([bad_row.format("x", "y", "z", "w", 1)]),
            4,
            "unparseable number",
        ),
        _data_case(
            "NaN price", _candles([*good, bad_row.format("nan", 1, 1, 1, 1)]), 0, "RowSkipped"
        ),
        _data_case(
            "inf price", _candles([*good, bad_row.format(1, "inf", 1, 1, 1)]), 0, "RowSkipped"
        ),
        _data_case(
            "negative price", _candles([*good, bad_row.format(-5, 1, -6, -5, 1)]), 0, "RowSkipped"
        ),
        _data_case(
            "zero prices", _candles([*good, bad_row.format(0, 0, 0, 0, 0)]), 0, "RowSkipped"
        ),
        _data_case(
            "price 1e12",
            _candles([*good, bad_row.format(1e12, 1e12, 1e12, 1e12, 1)]),
            0,
            "RowSkipped",
        ),
        _data_case(
            "negative volume",
            _candles([*good, bad_row.format(500, 501, 499, 500, -1)]),
            0,
            "RowSkipped",
            cli=True,
        ),
        _data_case(
            "volume 1e15",
            _candles([*good, bad_row.format(500, 501, 499, 500, 10**15)]),
            0,
            "RowSkipped",
        ),
        _data_case(
            "high below low",
            _candles([*good, bad_row.format(500, 499, 501, 500, 1)]),
            0,
            "RowSkipped",
        ),
        _data_case(
            "open above high",
            _candles([*good, bad_row.format(510, 501, 499, 500, 1)]),
            0,
            "RowSkipped",
        ),
        _data_case(
            "timestamps out of order", _candles(list(reversed(good))), 0, "RowsReordered", cli=True
        ),
        _data_case("timestamps duplicated", _candles(good + good[:5]), 0, "DuplicateBarsDropped"),
        _data_case(
            "timestamp off the minute",
            _candles([*good, "2023-04-03 09:50:30+05:30,500,501,499,500,1"]),
            0,
            "RowSkipped",
        ),
        _data_case(
            "timestamp year 3000",
            _candles([*good, "3000-04-03 09:50:00+05:30,500,501,499,500,1"]),
            0,
            "RowSkipped",
        ),
        _data_case(
            "timestamp garbage", _candles([*good, "yesterday,500,501,499,500,1"]), 0, "RowSkipped"
        ),
        _data_case(
            "all rows outside the session",
            _candles([r.replace(" 09:", " 05:") for r in good]),
            4,
            "outside session",
        ),
        _data_case("stray short line", _candles([*good[:10], "5", *good[10:]]), 0, "RowSkipped"),
        _data_case(  # a file that is nearly all bad rows is misread, not replayed in part
            "100k bad rows",
            _candles([*good, *[bad_row.format("x", 1, 1, 1, 1)] * 100_000]),
            4,
            "unusable, refusing the file",
        ),
        _data_case(
            "file names another symbol",
            _candles([f"TATASTEEL,{r}" for r in good], "code," + KITE_HEADER),
            4,
            "names another symbol",
        ),
        _data_case(
            "file mixes symbols",
            _candles(  # each minute's bar of both: a symbol's own rows a minute apart
                [f"{symbol},{r}" for r in good for symbol in ("WIPRO", "SBIN")],
                "symbol," + KITE_HEADER,
            ),
            0,
            "RowSkipped",
        ),
        _data_case(
            "non-UTF-8 bytes in a row",
            _candles(good) + b"2023-04-03 09:50:00+05:30,\xff\xfe,1,1,1,1\n",
            0,
            "RowSkipped",
        ),
        _data_case(
            "data source is a directory",
            None,
            4,
            "is a directory",
            setup=lambda d: (d / "data.csv").mkdir(),
        ),
        _data_case("source missing", None, 4, "file not found"),
        _data_case("optional source missing", None, 0, "SourceEmpty", optional=True),
        _data_case("optional source header only", _candles([]), 0, "SourceEmpty", optional=True),
        _data_case("glob matching nothing", None, 4, "no file matches", file="none*.csv"),
        _data_case(
            "optional glob matching nothing",
            None,
            0,
            "SourceEmpty",
            file="none*.csv",
            optional=True,
        ),
        _data_case(
            "glob with one empty file",
            None,
            0,
            "SourceFileEmpty",
            file="g/*.csv",
            extra_files={"g/SBIN.a.csv": _candles(good), "g/SBIN.b.csv": _candles([])},
        ),
        _data_case(
            "ticks with a header",
            ("date,time,price,qty,oi\n" + "\n".join(_tick_rows())).encode(),
            4,
            "not a headerless vendor tick file",
            kind="ticks",
            symbol="NIFTY22NOVFUT",
        ),
        _data_case(
            "ticks negative quantity",
            ("\n".join([*_tick_rows(), "20221118,09:20:00,18300,-5,1000"]) + "\n").encode(),
            0,
            "RowSkipped",
            kind="ticks",
            symbol="NIFTY22NOVFUT",
        ),
        _data_case(
            "ticks all bad",
            b"20221118,09:20:00,x,1,1\n20221118,09:20:01,nan,1,1\n",
            4,
            "no usable rows",
            kind="ticks",
            symbol="NIFTY22NOVFUT",
        ),
        _data_case("ticks binary", garbage, 4, "data.csv", kind="ticks", symbol="NIFTY22NOVFUT"),
        _data_case(
            "index values wrong layout",
            b"a,b,c\n1,2,3\n",
            4,
            "not an index value file",
            kind="index",
            symbol="NIFTY 50",
        ),
        _data_case(
            "index values NaN",
            b"2022-11-18 09:15:00,18300\n2022-11-18 09:15:01,nan\n",
            0,
            "RowSkipped",
            kind="index",
            symbol="NIFTY 50",
        ),
        _data_case(
            "index header only",
            b"timestamp,value\n",
            4,
            "no data rows",
            kind="index",
            symbol="NIFTY 50",
        ),
    ]
    return cases


# ============================================================================ running


BUILDERS: list[tuple[str, Callable[[], list[AttackCase]]]] = [
    ("configs", config_cases),
    ("data files", data_cases),
]


def build_corpus() -> list[AttackCase]:
    cases = [case for _klass, builder in BUILDERS for case in builder()]
    names = [case.name for case in cases]
    repeated = {name for name in names if names.count(name) > 1}
    if repeated:
        raise ValueError(f"case names repeat: {sorted(repeated)}")
    return cases


def materialize(case: AttackCase, root: Path) -> Path:
    """Write the case's files under ``root/<slug>``; -> the case directory."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{case.klass}-{case.name}").strip("-")
    directory = root / slug
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.replace(DIR.encode(), str(directory).encode()))
    if case.setup is not None:
        case.setup(directory)
    return directory


def run_in_process(case: AttackCase, directory: Path) -> Outcome:
    """``check-config``'s checks, as its exit code and stderr would show them."""
    from kitetui.config import ConfigError, load_config
    from kitetui.market.instruments import InstrumentError
    from kitetui.market.loaders import DataFormatError
    from kitetui.market.universe import UniverseError
    from kitetui.preflight import check_inputs

    config_path = directory / case.config
    try:
        config = load_config(config_path)
        report = check_inputs(config, config_path, scan_data=True)
    except (ConfigError, UniverseError) as exc:
        return Outcome(2, f"error: {exc}\n")
    except (DataFormatError, InstrumentError) as exc:
        return Outcome(4, f"error: {exc}\n")
    except Exception:  # a crash is what the corpus exists to find
        return Outcome(1, traceback.format_exc())
    return Outcome(0, "", [f"{e.kind}: {e.message}" for e in report.events])


def run_cli(case: AttackCase, directory: Path, timeout: float = 120) -> Outcome:
    """The real command line, in a fresh interpreter."""
    config = str(directory / case.config)
    if case.command == "run":
        db = directory / "cli.db"
        args = ["run", "--no-ui", "--speed", "max", "--config", config, "--db", str(db)]
    else:
        db = None
        args = ["check-config", config]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "kitetui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=directory,
        env=env,
    )
    events = read_events(db) if db is not None else []
    return Outcome(proc.returncode, proc.stderr, events)


def read_events(db: Path) -> list[str]:
    """``Kind: message`` of every event a run journaled (none when no database)."""
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [f"{k}: {m}" for k, m in conn.execute("SELECT kind, message FROM events")]


def read_count(db: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def judge(case: AttackCase, outcome: Outcome, directory: Path) -> Verdict:
    """Does the outcome answer the case as it must (module docstring)?"""
    lines = outcome.stderr.strip().splitlines()
    if outcome.exit_code != case.expect_exit:
        first = outcome.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        return Verdict(
            case, False, f"exit {outcome.exit_code}, expected {case.expect_exit}: {first[0][:300]}"
        )
    if "Traceback" in outcome.stderr:
        return Verdict(case, False, "a traceback on stderr")
    if case.expect_exit == 0:
        if not any(event.startswith(f"{case.expect}:") for event in outcome.events):
            return Verdict(
                case,
                False,
                f"no {case.expect} event among {sorted({e.split(':')[0] for e in outcome.events})}",
            )
        return Verdict(case, True, "ok")
    if len(lines) != 1:
        return Verdict(case, False, f"{len(lines)} stderr lines, expected 1: {lines[:3]}")
    line = lines[0]
    if not line.isprintable():
        return Verdict(case, False, f"unprintable characters in {line!r}")
    if case.expect not in line:
        return Verdict(case, False, f"{case.expect!r} not in {line[:300]!r}")
    if case.expect_exit == 2 and str(directory / case.config) not in line:
        return Verdict(case, False, f"the config file is not named: {line[:300]!r}")
    return Verdict(case, True, "ok")


def run_case(case: AttackCase, root: Path, *, cli: bool = False) -> Verdict:
    if case.skip_reason:
        return Verdict(case, True, f"skipped: {case.skip_reason}")
    directory = materialize(case, root / ("cli" if cli else "inproc"))
    outcome = run_cli(case, directory) if cli else run_in_process(case, directory)
    return judge(case, outcome, directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cli",
        type=int,
        default=0,
        metavar="N",
        help="also run up to N cases per class through the real CLI (those marked cli first)",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--all",
        action="store_true",
        help="also the database damages (real CLI) and two seeded chains of SIGKILL points",
    )
    parser.add_argument("--only", help="run the cases whose name contains this text")
    args = parser.parse_args(argv)
    cases = build_corpus()
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    if args.list:
        for case in cases:
            print(f"{case.klass:10} exit {case.expect_exit}  {case.name}  [{case.expect}]")
        return 0
    failures: list[Verdict] = []
    with tempfile.TemporaryDirectory(prefix="kitetui-attack-") as tmp:
        root = Path(tmp)
        for klass, _builder in BUILDERS:
            mine = [c for c in cases if c.klass == klass]
            verdicts = [run_case(c, root) for c in mine]
            if args.cli:
                chosen = sorted(mine, key=lambda c: not c.cli)[: args.cli]
                verdicts += [run_case(c, root, cli=True) for c in chosen]
            failed = [v for v in verdicts if not v.ok]
            failures += failed
            print(
                f"{klass:12} {len(mine):4} cases, {len(verdicts):4} runs: "
                f"{len(verdicts) - len(failed)} passed, {len(failed)} failed"
            )
        if args.all and not args.only:
            failures += _database_damages(root)
            failures += _sigkill_points(root)
    for verdict in failures:
        print(f"FAIL {verdict.case.klass}: {verdict.case.name}: {verdict.detail}")
    return 1 if failures else 0


def _attack_module(name: str):
    """A corpus module of the test suite (tests/attacks/), shared with its tests."""
    import importlib

    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    return importlib.import_module(f"attacks.{name}")


def _database_damages(root: Path) -> list[Verdict]:
    """Every damage of ``tests/attacks/database_damage_corpus.py`` through the real CLI:
    its exit code, one stderr line, no traceback, the database and WAL unchanged."""
    corpus = _attack_module("database_damage_corpus")
    masters = corpus.build_masters(root / "db-masters")
    failed = []
    for damage in corpus.DAMAGES:
        outcome = corpus.run_case(damage, masters, root / "db-cases" / damage.name)
        if not outcome.ok:
            case = AttackCase("databases", damage.name, {}, damage.exit_code, damage.says)
            failed.append(Verdict(case, False, "; ".join(outcome.problems)))
    print(
        f"{'databases':12} {len(corpus.DAMAGES):4} cases, {len(corpus.DAMAGES):4} runs: "
        f"{len(corpus.DAMAGES) - len(failed)} passed, {len(failed)} failed"
    )
    return failed


def _sigkill_points(root: Path, seeds: tuple[int, ...] = (11, 29), per_seed: int = 25):
    """Seeded chains of SIGKILLs on one run each (``tests/attacks/sigkill_corpus.py``):
    every resumed run must end on the clean run's ledger with no tag placed twice."""
    corpus = _attack_module("sigkill_corpus")
    folder = root / "sigkill"
    folder.mkdir(parents=True, exist_ok=True)
    config = corpus.light_config(folder)
    clean = corpus.run_clean(config, folder / "clean.db", folder / "clean.log")
    failed, kills = [], 0
    for seed in seeds:
        db = folder / f"seed-{seed}.db"
        result = corpus.run_chain(
            config, db, folder / f"seed-{seed}.log", corpus.kill_points(seed, per_seed)
        )
        kills += result.kills
        same = corpus.ledger(db) == clean
        if not same or result.exit_code or result.duplicate_tags:
            case = AttackCase("sigkill", f"seed-{seed}", {}, 0, "clean ledger")
            detail = f"ledger same: {same}, exit {result.exit_code}, {result.duplicate_tags} dup"
            failed.append(Verdict(case, False, detail))
    print(
        f"{'SIGKILLs':12} {kills:4} kill points on {len(seeds)} runs: "
        f"{len(seeds) - len(failed)} runs resumed to the clean ledger, {len(failed)} did not"
    )
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
