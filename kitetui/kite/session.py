"""Credentials, the daily Kite login, and the access token file (design rule 9).

Secrets are the ``api_secret`` and the day's ``access_token``. They come from the
environment (``KITE_API_KEY``, ``KITE_API_SECRET``) or from 0600 files under
``~/.config/kitetui/`` and go nowhere else: not the config, the database, a log line,
an exception's message or the screen. Every object holding one masks it in
``repr``/``str``; every error raised here is built from text with the secrets
replaced by ``***`` and raised ``from None`` so no chained exception carries them.
And each is registered with ``kitetui.secret_values`` as it is read, so an error no
one planned for (a library quoting a header) is scrubbed wherever it is printed,
logged or journaled.

The login is Kite's: open ``login_url(api_key)`` in a browser, sign in, and Kite
redirects to the app's URL with ``?request_token=...``; ``exchange_token`` trades it
(with a SHA-256 checksum of key + request token + secret, done by
``KiteConnect.generate_session``) for an access token, saved with ``save_token``.

Expiry. Kite's session documentation says of ``access_token``: "Unless this is
invalidated using the API, or invalidated by a master-logout from the Kite Web trading
terminal, it'll expire at 6 AM on the next day (regulatory requirement)" (Kite Connect
v3 docs, user/session response attributes, as quoted by the kiteconnect client
typings; docs/kite-contract.md §3.1 marks the exact time unverified by a live run).
So a token serves one *trading date*: a login at 07:00 IST on D (or any time until
06:00 on D+1) is D's token and expires at 06:00 IST on D+1. A login at 03:00 on D is
still D-1's token and expires three hours later.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sqlite3
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

from kitetui.clock import IST
from kitetui.secret_values import register, scrub

API_KEY_ENV = "KITE_API_KEY"
API_SECRET_ENV = "KITE_API_SECRET"
KITE_ROOT = "https://api.kite.trade"
KITE_LOGIN = "https://kite.zerodha.com/connect/login"
# "it'll expire at 6 AM on the next day (regulatory requirement)" — see the module doc.
TOKEN_EXPIRY_HOUR_IST = 6
LOGIN_HINT = "run `kitetui login` (Kite access tokens expire daily at 06:00 IST)"


# ---------------------------------------------------------------------------- errors


class KiteAuthError(Exception):
    """A login or credentials problem; the message is safe to show and says how to fix it."""


class CredentialsError(KiteAuthError):
    """The API key/secret are missing or stored unsafely."""


class LoginFailed(KiteAuthError):
    """The request-token exchange did not produce an access token."""


class LoginRequired(KiteAuthError):
    """Trading cannot go on without a fresh ``kitetui login``."""


class TokenMissing(LoginRequired):
    """No access token has been saved."""


class TokenExpired(LoginRequired):
    """The access token is past its 06:00 IST expiry or Kite refused it (403 TokenException).

    The supervisor turns this into a halt plus a "login required" banner; it is never
    retried."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-trivial secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# Kite's API keys and tokens are letters and digits (a key may hold an underscore).
# Anything else (a line break or a space from a hand-edited file) went into the
# Authorization header, where requests refused it quoting the header: key and token on
# stderr in a traceback, and in the journal as the run's failure.
_PLAIN = re.compile(r"[A-Za-z0-9_]+")


def _plain(value: str) -> bool:
    return _PLAIN.fullmatch(value) is not None


def _mask(value: str) -> str:
    return f"{value[:4]}…" if len(value) > 8 else "***"


# ---------------------------------------------------------------------------- paths


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kitetui"


def default_credentials_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "credentials.json"


def default_token_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "access_token.json"


def kite_paths(
    kite: Any, env: Mapping[str, str] | None = None
) -> tuple[Path | None, Path, str | None]:
    """A config's ``kite`` section as (credentials file or None for the default, token
    file, API root): what ``run``, ``login -c`` and ``doctor -c`` all use, so a token
    one of them saves is where the others look (they disagreed: token.json against
    access_token.json, ~/.config against $XDG_CONFIG_HOME)."""
    credentials = Path(kite.credentials_file).expanduser() if kite.credentials_file else None
    token = Path(kite.token_file).expanduser() if kite.token_file else default_token_path(env)
    return credentials, token, kite.root


