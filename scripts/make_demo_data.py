#!/usr/bin/env python3
"""Regenerate the demo replay data bundled in ``kitetui/data/replay/`` from ../shared/data.

The excerpt is cut, never rewritten: the header line and the selected data lines are
copied byte for byte, then gzip-compressed at level 9 with no file name and a zero
mtime (what ``gzip -9 -n`` does), so the output is reproducible. The tick files are
small and copied as is (same bytes and sha256 as in the shared set). The README with
provenance, row counts and date ranges is written from the same figures.

``nfo_20221118/`` is a whole F&O + options replay day (2022-11-18): the next-month
NIFTY future, NIFTY options around the money for the 24-Nov and 01-Dec expiries, the
NIFTY 50 index at one value a second, all copied byte for byte and named by their
Kite tradingsymbol, plus ``instruments.csv``, a Kite-format instrument master of every
NIFTY contract in the source for that day (synthetic tokens, see the README).

    python scripts/make_demo_data.py [--source ../shared/data] [--dest kitetui/data/replay]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import os
import re
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path(os.environ.get("KITETUI_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_DEST = ROOT / "kitetui" / "data" / "replay"

KITE_DIR = "intraday_1min/kite_bank_stocks_2023_lullaharsh1"
KITE_SYMBOLS = ("BANKNIFTY", "HDFCBANK", "ICICIBANK", "SBIN", "KOTAKBANK", "AXISBANK")
SESSIONS = 5
TICKS_SOURCE = "ticks/index_fut_ticks_20221118_shardul0007/NIFTY-I.csv.gz"
TICKS_NAME = "NIFTY-I_20221118.csv.gz"

# --- the 2022-11-18 F&O + options day, in dest/NFO_DIR
NFO_DIR = "nfo_20221118"
FUT_SOURCE_DIR = "ticks/index_fut_ticks_20221118_shardul0007"
OPT_SOURCE_DIR = "options/nfo_opt_ticks_20221118_shardul0007"
INDEX_SOURCE = "ticks/nse_nifty50_index_1s_anshkumar/2022-11-18.csv.gz"
INDEX_NAME = "NIFTY50-INDEX_20221118.csv.gz"
UNDERLYING = "NIFTY"
LOT_SIZE = 50  # NIFTY lot size in Nov 2022 (the shared 2026 Kite dump has 65)
TICK_SIZE = 0.05
# Continuous-contract source file -> (Kite tradingsymbol, expiry). NSE monthly expiry is
# the last Thursday; 2023-01-26 was Republic Day, so the Jan series expired on Wed 25th.
FUTURES = (
    ("NIFTY-I", "NIFTY22NOVFUT", date(2022, 11, 24)),
    ("NIFTY-II", "NIFTY22DECFUT", date(2022, 12, 29)),
    ("NIFTY-III", "NIFTY23JANFUT", date(2023, 1, 25)),
)
BUNDLED_FUTURES = ("NIFTY-II",)  # NIFTY-I is already bundled at the top level (TICKS_NAME)
OPTION_EXPIRIES = (date(2022, 11, 24), date(2022, 12, 1), date(2022, 12, 29))
# Option tick files bundled: strikes within +-band points of BAND_CENTRE, CE and PE. The
# day's NIFTY 50 session range was 18,210-18,394. Wider bands (+-600 / +-400) would bundle
# 4.2 MB; these keep everything under ~3 MB (the files are copied, never re-compressed).
BAND_CENTRE = 18300
OPTION_BANDS = {date(2022, 11, 24): 250, date(2022, 12, 1): 150}
INDEX_ROW = ("256265", "1001", "NIFTY 50", "NIFTY 50", "0.0", "", "0.0", "0.0", "0", "EQ")
INSTRUMENTS_HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
    "tick_size,lot_size,instrument_type,segment,exchange"
)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODES = "123456789OND"
NFO_SEGMENT_ID = 2  # Kite: instrument_token = exchange_token * 256 + segment id (NFO = 2)
SYNTHETIC_TOKEN_BASE = 7_000_000  # synthetic exchange tokens: 7,000,000 .. 7,999,999
SYNTHETIC_TOKEN_SPAN = 1_000_000
_OPTION_FILE = re.compile(r"NIFTY(\d{2})(\d{2})(\d{2})(\d+)(CE|PE)\.csv\.gz")


def first_sessions(data: bytes, sessions: int) -> tuple[bytes, list[bytes]]:
    """The header plus every line of the first ``sessions`` dates (the first 10 chars)."""
    lines = data.splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    dates: list[bytes] = []
    kept: list[bytes] = []
    for line in body:
        day = line[:10]
        if day not in dates:
            if len(dates) == sessions:
                break
            dates.append(day)
        kept.append(line)
    return header + b"".join(kept), kept


def write_gzip(path: Path, data: bytes) -> None:
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def describe(path: Path, data_lines: list[bytes], date_of, time_of) -> dict[str, object]:
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "rows": len(data_lines),
        "first": f"{date_of(data_lines[0])} {time_of(data_lines[0])}",
        "last": f"{date_of(data_lines[-1])} {time_of(data_lines[-1])}",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args(argv)
    source: Path = args.source
    dest: Path = args.dest
    if not (source / "SOURCE.md").is_file():
        print(f"shared data not found at {source} (no SOURCE.md)", file=sys.stderr)
        return 1
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for symbol in KITE_SYMBOLS:
        data = gzip.decompress((source / KITE_DIR / f"{symbol}.csv.gz").read_bytes())
        excerpt, lines = first_sessions(data, SESSIONS)
        out = dest / f"{symbol}.csv.gz"
        write_gzip(out, excerpt)
        rows.append(describe(out, lines, lambda b: b[:10].decode(), lambda b: b[11:16].decode()))
    out = dest / TICKS_NAME
    shutil.copyfile(source / TICKS_SOURCE, out)
    lines = gzip.decompress(out.read_bytes()).splitlines()
    rows.append(
        describe(
            out,
            lines,
            lambda b: b[:8].decode()[:4] + "-" + b[4:6].decode() + "-" + b[6:8].decode(),
            lambda b: b[9:17].decode(),
        )
    )
    nfo_rows, master = make_nfo_day(source, dest / NFO_DIR)
    (dest / "README.md").write_text(readme(rows, nfo_rows, master), encoding="utf-8")
    for row in [*rows, *nfo_rows]:
        print(
            f"{row['file']:36} {row['bytes']:>8} B {row['rows']:>6} rows  "
            f"{row['first']} → {row['last']}"
        )
    total = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"{len(master)} instruments; {total:,} bytes in {dest}")
    return 0


# --------------------------------------------------------------------------- F&O day


def is_monthly_expiry(expiry: date) -> bool:
    """The last expiry of its month (a week later is next month): NSE's monthly series."""
    return (expiry + timedelta(days=7)).month != expiry.month


