"""Credentials, login, the token file and `doctor`, with a fake Kite /session/token.

The fake verifies the SHA-256 checksum (api_key + request_token + api_secret) exactly
as Kite does, so the login flow is tested end to end through the real client. Every
test also checks that the api_secret and the access token never reach a message.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import logging
import os
import stat
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from kite_helpers import ThreadedServer, kite_error, kite_ok

from kitetui.clock import IST
from kitetui.kite.session import (
    AccessToken,
    Credentials,
    CredentialsError,
    LoginFailed,
    TokenExpired,
    TokenMissing,
    exchange_token,
    load_token,
    login_url,
    parse_request_token,
    run_doctor,
    run_login,
    save_token,
    time_until_expiry,
    token_expires_at,
    trading_date,
)

API_KEY = "fakeapikey123"
API_SECRET = "SECRETapiSECRET456789"
ACCESS_TOKEN = "SECRETaccessTOKEN987654"
REQUEST_TOKEN = "reqTok42abc"
DEV_CONFIG = Path(__file__).resolve().parents[1] / "kitetui" / "data" / "dev.yaml"
# The Kite checks need a config that trades through Kite (a replay skips them).
KITE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "rehearsal.yaml"


class FakeSession(ThreadedServer):
    """POST /session/token (checksum verified, single-use request tokens) and
    GET /user/profile on 127.0.0.1, in a thread so synchronous code can call it."""

    thread_name = "fake-session"

    def __init__(self) -> None:
        super().__init__()
        self.issued = {REQUEST_TOKEN}  # what the browser login would have handed out
        self.used: set[str] = set()
        self.echo_secret = False
        self.profile_hits = 0

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        expected = hashlib.sha256(
            (API_KEY + form["request_token"] + API_SECRET).encode()
        ).hexdigest()
        if self.echo_secret:  # a misbehaving server: the client must redact
            return kite_error(400, "InputException", f"bad {API_SECRET}")
        if (
            form["api_key"] != API_KEY
            or form["checksum"] != expected
            or form["request_token"] not in self.issued
            or form["request_token"] in self.used
        ):
            return kite_error(403, "TokenException", "Token is invalid or has expired.")
        self.used.add(form["request_token"])
        return kite_ok(
            {
                "user_id": "XX0000",
                "api_key": API_KEY,
                "access_token": ACCESS_TOKEN,
                "public_token": "pub",
                "refresh_token": "",
                "login_time": "2026-11-20 08:15:00",
            }
        )

    async def profile(self, request: web.Request) -> web.Response:
        self.profile_hits += 1
        if request.headers.get("Authorization") != f"token {API_KEY}:{ACCESS_TOKEN}":
            return kite_error(403, "TokenException", "Invalid session")
        return kite_ok({"user_id": "XX0000"})

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/session/token", self.token)
        app.router.add_get("/user/profile", self.profile)
        return app


@pytest.fixture
def fake():
    with FakeSession() as server:
        yield server


def write_private(path: Path, data: dict, mode: int = 0o600) -> Path:
    path.write_text(json.dumps(data))
    path.chmod(mode)
    return path


@pytest.fixture
def creds_file(tmp_path: Path) -> Path:
    return write_private(
        tmp_path / "credentials.json", {"api_key": API_KEY, "api_secret": API_SECRET}
    )


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        assert API_SECRET not in text
        assert ACCESS_TOKEN not in text


IST_NOW = datetime(2026, 11, 20, 10, 0, tzinfo=IST)


# ------------------------------------------------------------------ credentials


def test_credentials_from_environment_win(tmp_path):
    env = {"KITE_API_KEY": API_KEY, "KITE_API_SECRET": API_SECRET}
    creds = Credentials.load(tmp_path / "absent.json", env)
    assert (creds.api_key, creds.api_secret) == (API_KEY, API_SECRET)
    assert "environment" in creds.source
    assert_no_secrets(repr(creds), str(creds), f"{creds}")


def test_credentials_from_private_file(creds_file):
    creds = Credentials.load(creds_file, env={})
    assert creds.api_secret == API_SECRET and creds.source == str(creds_file)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_credentials_with_open_permissions_refused(creds_file, mode):
    creds_file.chmod(mode)
    with pytest.raises(CredentialsError) as info:
        Credentials.load(creds_file, env={})
    message = str(info.value)
    assert f"{mode:04o}" in message and "chmod 600" in message and "group/other" in message
    assert_no_secrets(message)


@pytest.mark.parametrize(
    ("env", "content", "match"),
    [
        ({}, None, "KITE_API_SECRET"),
        ({"KITE_API_KEY": API_KEY}, None, "KITE_API_SECRET is not"),
        ({}, "not json " + API_SECRET, "not readable JSON"),
        ({}, json.dumps({"api_key": API_KEY}), "lacks api_secret"),
        ({}, json.dumps(["x"]), "JSON object"),
    ],
)
def test_credentials_missing_or_bad_say_how_to_fix(tmp_path, env, content, match):
    path = tmp_path / "credentials.json"
    if content is not None:
        path.write_text(content)
        path.chmod(0o600)
    with pytest.raises(CredentialsError, match=match) as info:
        Credentials.load(path, env)
    assert_no_secrets(str(info.value))


# ------------------------------------------------------------------ login pieces


def test_login_url_is_kites():
    assert login_url("abc") == "https://kite.zerodha.com/connect/login?api_key=abc&v=3"
    assert login_url("abc", "http://127.0.0.1:9").startswith("http://127.0.0.1:9/connect/login?")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reqTok42abc", "reqTok42abc"),
        ("  reqTok42abc\n", "reqTok42abc"),
        ("https://example.com/cb?action=login&type=login&status=success&request_token=T0k", "T0k"),
        ("https://example.com/cb?request_token=T0k", "T0k"),
        ("/cb?status=success&request_token=T0k", "T0k"),
    ],
)
def test_parse_request_token_accepts_url_or_token(text, expected):
    assert parse_request_token(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no redirect URL"),
        ("https://example.com/cb?status=error&request_token=T0k", "status='error'"),
        ("https://example.com/cb?status=success", "no request_token"),
        ("not a token!", "letters and digits"),
    ],
)
def test_parse_request_token_with_bad_input_refuses(text, match):
    with pytest.raises(LoginFailed, match=match):
        parse_request_token(text)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 20, 8, 15, tzinfo=IST), date(2026, 11, 20)),
        (datetime(2026, 11, 20, 6, 0, tzinfo=IST), date(2026, 11, 20)),
        (datetime(2026, 11, 20, 5, 59, tzinfo=IST), date(2026, 11, 19)),
        (datetime(2026, 11, 20, 23, 59, tzinfo=IST), date(2026, 11, 20)),
        (datetime(2026, 11, 20, 2, 0), date(2026, 11, 19)),  # naive = IST
    ],
)
def test_trading_date_turns_at_six_ist(moment, expected):
    assert trading_date(moment) == expected


def test_token_expires_at_six_ist_next_day():
    token = AccessToken(ACCESS_TOKEN, "XX0000", date(2026, 11, 20))
    assert token_expires_at(token) == datetime(2026, 11, 21, 6, 0, tzinfo=IST)
    assert time_until_expiry(token, IST_NOW) == timedelta(hours=20)
    assert_no_secrets(repr(token), str(token))


def test_exchange_token_end_to_end(fake):
    token = exchange_token(API_KEY, API_SECRET, REQUEST_TOKEN, root=fake.url)
    assert token.value == ACCESS_TOKEN and token.user_id == "XX0000"
    assert token.date == date(2026, 11, 20)
    assert token.login_time == datetime(2026, 11, 20, 8, 15, tzinfo=IST)


@pytest.mark.parametrize("case", ["wrong secret", "reused token", "echoing server"])
def test_exchange_token_failures_never_show_secrets(fake, caplog, case):
    caplog.set_level(logging.DEBUG)
    secret = API_SECRET
    if case == "wrong secret":
        secret = API_SECRET + "x"
    elif case == "reused token":
        exchange_token(API_KEY, API_SECRET, REQUEST_TOKEN, root=fake.url)
    else:
        fake.echo_secret = True
    with pytest.raises(LoginFailed) as info:
        exchange_token(API_KEY, secret, REQUEST_TOKEN, root=fake.url)
    assert_no_secrets(str(info.value), repr(info.value), caplog.text)
    assert info.value.__cause__ is None


# ------------------------------------------------------------------ the token file


def test_save_token_writes_private_file_atomically(tmp_path):
    path = tmp_path / "cfg" / "access_token.json"
    token = AccessToken(ACCESS_TOKEN, "XX0000", date(2026, 11, 20), IST_NOW)
    save_token(path, token)
    save_token(path, token)  # replacing is atomic too
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["access_token.json"]  # no temp left
    data = json.loads(path.read_text())
    assert data["date"] == "2026-11-20" and data["access_token"] == ACCESS_TOKEN
    assert "api_secret" not in data
    loaded = load_token(path, date(2026, 11, 20), now=IST_NOW)
    assert loaded.value == ACCESS_TOKEN and loaded.user_id == "XX0000"


@pytest.mark.parametrize(
    ("token_date", "now", "error"),
    [
        (date(2026, 11, 20), datetime(2026, 11, 20, 9, 0, tzinfo=IST), None),
        (date(2026, 11, 20), datetime(2026, 11, 21, 5, 59, tzinfo=IST), None),
        (date(2026, 11, 20), datetime(2026, 11, 21, 6, 0, tzinfo=IST), TokenExpired),
        (date(2026, 11, 19), datetime(2026, 11, 20, 9, 0, tzinfo=IST), TokenExpired),
    ],
)
def test_load_token_for_today_or_expired(tmp_path, token_date, now, error):
    path = tmp_path / "access_token.json"
    save_token(path, AccessToken(ACCESS_TOKEN, "XX0000", token_date))
    if error is None:
        assert load_token(path, now=now).date == token_date
        return
    with pytest.raises(error) as info:
        load_token(path, now=now)
    message = str(info.value)
    assert "kitetui login" in message and "06:00 IST" in message
    assert_no_secrets(message)


def test_load_token_missing_says_login(tmp_path):
    with pytest.raises(TokenMissing, match="kitetui login"):
        load_token(tmp_path / "none.json", now=IST_NOW)


def test_load_token_with_open_permissions_refused(tmp_path):
    path = tmp_path / "access_token.json"
    save_token(path, AccessToken(ACCESS_TOKEN, "XX0000", date(2026, 11, 20)))
    path.chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        load_token(path, now=IST_NOW)


# ------------------------------------------------------------------ kitetui login


def login_args(fake: FakeSession, tmp_path: Path, creds_file: Path) -> argparse.Namespace:
    return argparse.Namespace(
        root=fake.url, credentials=str(creds_file), token=str(tmp_path / "t" / "token.json")
    )


def test_run_login_end_to_end(fake, tmp_path, creds_file, caplog):
    caplog.set_level(logging.DEBUG)
    args = login_args(fake, tmp_path, creds_file)
    stdin = io.StringIO(f"https://example.com/cb?status=success&request_token={REQUEST_TOKEN}\n")
    stdout = io.StringIO()
    assert run_login(args, stdin, stdout, env={}, now=IST_NOW) == 0
    out = stdout.getvalue()
    assert f"connect/login?api_key={API_KEY}&v=3" in out
    assert "Logged in as XX0000" in out and "expires" in out
    token_file = Path(args.token)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert json.loads(token_file.read_text())["access_token"] == ACCESS_TOKEN
    assert_no_secrets(out, caplog.text)


@pytest.mark.parametrize(
    ("stdin", "match"),
    [
        ("\n", "no redirect URL"),
        ("badToken\n", "refused the request token"),
    ],
)
def test_run_login_failures_exit_5_in_one_line_without_saving(
    fake, tmp_path, creds_file, stdin, match
):
    """A login that failed leaves a login needed: exit 5 (docs/config.md), one line on
    stderr (it went to stdout with exit 1, the code the docs keep for a bug)."""
    args = login_args(fake, tmp_path, creds_file)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_login(args, io.StringIO(stdin), stdout, env={}, stderr=stderr) == 5
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: login failed: ") and match in lines[0]
    assert not Path(args.token).exists()
    assert_no_secrets(stdout.getvalue() + stderr.getvalue())


def test_run_login_with_open_credentials_file_refuses(fake, tmp_path, creds_file):
    creds_file.chmod(0o644)
    stderr = io.StringIO()
    args = login_args(fake, tmp_path, creds_file)
    assert run_login(args, io.StringIO(REQUEST_TOKEN), io.StringIO(), env={}, stderr=stderr) == 5
    assert "chmod 600" in stderr.getvalue()
    assert fake.used == set()


# ------------------------------------------------------------------ kitetui doctor


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


def doctor(fake, tmp_path, creds_file, **overrides) -> tuple[int, str]:
    token_path = tmp_path / "token.json"
    if not token_path.exists():
        save_token(token_path, AccessToken(ACCESS_TOKEN, "XX0000", date(2026, 11, 20)))
    kwargs = {
        "stdout": io.StringIO(),
        "env": {},
        "credentials_path": creds_file,
        "token_path": token_path,
        "root": fake.url,
        "database": tmp_path / "db" / "state.db",
        "now": IST_NOW,
        "timeout": 2.0,
    }
    kwargs.update(overrides)
    code = run_doctor(KITE_CONFIG, **kwargs)
    return code, kwargs["stdout"].getvalue()


def test_doctor_all_ok_with_missing_database_changes_nothing(fake, tmp_path, creds_file, caplog):
    caplog.set_level(logging.DEBUG)
    code, out = doctor(fake, tmp_path, creds_file)
    assert code == 0, out
    for name in ("config", "credentials", "token", "database", "connectivity"):
        assert any(line.startswith("OK") and name in line for line in out.splitlines()), name
    assert "does not exist yet" in out
    assert "GET /user/profile in" in out and fake.profile_hits == 1
    assert not (tmp_path / "db").exists()  # not even the directory
    assert_no_secrets(out, caplog.text)


async def test_doctor_with_real_database_opens_it_read_only(fake, tmp_path, creds_file):
    from kitetui.store.database import open_database

    db_path = tmp_path / "db" / "state.db"
    db = await open_database(db_path)
    await db.close()
    before = snapshot(db_path.parent)
    code, out = await asyncio.to_thread(doctor, fake, tmp_path, creds_file)
    assert code == 0, out
    assert "opens read-only, schema" in out
    assert snapshot(db_path.parent) == before


@pytest.mark.parametrize(
    ("setup", "failing", "fix"),
    [
        ("open credentials", "credentials", "chmod 600"),
        ("expired token", "token", "kitetui login"),
        ("missing token", "token", "kitetui login"),
        ("rejected token", "connectivity", "kitetui login"),
        ("not sqlite", "database", "not a SQLite database"),
        ("unreachable", "connectivity", "cannot reach"),
        ("bad config", "config", "config"),
    ],
)
def test_doctor_failures_say_how_to_fix(fake, tmp_path, creds_file, setup, failing, fix):
    overrides: dict = {}
    token_path = tmp_path / "token.json"
    if setup == "open credentials":
        creds_file.chmod(0o640)
    elif setup == "expired token":
        save_token(token_path, AccessToken(ACCESS_TOKEN, "XX0000", date(2026, 11, 19)))
    elif setup == "missing token":
        overrides["token_path"] = tmp_path / "none.json"
    elif setup == "rejected token":
        save_token(token_path, AccessToken("otherTOKEN", "XX0000", date(2026, 11, 20)))
    elif setup == "not sqlite":
        bad = tmp_path / "junk.db"
        bad.write_text("hello")
        overrides["database"] = bad
    elif setup == "unreachable":
        overrides["root"] = "http://127.0.0.1:9"
    elif setup == "bad config":
        config = tmp_path / "bad.yaml"
        config.write_text("mode: [")
        overrides["database"] = tmp_path / "state.db"
    if setup == "bad config":
        stdout = io.StringIO()
        token = tmp_path / "token.json"
        save_token(token, AccessToken(ACCESS_TOKEN, "XX0000", date(2026, 11, 20)))
        code = run_doctor(
            config,
            stdout=stdout,
            env={},
            credentials_path=creds_file,
            token_path=token,
            root=fake.url,
            now=IST_NOW,
        )
        out = stdout.getvalue()
    else:
        code, out = doctor(fake, tmp_path, creds_file, **overrides)
    assert code == 1
    fail_lines = [i for i, line in enumerate(out.splitlines()) if line.startswith("FAIL")]
    assert any(failing in out.splitlines()[i] for i in fail_lines), out
    assert fix in out
    assert_no_secrets(out)


def test_doctor_never_creates_files_in_cwd(fake, tmp_path, creds_file, monkeypatch):
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    code, out = doctor(fake, tmp_path, creds_file, database=None)
    assert "rehearsal.db does not exist yet" in out
    assert list(workdir.iterdir()) == []
    assert os.getcwd() == str(workdir)
    assert code == 0


def test_doctor_with_replay_config_skips_the_kite_checks_and_checks_its_data(tmp_path):
    stdout = io.StringIO()
    code = run_doctor(DEV_CONFIG, stdout=stdout, env={}, database=tmp_path / "state.db")
    out = stdout.getvalue()
    assert code == 0, out
    lines = out.splitlines()
    for name in ("credentials", "token", "connectivity"):
        assert any(line.startswith("SKIP") and f" {name} " in line for line in lines), out
    assert any(line.startswith("OK") and " data " in line for line in lines), out
    assert "FAIL" not in out
    assert lines[-1] == "all checks passed (3 skipped: not used by replay)"


def test_doctor_with_replay_config_and_missing_data_fails_the_data_check(tmp_path):
    data = yaml.safe_load(DEV_CONFIG.read_text())
    data["instruments"] = [str(tmp_path / "gone.csv")]
    config = tmp_path / "replay.yaml"
    config.write_text(yaml.safe_dump(data))
    stdout = io.StringIO()
    code = run_doctor(config, stdout=stdout, env={}, database=tmp_path / "state.db")
    out = stdout.getvalue()
    assert code == 1
    assert any(line.startswith("FAIL") and "gone.csv" in line for line in out.splitlines()), out


def _kite_config(tmp_path: Path, fake, creds_file: Path) -> Path:
    """A paper config whose kite section names its own root and files."""
    data = yaml.safe_load(KITE_CONFIG.read_text())
    data["mode"] = "paper"
    data["allow_live"] = False
    data["kite"].update(
        root=fake.url,
        credentials_file=str(creds_file),
        token_file=str(tmp_path / "kite" / "token-of-this-config.json"),
    )
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_login_doctor_and_the_run_agree_on_a_configs_token_and_root(fake, tmp_path, creds_file):
    """login saved access_token.json while the run read token.json, and doctor -c
    ignored the config's root and files: 'run kitetui login' forever."""
    config = _kite_config(tmp_path, fake, creds_file)
    args = argparse.Namespace(config=str(config), root=None, credentials=None, token=None)
    stdin = io.StringIO(f"{REQUEST_TOKEN}\n")
    assert run_login(args, stdin, io.StringIO(), env={}, now=IST_NOW) == 0
    saved = tmp_path / "kite" / "token-of-this-config.json"
    assert saved.is_file()
    out = io.StringIO()
    code = run_doctor(config, stdout=out, env={}, database=tmp_path / "none.db", now=IST_NOW)
    assert code == 0, out.getvalue()
    assert fake.profile_hits == 1  # the config's root, not api.kite.trade
    from kitetui.config import load_config
    from kitetui.kite.session import kite_paths

    assert kite_paths(load_config(config).kite, {}) == (creds_file, saved, fake.url)


