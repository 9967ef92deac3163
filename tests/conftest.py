"""Suite-wide checks.

Every log record emitted anywhere during the test session is kept, and the
session fails if one of them looks like a birthdate, a phone number or an
e-mail address: agegate's logs name fields and codes, never values.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import attrs
import pytest
from hypothesis import HealthCheck, settings

# The machines running the suite are shared and noisy: time limits would make
# property tests flaky without making them stricter.
settings.register_profile(
    "agegate", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("agegate")

# The start-up cache (`agegate.rules_cache`) of this session, and of every
# process it starts: never the user's own cache in their home.
_CACHE = tempfile.mkdtemp(prefix="agegate-cache-")
os.environ["AGEGATE_CACHE_DIR"] = _CACHE


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)


_LOOKS_PERSONAL = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"  # an ISO date
    r"|[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}"  # a written date
    r"|\+?[0-9][0-9 ()\-.]{7,}[0-9]"  # a phone number
    r"|[^\s@]+@[^\s@]+\.[a-z]{2,}"  # an e-mail address
)


class _Keeper(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if _LOOKS_PERSONAL.search(text):
            self.leaks.append(f"{record.name}: {text[:200]}")


_keeper = _Keeper()
_keeper.setFormatter(logging.Formatter("%(message)s"))


# The project's own loggers; a server's access log is not ours to police.
WATCHED_LOGGERS = ("agegate", "examples")


def pytest_configure(config: pytest.Config) -> None:
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(_keeper)
        logger.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).removeHandler(_keeper)
    if _keeper.leaks:
        print("\nlog records that look like personal data:")
        for leak in _keeper.leaks[:20]:
            print("  ", leak)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- a throwaway PostgreSQL server ----------------------------------------------

# Set by CI: a test that needs a server fails without one instead of skipping.
REQUIRE_SERVERS = "AGEGATE_REQUIRE_SERVERS"
# The unprivileged user the server runs as when the suite runs as root
# (PostgreSQL refuses to run as root).
PG_USER_ENV = "AGEGATE_PG_OS_USER"
PG_SUPERUSER = "agegate"
PG_PASSWORD = "throwaway-cluster-password"


def _need_server(why: str) -> NoReturn:
    if os.environ.get(REQUIRE_SERVERS) == "1":
        pytest.fail(f"{why} ({REQUIRE_SERVERS}=1)", pytrace=False)
    pytest.skip(why)


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: (
            int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
        ),
    )
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.frozen
class PgServer:
    """A running cluster: `url(db)` names a database on it, with the
    password (`url(db, password=False)`: without)."""

    port: int
    password: str = PG_PASSWORD

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{PG_SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    user = os.environ.get(PG_USER_ENV, "nobody")
    return ["runuser", "-u", user, "--", *command]


def _hand_over(path: Path) -> None:
    """The server's own directory belongs to the user it runs as."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam(os.environ.get(PG_USER_ENV, "nobody"))
        os.chown(path, entry.pw_uid, entry.pw_gid)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL cluster made for this session in a temporary directory,
    on a free loopback port, with password authentication."""
    binaries = _pg_bin()
    if binaries is None:
        _need_server("no PostgreSQL server here (initdb not found)")
    home = Path(tempfile.mkdtemp(prefix="agegate-pg-"))
    _hand_over(home)
    secret = home / "password"
    secret.write_text(PG_PASSWORD + "\n", encoding="utf-8")
    _hand_over(secret)
    data, port = home / "data", _free_port()
    run = functools.partial(
        subprocess.run, cwd=home, capture_output=True, text=True, check=False
    )
    made = run(
        _as_server_user(
            [
                str(binaries / "initdb"),
                f"--pgdata={data}",
                f"--username={PG_SUPERUSER}",
                f"--pwfile={secret}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
    )
    if made.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        _need_server(f"initdb failed: {made.stderr.strip()[-300:]}")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c fsync=off"
    ctl = str(binaries / "pg_ctl")
    started = run(
        _as_server_user(
            [
                ctl,
                "-D",
                str(data),
                "-l",
                str(home / "log"),
                "-o",
                options,
                "-w",
                "start",
            ]
        )
    )
    if started.returncode != 0:
        log = (home / "log").read_text(errors="replace")[-300:]
        shutil.rmtree(home, ignore_errors=True)
        _need_server(f"the PostgreSQL server did not start: {log}")
    try:
        yield PgServer(port)
    finally:
        run(_as_server_user([ctl, "-D", str(data), "-m", "immediate", "stop"]))
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg_database(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's server; its URL."""
    import adbc_driver_postgresql.dbapi as adbc

    name = f"t_{uuid.uuid4().hex[:12]}"
    with adbc.connect(pg_server.url(), autocommit=True) as db, db.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    return pg_server.url(name)
