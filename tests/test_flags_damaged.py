"""Damaged and foreign flag stores: every `agegate` command that opens one
exits 2 with a message naming the store (and the row, where one is read),
never a traceback, and never writes to a database that is not a store.
Each case runs the real command in a child process."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_support import agegate

from agegate.flags import Flag, PostgresFlagStore, SqliteFlagStore

ACCOUNTS = "account_id,birthdate,country\nu1,2015-01-01,FR\n"
# Every command that reads a store, as the arguments after `--store PATH`.
READERS = [
    ("flags", "list"),
    ("flags", "list", "--status", "all", "--format", "csv"),
    ("flags", "export"),
    ("flags", "show", "a1"),
    ("flags", "resolve", "a1", "--status", "removed", "--by", "me", "--why", "x"),
]


def _run(
    command: tuple[str, ...], store: str | Path
) -> subprocess.CompletedProcess[str]:
    return agegate(*command[:2], "--store", str(store), *command[2:])


def _refused(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    for needle in needles:
        assert needle in done.stderr, done.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "flags.sqlite"
    with SqliteFlagStore(path) as flags:
        flags.add_many(
            [
                Flag("a0", ("MINOR_NOW",), "remove", "FR", 18),
                Flag("a1", ("MINOR_NOW",), "remove", "FR", 18),
                Flag("a2", ("MINOR_NOW",), "remove", "FR", 18),
            ]
        )
    return path


def _damage(path: Path, column: str, value: Any, account: str = "a1") -> int:
    """Write `value` into one row's column as another program could; the
    row's rowid."""
    with sqlite3.connect(path) as db:
        (rowid,) = db.execute(
            "SELECT rowid FROM flags WHERE account_id = ?", (account,)
        ).fetchone()
        db.execute(f"UPDATE flags SET {column} = ? WHERE rowid = ?", (value, rowid))
    db.close()
    return int(rowid)


# -- a damaged row ---------------------------------------------------------------


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_codes_that_are_not_json_name_the_store_and_row(
    store: Path, command: tuple[str, ...]
) -> None:
    rowid = _damage(store, "codes", "not json")
    done = _run(command, store)
    _refused(done, str(store), f"row {rowid}", "column codes")
    assert "not json" not in done.stderr  # the value is never repeated


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("codes", '{"MINOR_NOW": 1}'),
        ("codes", "[1, 2]"),
        ("codes", b"\x00\xff"),
        ("status", "archived-by-hand"),
        ("action", "delete"),
        ("raised_at", "last tuesday"),
        ("updated_at", 12),
        ("resolved_at", "soon"),
        ("required_age", "eighteen"),
        ("required_age", 18.5),
        ("line", "seven"),
        ("jurisdiction", b"FR"),
        ("fingerprint", b"\x01"),
        ("account_id", ""),
        ("account_id", b"a1"),
        ("account_id", "x" * 300),
    ],
)
def test_every_column_is_checked(store: Path, column: str, value: Any) -> None:
    rowid = _damage(store, column, value)
    done = agegate("flags", "list", "--store", store, "--status", "all")
    _refused(done, str(store), f"row {rowid}", f"column {column}")


def test_an_intact_row_beside_none_damaged_still_lists(store: Path) -> None:
    done = agegate("flags", "list", "--store", store)
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()[1:]] == [
        "a0",
        "a1",
        "a2",
    ]


def test_a_review_beside_a_damaged_row_leaves_it_named(
    store: Path, tmp_path: Path
) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS.replace("u1", "a1"))
    rowid = _damage(store, "status", "nonsense", account="a0")
    done = agegate("review", accounts, "--store", store, "--today", "2026-01-01")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    done = agegate("flags", "export", "--store", store)
    _refused(done, f"row {rowid}", "column status")


# -- a file that is not a store --------------------------------------------------


def _foreign(path: Path, *statements: str) -> Path:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()
    return path


FOREIGN = {
    "another app's database": (
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)",
        "INSERT INTO users (email) VALUES ('x@example.org')",
    ),
    "a flags table of another shape": (
        "CREATE TABLE flags (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO flags (name) VALUES ('n')",
    ),
    "a flags table keyed by account alone": (
        "CREATE TABLE flags (account_id TEXT PRIMARY KEY, source TEXT, codes TEXT,"
        " action TEXT, jurisdiction TEXT, required_age INTEGER, fingerprint TEXT,"
        " status TEXT, raised_at TEXT, updated_at TEXT, resolved_by TEXT,"
        " resolved_at TEXT, resolution_note TEXT)",
    ),
    "a flags table without rowid": (
        "CREATE TABLE flags (account_id TEXT, source TEXT, codes TEXT,"
        " action TEXT, jurisdiction TEXT, required_age INTEGER, fingerprint TEXT,"
        " status TEXT, raised_at TEXT, updated_at TEXT, resolved_by TEXT,"
        " resolved_at TEXT, resolution_note TEXT,"
        " PRIMARY KEY (account_id, source)) WITHOUT ROWID",
    ),
}