def check_private(path: Path, what: str) -> None:
    """Refuse a secret file that group or other may read or write, saying why."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CredentialsError(
            f"{path} holds the {what} but its permissions are {mode:04o} (group/other can "
            f"access it), so kitetui refuses to read it. Fix: chmod 600 {path}"
        )


# ---------------------------------------------------------------------------- credentials


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """The app's API key and secret. ``repr``/``str`` never show the secret."""

    api_key: str
    api_secret: str
    source: str = ""

    def __post_init__(self) -> None:
        register(self.api_key, self.api_secret)  # scrubbed from every text from now on

    def __repr__(self) -> str:
        return (
            f"Credentials(api_key={_mask(self.api_key)!r}, api_secret='***', "
            f"source={self.source!r})"
        )

    __str__ = __repr__

    @classmethod
    def load(
        cls, path: str | Path | None = None, env: Mapping[str, str] | None = None
    ) -> Credentials:
        """From ``KITE_API_KEY``/``KITE_API_SECRET`` if both are set, else the 0600 JSON
        file ``{"api_key": ..., "api_secret": ...}`` at ``path`` (default
        ``~/.config/kitetui/credentials.json``)."""
        env = os.environ if env is None else env
        key, secret = env.get(API_KEY_ENV, "").strip(), env.get(API_SECRET_ENV, "").strip()
        if key and secret:
            source = f"environment ({API_KEY_ENV}, {API_SECRET_ENV})"
            return cls(_checked_key(key, API_KEY_ENV), secret, source=source)
        file = Path(path) if path is not None else default_credentials_path(env)
        if not file.is_file():
            half = f" ({API_KEY_ENV} is set but {API_SECRET_ENV} is not)" if key else ""
            raise CredentialsError(
                f"no Kite API credentials{half}: set {API_KEY_ENV} and {API_SECRET_ENV}, or "
                f'write {{"api_key": "...", "api_secret": "..."}} to {file} and chmod 600 it'
            )
        check_private(file, "Kite API secret")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            # the message of a JSON error quotes the text it failed on: keep it out
            raise CredentialsError(
                f"{file} is not readable JSON ({type(exc).__name__}); expected "
                '{"api_key": "...", "api_secret": "..."}'
            ) from None
        if not isinstance(data, dict):
            raise CredentialsError(f"{file} must hold a JSON object with api_key and api_secret")
        key = key or str(data.get("api_key") or "").strip()
        secret = str(data.get("api_secret") or "").strip()
        missing = [name for name, value in (("api_key", key), ("api_secret", secret)) if not value]
        if missing:
            raise CredentialsError(f"{file} lacks {' and '.join(missing)}")
        return cls(
            _checked_key(key, API_KEY_ENV if env.get(API_KEY_ENV) else str(file)),
            secret,
            source=str(file),
        )


def _checked_key(key: str, where: str) -> str:
    """The API key if it is one (never shown: the message names where it came from)."""
    if not _plain(key):
        raise CredentialsError(
            f"the Kite API key in {where} is not letters and digits (a space or a line "
            "break in it?); write it again"
        )
    return key


# ---------------------------------------------------------------------------- login


def login_url(api_key: str, root: str | None = None) -> str:
    """Kite's browser login page for this app (``root``: a local exchange's own page)."""
    query = urlencode({"api_key": api_key, "v": "3"})
    base = urljoin(root, "/connect/login") if root else KITE_LOGIN
    return f"{base}?{query}"


def parse_request_token(text: str) -> str:
    """The request token from the redirect URL Kite sent the browser to, or a bare token."""
    text = text.strip()
    if not text:
        raise LoginFailed("no redirect URL or request_token given")
    if "://" in text or "?" in text or "=" in text:
        query = parse_qs(urlparse(text).query if "://" in text else text.split("?", 1)[-1])
        status = (query.get("status") or [""])[0]
        if status and status != "success":
            raise LoginFailed(f"Kite redirected with status={status!r}: log in again")
        tokens = query.get("request_token") or []
        if not tokens or not tokens[0].strip():
            raise LoginFailed("the redirect URL has no request_token parameter")
        text = tokens[0].strip()
    if not text.isalnum():
        raise LoginFailed("a request_token is letters and digits only; paste the redirect URL")
    register(text)
    return text