def option_tradingsymbol(expiry: date, strike: int, right: str) -> str:
    """Kite: ``NIFTY22NOV18300CE`` (monthly), ``NIFTY22D0118300CE`` (weekly: YY M DD)."""
    yy = f"{expiry.year % 100:02d}"
    if is_monthly_expiry(expiry):
        return f"{UNDERLYING}{yy}{MONTHS[expiry.month - 1]}{strike}{right}"
    return f"{UNDERLYING}{yy}{WEEKLY_MONTH_CODES[expiry.month - 1]}{expiry.day:02d}{strike}{right}"


def source_options(source: Path) -> list[tuple[date, int, str, Path]]:
    """Every option tick file of the three expiries: (expiry, strike, CE/PE, path)."""
    found = []
    for expiry in OPTION_EXPIRIES:
        folder = source / OPT_SOURCE_DIR / f"NIFTY_exp{expiry:%Y%m%d}"
        for path in sorted(folder.iterdir()):
            match = _OPTION_FILE.fullmatch(path.name)
            if match is None:
                raise ValueError(f"unexpected option file name {path}")
            yy, mm, dd, strike, right = match.groups()
            if date(2000 + int(yy), int(mm), int(dd)) != expiry:
                raise ValueError(f"{path} is not in the {expiry} expiry")
            found.append((expiry, int(strike), right, path))
    return found