@pytest.mark.parametrize("kind", FOREIGN)
@pytest.mark.parametrize("command", READERS[:3], ids=" ".join)
def test_a_foreign_sqlite_file_is_refused_and_left_alone(
    tmp_path: Path, kind: str, command: tuple[str, ...]
) -> None:
    path = _foreign(tmp_path / "app.db", *FOREIGN[kind])
    before = _digest(path)
    done = _run(command, path)
    _refused(done, str(path), "not a flag store")
    assert _digest(path) == before


@pytest.mark.parametrize("kind", FOREIGN)
def test_review_will_not_write_flags_into_a_foreign_database(
    tmp_path: Path, kind: str
) -> None:
    path = _foreign(tmp_path / "app.db", *FOREIGN[kind])
    before = _digest(path)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    done = agegate("review", accounts, "--store", path, "--today", "2026-01-01")
    _refused(done, str(path), "not a flag store")
    assert _digest(path) == before


def test_an_empty_database_is_no_store_to_read(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    _refused(agegate("flags", "list", "--store", path), "no flags table")
    assert path.read_bytes() == b""


@pytest.mark.parametrize(
    "content",
    [b"not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["junk", "a broken header"],
)
def test_a_file_that_is_not_sqlite(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "flags.db"
    path.write_bytes(content)
    for command in READERS[:3]:
        _refused(_run(command, path), str(path))


def test_a_damaged_page_inside_a_store(store: Path) -> None:
    data = bytearray(store.read_bytes())
    # The second page holds the flags table's rows; keep the header intact.
    data[4096 + 8 : 4096 + 400] = b"\xa5" * 392
    store.write_bytes(bytes(data))
    for command in READERS:
        _refused(_run(command, store), str(store))


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    _refused(agegate("flags", "list", "--store", tmp_path), "no such flag store")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    done = agegate("review", accounts, "--store", tmp_path, "--today", "2026-01-01")
    _refused(done, str(tmp_path))


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_a_json_lines_flag_file_is_not_a_store(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"flags{suffix}"
    path.write_text('{"account_id": "a1", "codes": ["MINOR_NOW"]}\nnot json\n')
    before = _digest(path)
    for command in READERS:
        _refused(_run(command, path), str(path), "JSON Lines")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    done = agegate("review", accounts, "--store", path, "--today", "2026-01-01")
    _refused(done, str(path), "JSON Lines")
    assert _digest(path) == before


# -- PostgreSQL --------------------------------------------------------------------


@pytest.fixture
def pg_store(pg_database: str) -> str:
    with PostgresFlagStore(pg_database) as flags:
        flags.add_many(
            [Flag(f"a{i}", ("MINOR_NOW",), "remove", "FR", 18) for i in range(3)]
        )
    return pg_database


def _pg(url: str, statement: str) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url, autocommit=True) as db, db.cursor() as cursor:
        cursor.execute(statement)


@pytest.mark.parametrize(
    ("assignment", "column"),
    [
        ("codes = 'not json'", "codes"),
        ("codes = '[3]'", "codes"),
        ("status = 'gone fishing'", "status"),
        ("action = 'delete'", "action"),
        ("account_id = ''", "account_id"),
    ],
)
def test_a_bad_postgres_row_names_the_store_and_row(
    pg_store: str, assignment: str, column: str
) -> None:
    _pg(pg_store, f"UPDATE flags SET {assignment} WHERE account_id = 'a1'")
    password = pg_store.split(":")[2].split("@")[0]
    for command in (READERS[1], READERS[2]):
        done = _run(command, pg_store)
        _refused(done, "row at ctid (", f"column {column}", ":***@")
        assert password not in done.stderr + done.stdout


def test_a_foreign_postgres_flags_table_is_refused(pg_database: str) -> None:
    _pg(pg_database, "CREATE TABLE flags (id integer PRIMARY KEY, note text)")
    _pg(pg_database, "INSERT INTO flags VALUES (1, 'n')")
    for command in READERS[:3]:
        _refused(_run(command, pg_database), "not a flag store", "no column account_id")
    with PostgresFlagStore(pg_database) as flags:
        from agegate.errors import InputError

        with pytest.raises(InputError, match="not a flag store"):
            flags.add(Flag("a1", ("MINOR_NOW",), "remove"))


def test_a_postgres_flags_table_dropped_under_a_run_is_exit_2(pg_store: str) -> None:
    _pg(pg_store, "ALTER TABLE flags DROP COLUMN report_id")
    _refused(_run(READERS[0], pg_store), "not a flag store", "report_id")


# -- ids and paths no store could hold ------------------------------------------------


@pytest.mark.parametrize("command", ["show", "resolve"])
def test_an_account_id_that_is_not_utf8_is_exit_2(store: Path, command: str) -> None:
    # Bytes that are not UTF-8 reach Python as a lone surrogate.
    extra = ("--status", "removed", "--by", "me", "--why", "x")
    done = agegate(
        "flags",
        command,
        "a\udcff",
        "--store",
        store,
        *(extra if command == "resolve" else ()),
    )
    _refused(done, "not encodable as UTF-8")


def test_a_summary_in_a_missing_directory_is_exit_2(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    missing = tmp_path / "no" / "summary.json"
    done = agegate("review", accounts, "--summary", missing, "--today", "2026-01-01")
    _refused(done, str(missing.parent))