@dataclass(frozen=True, slots=True, repr=False)
class AccessToken:
    """The day's access token. ``date`` is the IST trading date it serves (see the
    module doc); it expires at 06:00 IST the next day."""

    value: str
    user_id: str
    date: date
    login_time: datetime | None = None

    def __post_init__(self) -> None:
        register(self.value)  # scrubbed from every text from now on

    def __repr__(self) -> str:
        return f"AccessToken(value='***', user_id={self.user_id!r}, date={self.date.isoformat()})"

    __str__ = __repr__

    @property
    def expires_at(self) -> datetime:
        return token_expires_at(self)


def trading_date(moment: datetime) -> date:
    """The trading date a token obtained at ``moment`` serves (IST, 06:00 boundary)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    return (moment.astimezone(IST) - timedelta(hours=TOKEN_EXPIRY_HOUR_IST)).date()


def token_expires_at(token: AccessToken) -> datetime:
    return datetime.combine(token.date + timedelta(days=1), datetime.min.time(), IST) + timedelta(
        hours=TOKEN_EXPIRY_HOUR_IST
    )


def time_until_expiry(token: AccessToken, now: datetime | None = None) -> timedelta:
    """How long the token has left (negative once expired)."""
    now = datetime.now(IST) if now is None else now
    return token_expires_at(token) - now


def describe_expiry(token: AccessToken, now: datetime | None = None) -> str:
    left = time_until_expiry(token, now)
    when = token_expires_at(token).strftime("%Y-%m-%d %H:%M IST")
    if left <= timedelta(0):
        return f"expired at {when}"
    minutes = int(left.total_seconds() // 60)
    return f"expires in {minutes // 60} h {minutes % 60:02d} min (at {when})"


def exchange_token(
    api_key: str,
    api_secret: str,
    request_token: str,
    root: str | None = None,
    *,
    timeout: float | None = None,
    now: datetime | None = None,
) -> AccessToken:
    """Trade a request token for the day's access token via ``generate_session``."""
    from kiteconnect import KiteConnect
    from kiteconnect.exceptions import TokenException

    kite = KiteConnect(api_key, root=root, timeout=timeout)
    secrets = (api_secret, request_token)
    register(api_key, *secrets)
    try:
        data = kite.generate_session(request_token, api_secret=api_secret)
    except TokenException as exc:
        raise LoginFailed(
            "Kite refused the request token (they are single-use and live a few minutes): "
            f"{redact(str(exc), secrets)}; log in again"
        ) from None
    except Exception as exc:  # other Kite errors, requests' network errors, a bad answer
        raise LoginFailed(
            f"token exchange failed: {type(exc).__name__}: {redact(str(exc), secrets)}"
        ) from None
    value = str(data.get("access_token") or "")
    register(value)  # before any check below can quote it
    if not value:
        raise LoginFailed("Kite answered the token exchange without an access_token")
    if not _plain(value):
        raise LoginFailed(
            "Kite answered the token exchange with an access_token that is not letters "
            "and digits; log in again"
        )
    login_time = data.get("login_time")
    if isinstance(login_time, datetime):
        login_time = login_time if login_time.tzinfo else login_time.replace(tzinfo=IST)
    else:
        login_time = now or datetime.now(IST)
    return AccessToken(
        value=value,
        user_id=str(data.get("user_id") or ""),
        date=trading_date(login_time),
        login_time=login_time.astimezone(IST),
    )


# ---------------------------------------------------------------------------- token file


