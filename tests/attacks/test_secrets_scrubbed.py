"""A secret in an error no one planned for: a library quoting the Authorization header,
a URL with the token in its query. Once kitetui has read the access token (or the API
key and secret, or a login's request token), no text leaving the process shows it:
not stderr (the one error line, or the traceback of an unexpected error), not a log
record, not the journal, not the screen. Each shows ``***`` in its place.

The secret here is a made-up token in a temp token file, read by the same
``load_token`` a live desk's login calls; the failure is planted by a bootstrap that
wraps one supervisor step, as tests/attacks/test_disk_full.py plants a full disk.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from kitetui import cli
from kitetui.clock import IST
from kitetui.kite.session import AccessToken, load_token, save_token, trading_date
from tests.attacks.sigkill_corpus import light_config

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX")

TOKEN = "Zq7TokenOfTheDay4c9F2kLmN0pQrS8tUvWx"  # letters and digits, as Kite's

BOOTSTRAP = """
import logging
import sqlite3
import sys

from kitetui.kite.session import load_token
from kitetui.supervisor import gate

token = load_token(sys.argv[1]).value  # what a live desk's login reads
real = gate.Supervisor._process
seen = [0]


async def _process(self, ts, batch, warm):
    seen[0] += 1
    if seen[0] == 40:
        try:
            raise ConnectionError(f"GET /quote?access_token={token} answered 403")
        except ConnectionError:
            logging.getLogger("kitetui.venues.kite").exception("quote failed (token %s)", token)
        raise RuntimeError(f"feed lost: Authorization: token apikey:{token}")
    return await real(self, ts, batch, warm)


gate.Supervisor._process = _process
from kitetui.cli import main

raise SystemExit(main(sys.argv[2:]))
"""


def token_file(folder: Path) -> Path:
    now = datetime.now(IST)
    path = folder / "access_token.json"
    save_token(path, AccessToken(TOKEN, "AB1234", trading_date(now), now))
    return path


def test_an_unexpected_failure_quoting_the_token_never_shows_it(tmp_path: Path) -> None:
    secrets, desk = tmp_path / "secrets", tmp_path / "desk"
    secrets.mkdir()
    desk.mkdir()
    db = desk / "state.db"

    done = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, str(token_file(secrets)), "run", "--no-ui",
         "--log-level", "INFO", "--config", str(light_config(desk)), "--db", str(db)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    shown = done.stdout + done.stderr  # stdout: the headless log (events and records)
    assert "quote failed (token ***)" in done.stdout
    assert "access_token=*** answered 403" in done.stdout  # the record's traceback
    assert "feed lost: Authorization: token apikey:***" in shown
    assert TOKEN not in shown
    for path in desk.iterdir():  # the journal, its WAL and seal, every file beside it
        assert TOKEN.encode() not in path.read_bytes(), path.name
    with sqlite3.connect(db) as conn:
        (message,) = conn.execute(
            "SELECT message FROM events WHERE kind = 'SupervisorFailed'"
        ).fetchone()
    assert message == "RuntimeError: feed lost: Authorization: token apikey:***"


def test_the_cli_error_line_and_an_unexpected_traceback_are_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    load_token(token_file(tmp_path))

    def boom(*_args: object, **_kwargs: object) -> None:
        raise ValueError(f"upstream said: invalid token {TOKEN}")

    monkeypatch.setattr("kitetui.preflight.check_inputs", boom)
    code = cli.main(["check-config", str(cli.DEFAULT_CONFIG)])

    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "ValueError: upstream said: invalid token ***" in err and TOKEN not in err


def test_a_log_record_quoting_a_secret_is_scrubbed_for_every_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITE_API_KEY", "kiteapikey77")
    monkeypatch.setenv("KITE_API_SECRET", "s3cretS3cretS3cret")
    from kitetui.kite.session import Credentials

    Credentials.load()
    log_file = tmp_path / "kitetui.log"
    handler = logging.FileHandler(log_file)
    logger = logging.getLogger("kitetui.test_secrets")
    logger.addHandler(handler)
    try:
        try:
            raise OSError("checksum of kiteapikey77 + s3cretS3cretS3cret refused")
        except OSError:
            logger.error("login failed for %s", "kiteapikey77", exc_info=True)
    finally:
        logger.removeHandler(handler)
        handler.close()

    text = log_file.read_text()
    assert "login failed for ***" in text and "checksum of *** + *** refused" in text
    assert "kiteapikey77" not in text and "s3cretS3cretS3cret" not in text