def test_without_files_named_the_run_looks_where_login_saves(tmp_path):
    from kitetui.config import KiteConfig
    from kitetui.kite.session import default_token_path, kite_paths

    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    credentials, token, _root = kite_paths(KiteConfig(), env)
    assert credentials is None  # Credentials.load's own default: the same folder
    assert token == default_token_path(env) == tmp_path / "xdg" / "kitetui" / "access_token.json"


@pytest.mark.parametrize("edited", [ACCESS_TOKEN + "\n", " " + ACCESS_TOKEN, "SECRETx\tTOKENy"])
def test_load_token_edited_by_hand_refuses_without_showing_it(tmp_path, edited):
    """A line break left in the token went into the Authorization header; requests
    refused it quoting the header, key and token, on stderr and in the journal."""
    path = tmp_path / "access_token.json"
    save_token(path, AccessToken(edited, "XX0000", date(2026, 11, 20)))
    with pytest.raises(TokenMissing, match="not letters and digits") as info:
        load_token(path, now=IST_NOW)
    assert_no_secrets(str(info.value))
    assert "SECRET" not in str(info.value) and "TOKENy" not in str(info.value)


def test_credentials_with_a_line_break_in_the_key_refuse_without_showing_it(tmp_path):
    path = write_private(tmp_path / "c.json", {"api_key": "fake\napikey123", "api_secret": "s"})
    with pytest.raises(CredentialsError, match="not letters and digits") as info:
        Credentials.load(path, env={})
    assert "fake" not in str(info.value) and "apikey123" not in str(info.value)


def test_login_with_a_wrong_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """`kitetui login -c CONFIG` with a config that does not load: the config's code
    (2, docs/config.md) and its one line on stderr, as every other command gives it."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: paper\nmode: live\n")  # a duplicate key
    done = subprocess.run(
        [sys.executable, "-m", "kitetui", "login", "-c", str(bad)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: login failed: "), done.stderr
    assert "bad.yaml" in lines[0] and "Traceback" not in done.stderr