def save_token(path: str | Path, token: AccessToken) -> None:
    """Write the token as a 0600 JSON file atomically (temp file, chmod, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = {
        "access_token": token.value,
        "user_id": token.user_id,
        "date": token.date.isoformat(),
        "login_time": token.login_time.isoformat() if token.login_time else None,
        "expires_at": token_expires_at(token).isoformat(),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_token(
    path: str | Path, today: date | None = None, *, now: datetime | None = None
) -> AccessToken:
    """The saved token if it serves ``today`` (IST trading date) and has not expired.

    Raises ``TokenMissing``/``TokenExpired`` (messages say to run ``kitetui login``) or
    ``CredentialsError`` when the file is readable by group/other."""
    path = Path(path)
    now = datetime.now(IST) if now is None else now
    today = trading_date(now) if today is None else today
    if not path.is_file():
        raise TokenMissing(f"no Kite access token at {path}: {LOGIN_HINT}")
    check_private(path, "Kite access token")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        token = AccessToken(
            value=str(data["access_token"]),
            user_id=str(data.get("user_id") or ""),
            date=date.fromisoformat(data["date"]),
            login_time=datetime.fromisoformat(data["login_time"])
            if data.get("login_time")
            else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TokenMissing(
            f"the token file {path} is unreadable ({type(exc).__name__}): {LOGIN_HINT}"
        ) from None
    if not token.value:
        raise TokenMissing(f"the token file {path} holds no token: {LOGIN_HINT}")
    if not _plain(token.value):
        raise TokenMissing(
            f"the token file {path} holds a token that is not letters and digits "
            f"(edited by hand?): {LOGIN_HINT}"
        )
    if token.date != today or time_until_expiry(token, now) <= timedelta(0):
        raise TokenExpired(
            f"the Kite access token in {path} is for {token.date.isoformat()} and "
            f"{describe_expiry(token, now)}: {LOGIN_HINT}"
        )
    return token


# ---------------------------------------------------------------------------- CLI: login


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``run_login`` reads (for the lead to wire into ``kitetui login``)."""
    parser.add_argument(
        "--config", "-c", help="take root, credentials and token file from its kite section"
    )
    parser.add_argument("--root", help="API root of a local Kite-compatible exchange")
    parser.add_argument("--credentials", help="credentials JSON (default ~/.config/kitetui/)")
    parser.add_argument("--token", help="where to save the access token")


def run_login(
    args: argparse.Namespace,
    stdin: IO[str],
    stdout: IO[str],
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """``kitetui login``: print the login URL, read the redirect URL (or the request
    token) from ``stdin``, exchange it and save the token. 0 on success; a failure is one
    line on ``stderr`` (default ``sys.stderr``) and the documented code (docs/config.md):
    2 for a config or token path that is wrong, 5 while a login is still needed (no or a
    refused request token, credentials missing or readable by others)."""
    stderr = sys.stderr if stderr is None else stderr

    def failed(code: int, why: object) -> int:
        print(f"error: login failed: {scrub(str(why))}", file=stderr)
        return code

    root = getattr(args, "root", None)
    credentials = getattr(args, "credentials", None)
    token_path = Path(getattr(args, "token", None) or default_token_path(env))
    if getattr(args, "config", None):
        from kitetui.config import ConfigError, load_config

        try:
            kite = load_config(args.config).kite
        except ConfigError as exc:
            return failed(2, exc)
        from_config = kite_paths(kite, env)
        credentials = credentials or from_config[0]
        token_path = Path(args.token) if getattr(args, "token", None) else from_config[1]
        root = root or from_config[2]
    try:
        creds = Credentials.load(credentials, env)
        print("Open this URL in a browser and log in to Kite:", file=stdout)
        print(f"  {login_url(creds.api_key, root)}", file=stdout)
        print(
            "Kite then redirects to your app's redirect URL; paste that whole URL "
            "(or just its request_token) here:",
            file=stdout,
        )
        stdout.flush()
        request_token = parse_request_token(stdin.readline())
        token = exchange_token(creds.api_key, creds.api_secret, request_token, root=root, now=now)
        save_token(token_path, token)
    except KiteAuthError as exc:
        return failed(5, exc)
    except OSError as exc:
        return failed(2, f"cannot save the token to {token_path}: {exc.strerror}")
    print(
        f"Logged in as {token.user_id or '?'}; access token saved to {token_path} (mode 0600), "
        f"{describe_expiry(token, now)}.",
        file=stdout,
    )
    return 0


# ---------------------------------------------------------------------------- CLI: doctor


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="API root to test (default https://api.kite.trade)")
    parser.add_argument("--credentials", help="credentials JSON (default ~/.config/kitetui/)")
    parser.add_argument("--token", help="access token file (default ~/.config/kitetui/)")
    parser.add_argument("--db", help="database file (default: 'database:' in the config)")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False  # does not apply (Kite checks on a replay config): not a failure


