"""URLs on the command line: a scheme in any case is still a URL, a password
in one is never printed, and a URL that does not parse is exit 2 with a
message, not a traceback. Each case runs the real `agegate` command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_support import agegate

from agegate.flags import Flag, PostgresFlagStore
from agegate.flags.postgres import is_postgres_url
from agegate.urls import has_scheme, masked, masked_text

SECRET = "S3cret-pw_42"
ACCOUNTS = "account_id,birthdate,country\nu1,2015-01-01,FR\n"
MAPS = ("--map", "birthdate=birthdate", "--map", "country=country")


def _refused(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    printed = done.stdout + done.stderr
    assert "Traceback" not in printed
    assert SECRET not in printed
    for needle in needles:
        assert needle in done.stderr, done.stderr


# -- the masking function -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("Postgresql://alice:pw@h:5/db", "Postgresql://alice:***@h:5/db"),
        ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pa#ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss@[::1/db", "postgresql://u:***@[::1/db"),
        ("postgresql://u:my pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
        ("postgresql://h/db?password=pw&x=1", "postgresql://h/db?password=***&x=1"),
        ("postgresql://h/db?SSLPassword=pw", "postgresql://h/db?SSLPassword=***"),
        ("https://h/x?access_token=pw", "https://h/x?access_token=***"),
        ("host=h password=pw user=u", "host=h password=*** user=u"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("/var/lib/flags.db", "/var/lib/flags.db"),
    ],
)
def test_masked(url: str, shown: str) -> None:
    assert masked(url) == shown


def test_masked_text_masks_every_line_of_a_message() -> None:
    text = "first mysql://a:pw1@h/x: no such file\nthen HTTP://b:pw2@h:1/ failed"
    shown = masked_text(text)
    assert "pw1" not in shown
    assert "pw2" not in shown
    assert shown.count(":***@") == 2


@pytest.mark.parametrize(
    "url", ["postgresql://h/d", "Postgresql://h/d", "POSTGRES://h/d", "pOsTgReS://h"]
)
def test_the_scheme_is_read_in_any_case(url: str) -> None:
    assert is_postgres_url(url)
    assert has_scheme(url, "postgresql", "postgres")


@pytest.mark.parametrize(
    "text", ["postgresql:/h/d", "./postgresql://h", "flags.db", ""]
)
def test_what_is_not_a_postgres_url(text: str) -> None:
    assert not is_postgres_url(text)


# -- a scheme in another case ----------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Postgresql", "POSTGRESQL", "Postgres"])
def test_a_store_url_in_any_case_is_used_as_a_url(
    pg_database: str, scheme: str
) -> None:
    with PostgresFlagStore(pg_database) as store:
        store.add(Flag("a1", ("MINOR_NOW",), "remove", "FR", 18))
    url = scheme + pg_database[len("postgresql") :]
    done = agegate("flags", "list", "--store", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith("a1\t")
    password = pg_database.split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr


def test_a_review_input_url_in_any_case_is_read_as_postgresql(
    pg_database: str, tmp_path: Path
) -> None:
    url = "PostgreSQL" + pg_database[len("postgresql") :]
    done = agegate("review", url, "--table", "nope", *MAPS)
    password = pg_database.split(":")[2].split("@")[0]
    assert done.returncode == 2
    assert "no such table or view" in done.stderr
    assert password not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


UNREACHABLE = [
    f"Postgresql://alice:{SECRET}@127.0.0.1:1/db",
    f"POSTGRES://alice:{SECRET}@127.0.0.1:1/db",
    f"postgresql://127.0.0.1:1/db?password={SECRET}",
]


@pytest.mark.parametrize("url", UNREACHABLE)
def test_an_unreachable_store_never_shows_its_password(url: str) -> None:
    _refused(agegate("flags", "list", "--store", url), "PostgreSQL", "***")


@pytest.mark.parametrize("url", UNREACHABLE)
def test_an_unreachable_review_input_never_shows_its_password(url: str) -> None:
    _refused(agegate("review", url, "--table", "t", *MAPS), "***")


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://bob:{SECRET}@db.example/app",
        f"Sqlite://bob:{SECRET}@x",
        f"https://bob:{SECRET}@files.example/flags.db",
    ],
)
def test_a_url_of_another_scheme_is_masked_where_it_is_named(
    url: str, tmp_path: Path
) -> None:
    _refused(agegate("flags", "list", "--store", url), "no such flag store", "***")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    _refused(agegate("review", url, *MAPS, cwd=tmp_path), "***")
    done = agegate("review", accounts, *MAPS, "--store", url, cwd=tmp_path)
    _refused(done, "***")
    done = agegate("review", accounts, *MAPS, "--flags-out", url, cwd=tmp_path)
    assert SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_argparse_messages_are_masked_too() -> None:
    url = f"postgresql://a:{SECRET}@h/db"
    _refused(agegate("flags", "list", "--store", "x.db", "--status", url), "***")
    _refused(agegate("flags", "list", "--store", "x.db", "--format", url), "***")


# -- URLs that do not parse --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@[::1/db",
        f"postgresql://u:{SECRET}@[::1/db",
        "Postgresql://u@[::1/db",
        "postgresql://]/db",
        "postgresql://u@[not-an-address]/db",
    ],
)
def test_a_malformed_store_url_is_exit_2(url: str) -> None:
    for command in (("flags", "list"), ("flags", "export")):
        _refused(agegate(*command, "--store", url), "not a valid PostgreSQL URL")


@pytest.mark.parametrize(
    "url", ["postgresql://u@[::1/db", f"postgresql://u:{SECRET}@[::1/db"]
)
def test_a_malformed_review_url_is_exit_2(url: str, tmp_path: Path) -> None:
    _refused(agegate("review", url, "--table", "t", *MAPS))
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    _refused(agegate("review", accounts, *MAPS, "--store", url))


@pytest.mark.parametrize(
    "base",
    [
        "http://[::1",
        "http://[::1]:99999",
        "http://h:port",
        "HTTP://[v1.x",
        f"http://u:{SECRET}@[::1",
        "ftp://h",
        "http://",
    ],
)
def test_a_malformed_base_url_is_exit_2(base: str) -> None:
    _refused(agegate("qa", "--base-url", base), "--base-url")


@pytest.mark.parametrize("host", ["[::1", "h:port", "h:99999", "[", "u@h"])
def test_a_malformed_allow_host_is_exit_2(host: str) -> None:
    done = agegate("qa", "--base-url", "http://127.0.0.1:1", "--allow-host", host)
    _refused(done, "--allow-host")


def test_a_malformed_url_in_a_catalogue_fails_its_request(tmp_path: Path) -> None:
    path = tmp_path / "a.http"
    path.write_text(
        "# @expect status 200\nGET http://[::1/x\n\n###\n"
        "# @expect status 200\nGET http://h:port/x\n"
    )
    done = agegate("qa", path, "--base-url", "http://127.0.0.1:1")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.count("FAIL") == 2


def test_a_base_url_in_another_case_is_used(tmp_path: Path) -> None:
    path = tmp_path / "a.http"
    path.write_text("# @expect status 200\nGET {{baseUrl}}/x\n")
    done = agegate("qa", path, "--base-url", "HTTP://127.0.0.1:1")
    # Sent (nothing listens there), not refused as another host.
    assert done.returncode == 1, done.stderr
    assert "no response" in done.stdout