def synthetic_tokens(tradingsymbols: list[str]) -> dict[str, int]:
    """Stable synthetic exchange tokens from a hash of the tradingsymbol (probe on clash)."""
    taken: set[int] = set()
    out = {}
    for symbol in sorted(tradingsymbols):
        digest = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big")
        offset = digest % SYNTHETIC_TOKEN_SPAN
        while SYNTHETIC_TOKEN_BASE + offset in taken:
            offset = (offset + 1) % SYNTHETIC_TOKEN_SPAN
        taken.add(SYNTHETIC_TOKEN_BASE + offset)
        out[symbol] = SYNTHETIC_TOKEN_BASE + offset
    return out


def instruments_csv(options: list[tuple[date, int, str, Path]]) -> tuple[bytes, list[list[str]]]:
    """The Kite-format master: the index, the three futures, every option in the source."""
    contracts = [(symbol, expiry, 0, "FUT", "NFO-FUT") for _name, symbol, expiry in FUTURES] + [
        (option_tradingsymbol(expiry, strike, right), expiry, strike, right, "NFO-OPT")
        for expiry, strike, right, _path in options
    ]
    contracts.sort(key=lambda c: (c[4], c[1], c[2], c[3]))
    tokens = synthetic_tokens([c[0] for c in contracts])
    rows = [[*INDEX_ROW, "INDICES", "NSE"]]
    for symbol, expiry, strike, kind, segment in contracts:
        exchange_token = tokens[symbol]
        rows.append(
            [
                str(exchange_token * 256 + NFO_SEGMENT_ID),
                str(exchange_token),
                symbol,
                UNDERLYING,
                "0.0",
                expiry.isoformat(),
                f"{float(strike)}",
                f"{TICK_SIZE}",
                str(LOT_SIZE),
                kind,
                segment,
                "NFO",
            ]
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # CRLF like Kite's own CSV
    writer.writerow(INSTRUMENTS_HEADER.split(","))
    writer.writerows(rows)
    return buffer.getvalue().encode(), rows


def _tick_dates(line: bytes) -> str:
    return f"{line[:4].decode()}-{line[4:6].decode()}-{line[6:8].decode()}"


def copy_ticks(source_file: Path, out: Path, source_name: str, **extra: object) -> dict:
    """Copy a vendor tick file as is; describe it for the README."""
    shutil.copyfile(source_file, out)
    lines = gzip.decompress(out.read_bytes()).splitlines()
    row = describe(out, lines, _tick_dates, lambda b: b[9:17].decode())
    row.update(source=source_name, session=_in_session(lines, slice(9, 17)), **extra)
    return row


def _in_session(lines: list[bytes], time: slice) -> int:
    """Rows the loaders keep: 09:15:00 <= time < 15:30:00."""
    return sum(1 for line in lines if b"09:15:00" <= line[time] < b"15:30:00")


def make_nfo_day(source: Path, dest: Path) -> tuple[list[dict], list[list[str]]]:
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, symbol, _expiry in FUTURES:
        if name in BUNDLED_FUTURES:
            rows.append(
                copy_ticks(
                    source / FUT_SOURCE_DIR / f"{name}.csv.gz",
                    dest / f"{name}_20221118.csv.gz",
                    f"{FUT_SOURCE_DIR}/{name}.csv.gz",
                    tradingsymbol=symbol,
                )
            )
    options = source_options(source)
    for expiry, strike, right, path in options:
        band = OPTION_BANDS.get(expiry)
        if band is None or abs(strike - BAND_CENTRE) > band:
            continue
        symbol = option_tradingsymbol(expiry, strike, right)
        rows.append(
            copy_ticks(
                path,
                dest / f"{symbol}.csv.gz",
                f"{OPT_SOURCE_DIR}/{path.parent.name}/{path.name}",
                tradingsymbol=symbol,
            )
        )
    out = dest / INDEX_NAME
    shutil.copyfile(source / INDEX_SOURCE, out)
    lines = gzip.decompress(out.read_bytes()).splitlines()
    row = describe(out, lines, lambda b: b[:10].decode(), lambda b: b[11:19].decode())
    row.update(
        source=INDEX_SOURCE, tradingsymbol="NIFTY 50", session=_in_session(lines, slice(11, 19))
    )
    rows.append(row)
    data, master = instruments_csv(options)
    (dest / "instruments.csv").write_bytes(data)
    return rows, master


def readme(rows: list[dict[str, object]], nfo_rows: list[dict], master: list[list[str]]) -> str:
    table = "\n".join(
        f"| `{r['file']}` | {r['rows']:,} | {r['first']} | {r['last']} | {r['bytes']:,} |"
        for r in rows
    )
    nfo_table = "\n".join(
        f"| `{r['file']}` | `{r['tradingsymbol']}` | {r['rows']:,} | {r['session']:,} "
        f"| {str(r['first'])[11:]} | {str(r['last'])[11:]} | {r['bytes']:,} "
        f"| `{str(r['source']).rsplit('/', 1)[-1]}` |"
        for r in nfo_rows
    )
    sums = "\n".join(
        [f"    {r['sha256']}  {r['file']}" for r in rows]
        + [f"    {r['sha256']}  {NFO_DIR}/{r['file']}" for r in nfo_rows]
    )
    nfo_bytes = sum(int(r["bytes"]) for r in nfo_rows)
    options = [r for r in master if r[10] == "NFO-OPT"]
    series = []
    for expiry in OPTION_EXPIRIES:
        listed = [r for r in options if r[5] == expiry.isoformat()]
        strikes = sorted({float(r[6]) for r in listed})
        band = OPTION_BANDS.get(expiry)
        bundled = [
            r
            for r in nfo_rows
            if r["file"] != INDEX_NAME and r["tradingsymbol"] in {x[2] for x in listed}
        ]
        kind = "monthly" if is_monthly_expiry(expiry) else "weekly"
        example = option_tradingsymbol(expiry, BAND_CENTRE, "CE")
        ticks = (
            f"{len(bundled)} tick files bundled (strikes {BAND_CENTRE - band:,}–"
            f"{BAND_CENTRE + band:,}, CE and PE)"
            if band
            else "no tick files bundled (master only)"
        )
        series.append(
            f"| {expiry:%d-%b-%Y} | {kind} | `{example}` | {len(listed)} | {len(strikes)} "
            f"({strikes[0]:,.0f}–{strikes[-1]:,.0f}) | {ticks} |"
        )
    series_table = "\n".join(series)
    futures = "\n".join(
        f"  * `{name}.csv.gz` → `{symbol}`, expiry {expiry.isoformat()}"
        + (
            f",\n    bundled as `{TICKS_NAME}` at the top level"
            if name == "NIFTY-I"
            else f",\n    bundled as `{NFO_DIR}/{name}_20221118.csv.gz`"
            if name in BUNDLED_FUTURES
            else ",\n    in the master only (no ticks bundled)"
        )
        for name, symbol, expiry in FUTURES
    )
    sources = "\n".join(f"    {r['file']:36} <- {r['source']}" for r in nfo_rows)
    return f"""# Demo replay data

A small excerpt of real NSE market data, bundled so that `kitetui` with no arguments
(paper trading on a replay) works without an account or a download. Load it with
`kitetui.market.loaders.load_candles(data_path("pkg:replay/SBIN.csv.gz"), "SBIN")` and
`load_ticks(data_path("pkg:replay/{TICKS_NAME}"), "NIFTY")`. `{NFO_DIR}/` holds a whole
F&O + options day (below).

Generated by `scripts/make_demo_data.py` from the project's shared data set
(`../shared/data`, described in its `SOURCE.md`); run it again to regenerate the
identical files (`--dest DIR` writes elsewhere). Rows are cut, never rewritten: the
header line and the data lines are byte-for-byte copies of the source, gzip-compressed
with level 9, no name, mtime 0 (`gzip -9 -n`); the tick files are the shared set's
gzip files unchanged. Timestamps are IST (UTC+05:30).

## Files

| file | data rows | first (IST) | last (IST) | bytes |
|---|---:|---|---|---:|
{table}

* `BANKNIFTY`, `HDFCBANK`, `ICICIBANK`, `SBIN`, `KOTAKBANK`, `AXISBANK`: Kite Connect
  historical API 1-minute candles, the first {SESSIONS} sessions of the source files
  (2023-04-03, 04-05, 04-06, 04-10, 04-11; 04-04 and 04-07 were exchange holidays).
  Columns `Date,open,high,low,close,volume` with `YYYY-MM-DD HH:MM:SS+05:30`.
  BANKNIFTY is the NIFTY BANK index (volume 0). 375 bars a session, bar start
  09:15 … 15:29, no missing minute (Kite's occasional 15:30 closing bar does not occur
  in this excerpt; the loader would drop it with a `BarOutsideSession` event).
  Origin: `lullaharsh1/Dispersion` @ `2353480de18f9d7635afe5378636bb22e6c36431`,
  `underlyings/<SYM>.csv`.
* `{TICKS_NAME}`: NIFTY near-month (Nov-2022) futures ticks for the whole of
  2022-11-18, headerless `YYYYMMDD,HH:MM:SS,last_price,last_traded_qty,open_interest`,
  1-second resolution with several rows per second (file order is kept). The file is
  the shared set's `{TICKS_SOURCE}` unchanged.
  Origin: `Shardul0007/BackTester_And_Visualizer` @
  `877a463ed61a234d7ed4d4c135a2b67c09c60616`, `NSE_20221118/Futures/NIFTY-I.csv`
  (deleted upstream in the next commit `279da352a080a2cf25cbf73b12df989993d3fdb1`).
  Its last row is stamped 15:30:00; the loader drops it (`TickOutsideSession`), the
  same minute as Kite's 15:30 closing candle. Its tradingsymbol is `NIFTY22NOVFUT`.

## `{NFO_DIR}/` — F&O and options replay day, Friday 2022-11-18

NIFTY 50 ranged 18,210.30–18,393.80 in the session (pre-open indicative values
18,382.95–18,439.10; close 18,307.65), the Nov future 18,256.50–18,417.00, the Dec
future 18,350.15–18,510.00. Every file below is a byte-for-byte copy of a
shared-set file, renamed to the contract's Kite tradingsymbol. {len(nfo_rows)} files,
{nfo_bytes:,} bytes of ticks, plus `instruments.csv`.

    from kitetui.market.loaders import data_path, load_ticks
    from kitetui.market.index_loader import load_index_values
    load_ticks(data_path("pkg:replay/{NFO_DIR}/NIFTY22NOV18300CE.csv.gz"), "NIFTY22NOV18300CE")
    load_ticks(data_path("pkg:replay/{NFO_DIR}/NIFTY-II_20221118.csv.gz"), "NIFTY22DECFUT")
    load_index_values(data_path("pkg:replay/{NFO_DIR}/{INDEX_NAME}"), "NIFTY 50")
    # master: pkg:replay/{NFO_DIR}/instruments.csv (Kite CSV format)

* Futures and option files: headerless vendor ticks
  `YYYYMMDD,HH:MM:SS,last_price,last_traded_qty,open_interest` (GDFL-style; 1-second
  stamps, several rows per second, file order kept), read by `load_ticks`.
  Futures (continuous-contract source names; which contract a series is depends on
  the day, so a candle file naming `NIFTY-II` in its symbol column loads as
  `NIFTY22DECFUT` on these dates and is refused as `NIFTY22NOVFUT`: `docs/config.md`,
  `kitetui/market/futures_series.py`. These tick files have no symbol column: their
  file name says the series, and a replay checks it by date the same way, so the
  mapping below is the one a config must give on 2022-11-18):
{futures}
* Options: the source folder `{OPT_SOURCE_DIR}/NIFTY_exp<YYYYMMDD>/`
  holds one file `NIFTY<YYMMDD><STRIKE><CE|PE>.csv.gz` per contract that traded that
  day. Bundled: the strikes of the bands around {BAND_CENTRE:,} in the table below, both
  rights (every strike in the bands has both a CE and a PE file). Illiquid strikes have few rows and
  start late / stop early: see the first/last columns.
* `{INDEX_NAME}`: NIFTY 50 index values from the NSE website chart,
  headerless `YYYY-MM-DD HH:MM:SS,value`, one row a second. It starts at 09:00:16 (pre-open
  indicative values until 09:14:59) and ends at 15:33:51 (post-close repeats); inside
  09:15:00–15:29:59 there is exactly one row per second, no gap. `load_ticks` cannot read
  this layout: use `kitetui.market.index_loader.load_index_values` (ticks with qty 0;
  pre-open and post-close rows dropped with one `TickOutsideSession` event each).
  Origin: `anshkumar/nse-tick-data` @ `b989ca1f4b78afe8c36f0cea095f4e48b648eebc`,
  `2022-11-18.csv`.
* Futures and options origin: `Shardul0007/BackTester_And_Visualizer` @
  `877a463ed61a234d7ed4d4c135a2b67c09c60616`, `NSE_20221118/Futures/NIFTY-II.csv` and
  `NSE_20221118/Options/<CONTRACT>.csv` (deleted upstream in the next commit).

| file | tradingsymbol | data rows | in session | first | last | bytes | source file |
|---|---|---:|---:|---|---|---:|---|
{nfo_table}

"in session" = rows the loaders keep (09:15:00 <= time < 15:30:00). Source paths,
relative to the shared data set:

{sources}

### Option series

| expiry | series | tradingsymbol | contracts in master | strikes | bundled ticks |
|---|---|---|---:|---|---|
{series_table}

24-Nov-2022 was the last Thursday of November, i.e. the November *monthly* expiry
(the shared set's SOURCE.md calls it weekly); 01-Dec-2022 a weekly; 29-Dec-2022 the
December monthly.

### `instruments.csv` — instrument master in Kite's format

Header exactly Kite's
`{INSTRUMENTS_HEADER}`,
CRLF line ends like Kite's own CSV (the official kiteconnect-mocks `instruments_all.csv`),
no comment lines. {len(master)} rows, sorted by segment, expiry, strike, type:

* `NIFTY 50` index: `256265,1001,NIFTY 50,NIFTY 50,0.0,,0.0,0.0,0,EQ,INDICES,NSE`
  (Kite's real token).
* 3 NIFTY futures (`NFO-FUT`): `NIFTY22NOVFUT` 2022-11-24, `NIFTY22DECFUT` 2022-12-29,
  `NIFTY23JANFUT` 2023-01-25 (the Jan-2023 monthly expiry moved to Wednesday because
  Thursday 2023-01-26 was Republic Day).
* {len(options)} NIFTY options (`NFO-OPT`): one row per option tick file in the source
  for the three expiries, i.e. every contract that *traded* on 2022-11-18 — NSE had
  more contracts listed (untraded strikes, and the other right of some strikes), which
  no file records. Kite tradingsymbols: monthly `NIFTY<YY><MON><STRIKE><CE|PE>`
  (`NIFTY22NOV18300CE`, `NIFTY22DEC18300PE`), weekly `NIFTY<YY><M><DD><STRIKE><CE|PE>`
  with M = 1–9, O, N, D for Jan–Dec (`NIFTY22D0118300CE`); futures `NIFTY<YY><MON>FUT`.
* `name` NIFTY, `last_price` 0.0, `strike` as a float (`18300.0`, `0.0` for futures),
  `tick_size` 0.05, `lot_size` {LOT_SIZE} (the NIFTY lot size of the time; today's is
  different).
* **Tokens are synthetic.** Kite's real tokens for these expired contracts are not
  available. `exchange_token` = {SYNTHETIC_TOKEN_BASE:,} + (first 8 bytes of
  sha256(tradingsymbol), big-endian) mod {SYNTHETIC_TOKEN_SPAN:,} (the next free value
  on a clash, in tradingsymbol order), and `instrument_token` = exchange_token × 256 + 2
  (Kite's layout, NFO segment id 2). They are stable across runs, unique, in
  1,792,000,002–2,047,999,746 (below 2^31): they cannot collide with the index token
  256265 (segment id 9) and lie far above every token in the Kite dumps of the shared
  data and mocks (< 2.5 × 10^8). Do not send them to Kite.

## Licence

Neither source repository contains a LICENSE file or states a licence for its data;
this is third-party market data of unclear redistribution status. It is shipped only
as a small excerpt for the demo and tests, with this attribution. Do not extend it;
larger data sets stay outside the package.

## sha256

{sums}
"""


if __name__ == "__main__":
    raise SystemExit(main())