def check_database(path: Path) -> CheckResult:
    """Open the database read-only, never creating or changing anything."""
    from kitetui.store.schema import SCHEMA_VERSION

    name = "database"
    problem = _check_database_file(path)
    if problem is not None:
        return problem
    # mode=ro: no writes; immutable=1 only when no WAL is present, so no -shm/-wal files
    # get created beside it (with a WAL present the daemon is running and they exist).
    wal = Path(f"{path}-wal")
    flags = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, timeout=2.0)
    except sqlite3.Error as exc:
        return CheckResult(name, False, f"cannot open {path}: {exc}", "check permissions")
    try:
        quick = conn.execute("PRAGMA quick_check").fetchone()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        runs = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error as exc:
        return CheckResult(name, False, f"{path} cannot be read: {exc}", "restore from a backup")
    finally:
        conn.close()
    if not quick or quick[0] != "ok":
        return CheckResult(
            name, False, f"{path} fails its integrity check", "restore it from a backup"
        )
    if version > SCHEMA_VERSION:
        return CheckResult(
            name,
            False,
            f"{path} has schema {version}, newer than this kitetui ({SCHEMA_VERSION})",
            "upgrade kitetui",
        )
    if (version and not runs) or (not version and tables):
        return CheckResult(name, False, f"{path} belongs to another program", "change 'database:'")
    note = "" if version == SCHEMA_VERSION else f"; will migrate {version} -> {SCHEMA_VERSION}"
    return CheckResult(name, True, f"{path} opens read-only, schema {version}{note}")


def _check_database_file(path: Path) -> CheckResult | None:
    """What the file says before SQLite opens it (absent, a directory, unreadable, empty,
    not SQLite), or None when it starts with SQLite's header."""
    name = "database"
    if not path.exists():
        return CheckResult(name, True, f"{path} does not exist yet; `kitetui run` creates it")
    if path.is_dir():
        return CheckResult(name, False, f"{path} is a directory", "point 'database:' at a file")
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        return CheckResult(name, False, f"cannot read {path}: {exc.strerror}", "check permissions")
    if not header:
        return CheckResult(name, True, f"{path} is empty; `kitetui run` initialises it")
    if header != b"SQLite format 3\x00":
        return CheckResult(
            name, False, f"{path} is not a SQLite database", "move it aside or change 'database:'"
        )
    return None


def check_connectivity(
    api_key: str, token: AccessToken, root: str | None, timeout: float
) -> CheckResult:
    from kiteconnect import KiteConnect
    from kiteconnect.exceptions import KiteException, TokenException

    name = "connectivity"
    root = root or KITE_ROOT
    kite = KiteConnect(api_key, access_token=token.value, root=root, timeout=timeout)
    started = time.perf_counter()
    try:
        profile = kite.profile()
    except TokenException:
        return CheckResult(
            name, False, f"{root} refused the access token (403 TokenException)", LOGIN_HINT
        )
    except KiteException as exc:
        return CheckResult(
            name,
            False,
            f"{root} answered {type(exc).__name__} ({exc.code}): {redact(str(exc), [token.value])}",
            "retry later; check Kite's status",
        )
    except Exception as exc:
        return CheckResult(
            name,
            False,
            f"cannot reach {root}: {type(exc).__name__}",
            "check the network, or --root for a local exchange",
        )
    ms = (time.perf_counter() - started) * 1000
    user = profile.get("user_id", "?") if isinstance(profile, dict) else "?"
    return CheckResult(name, True, f"{root} GET /user/profile in {ms:.0f} ms (user {user})")


def run_doctor(
    config_path: str | Path,
    *,
    stdout: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
    credentials_path: str | Path | None = None,
    token_path: str | Path | None = None,
    root: str | None = None,
    database: str | Path | None = None,
    now: datetime | None = None,
    timeout: float = 5.0,
) -> int:
    """``kitetui doctor``: check config, credentials, token, database and connectivity,
    print each as OK/FAIL with how to fix it; 0 if all pass, else 1. Changes nothing."""
    import sys

    from kitetui.config import ConfigError, load_config

    out = sys.stdout if stdout is None else stdout
    results: list[CheckResult] = []
    config: Any = None
    try:
        config = load_config(config_path)
        results.append(CheckResult("config", True, f"{config_path}: mode {config.mode}"))
    except ConfigError as exc:
        results.append(CheckResult("config", False, str(exc), "edit the file at that key"))
    if config is not None and config.mode == "replay":
        # A replay trades the files it names through the paper broker: no Kite account,
        # token or network is involved, so those checks are skipped (not failed), and
        # what a replay does need (its data files and masters) is checked instead.
        db = Path(database if database is not None else config.database).expanduser()
        results += [_check_replay_inputs(config, config_path), check_database(db)]
        return _print_doctor([*results, *_skipped_kite_checks()], out)
    if config is not None:  # what the config's run would use, unless a flag says else
        from_config = kite_paths(config.kite, env)
        credentials_path = credentials_path or from_config[0]
        token_path = token_path or from_config[1]
        root = root or from_config[2]
    creds: Credentials | None = None
    try:
        creds = Credentials.load(credentials_path, env)
        results.append(
            CheckResult("credentials", True, f"api_key {_mask(creds.api_key)} from {creds.source}")
        )
    except CredentialsError as exc:
        results.append(CheckResult("credentials", False, str(exc)))
    token: AccessToken | None = None
    tpath = Path(token_path) if token_path is not None else default_token_path(env)
    try:
        token = load_token(tpath, now=now)
        results.append(
            CheckResult(
                "token", True, f"user {token.user_id or '?'}, {describe_expiry(token, now)}"
            )
        )
    except KiteAuthError as exc:
        results.append(CheckResult("token", False, str(exc)))
    db = database if database is not None else (config.database if config else None)
    if db is None:
        results.append(
            CheckResult("database", False, "unknown (the config did not load)", "fix the config")
        )
    else:
        results.append(check_database(Path(db).expanduser()))
    if creds is not None and token is not None:
        results.append(check_connectivity(creds.api_key, token, root, timeout))
    else:
        results.append(
            CheckResult(
                "connectivity",
                False,
                "not tested: needs credentials and a valid token",
                "fix the checks above",
            )
        )
    return _print_doctor(results, out)


def _print_doctor(results: list[CheckResult], out: IO[str]) -> int:
    for result in results:
        word = "SKIP" if result.skipped else "OK  " if result.ok else "FAIL"
        print(f"{word}  {result.name:<13} {result.detail}", file=out)
        if not result.ok and not result.skipped and result.fix:
            print(f"      {'':<13} fix: {result.fix}", file=out)
    failed = sum(not r.ok and not r.skipped for r in results)
    skipped = sum(r.skipped for r in results)
    passed = "all checks passed" + (f" ({skipped} skipped: not used by replay)" if skipped else "")
    print(passed if not failed else f"{failed} check(s) failed", file=out)
    return 0 if not failed else 1


def _skipped_kite_checks() -> list[CheckResult]:
    why = "not used by mode replay (no Kite account is involved)"
    return [
        CheckResult(name, True, why, skipped=True)
        for name in ("credentials", "token", "connectivity")
    ]


def _check_replay_inputs(config: Any, config_path: str | Path) -> CheckResult:
    """The replay's data files and instrument masters are in place (not read in full)."""
    from kitetui.preflight import check_inputs

    try:
        check_inputs(config, config_path, scan_data=False)
    except Exception as exc:  # any unusable input is this check's failure, said in one line
        return CheckResult("data", False, str(exc), "fix the path, or the file it names")
    assert config.replay is not None
    sources, masters = len(config.replay.sources), len(config.instruments)
    return CheckResult("data", True, f"{sources} replay source(s), {masters} master(s) found")
