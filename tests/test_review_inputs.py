"""`agegate review` on real files whose shape once lost rows or crashed it:
SQLite tables with a column named like the rowid, Parquet columns of native
types (dates, timestamps, integers), and inputs that name a column twice.

Every case runs the real command in a subprocess on a file the test writes,
with both engines and one or two workers: every row is counted, every planted
minor is flagged, and an input that cannot be read as meant is exit 2 with
nothing written.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_support import agegate

from agegate.review.batches import WHOLE, Source, shares

TODAY = "2026-11-28"
SECRET = "a test key of enough bytes"
MAP = ["--map=account_id=user_id", "--map=birthdate=dob"]
MINOR, ADULT = "2012-05-01", "1980-06-15"


def review(path: Path | str, tmp_path: Path, *options: str) -> dict[str, Any]:
    """A run of the command: its exit status, stderr, flags by account and
    summary (None where it wrote none)."""
    out, summary = tmp_path / "flags.jsonl", tmp_path / "summary.json"
    out.unlink(missing_ok=True)
    summary.unlink(missing_ok=True)
    done = agegate(
        "review", path, f"--today={TODAY}", f"--secret={SECRET}", "--quiet",
        f"--flags-out={out}", f"--summary={summary}", *options,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    flags = (
        [json.loads(line) for line in out.read_text().splitlines()]
        if (out.exists())
        else None
    )
    return {
        "code": done.returncode,
        "stderr": done.stderr,
        "flags": None if flags is None else {f["account_id"]: f for f in flags},
        "summary": json.loads(summary.read_text()) if summary.exists() else None,
    }


def _kept(flag: dict[str, Any], *dropped: str) -> dict[str, Any]:
    return {k: v for k, v in flag.items() if k not in ("raised_at", *dropped)}


# -- SQLite: the true rowid, whatever the columns are named ------------------


def _planted(count: int = 40) -> list[tuple[str, str]]:
    """(id, birthdate): every fourth account a minor."""
    return [(f"u{n}", MINOR if n % 4 == 0 else ADULT) for n in range(count)]


def _table(path: Path, ddl: str, insert: str, rows: list[tuple[Any, ...]]) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(ddl)
        db.executemany(insert, rows)
    db.close()


def _rowid_named(path: Path, name: str, kind: str) -> None:
    """A column `name` that holds NULL for every minor: cut on it, their
    rows would never be read."""
    rows = [
        (user, dob, "DE", None if dob == MINOR else (f"x{n}" if kind else n))
        for n, (user, dob) in enumerate(_planted())
    ]
    _table(
        path,
        f'CREATE TABLE accounts (user_id, dob, country, "{name}" {kind})',
        "INSERT INTO accounts VALUES (?, ?, ?, ?)",
        rows,
    )


def _every_alias_taken(path: Path) -> None:
    rows = [(u, d, "DE", None, "a", n) for n, (u, d) in enumerate(_planted())]
    _table(
        path,
        "CREATE TABLE accounts (user_id, dob, country, ROWID, _Rowid_ TEXT, Oid)",
        "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


def _without_rowid(path: Path) -> None:
    rows = [(u, d, "DE", None) for u, d in _planted()]
    _table(
        path,
        "CREATE TABLE accounts (user_id PRIMARY KEY, dob, country, _rowid_)"
        " WITHOUT ROWID",
        "INSERT INTO accounts VALUES (?, ?, ?, ?)",
        rows,
    )


def _extreme_rowids(path: Path) -> None:
    """Rowids at both ends of 64 bits, and negative ones only beside them."""
    ends = [-(2**63), -(2**63) + 1, -5, -1, 2**63 - 2, 2**63 - 1]
    planted = _planted(len(ends) * 4)
    rowids = ends + [-1000 - n for n in range(len(planted) - len(ends))]
    rows = [(r, u, d, "DE") for r, (u, d) in zip(rowids, planted, strict=True)]
    _table(
        path,
        "CREATE TABLE accounts (user_id, dob, country)",
        "INSERT INTO accounts (rowid, user_id, dob, country) VALUES (?, ?, ?, ?)",
        rows,
    )


def _negative_rowids(path: Path) -> None:
    rows = [(-1 - n, u, d, "DE") for n, (u, d) in enumerate(_planted())]
    _table(
        path,
        "CREATE TABLE accounts (user_id, dob, country)",
        "INSERT INTO accounts (rowid, user_id, dob, country) VALUES (?, ?, ?, ?)",
        rows,
    )


def _generated_rowid(path: Path) -> None:
    rows = [(u, d, "DE") for u, d in _planted()]
    _table(
        path,
        "CREATE TABLE accounts (user_id, dob, country,"
        " _rowid_ AS (CASE WHEN dob = '2012-05-01' THEN NULL ELSE 1 END))",
        "INSERT INTO accounts VALUES (?, ?, ?)",
        rows,
    )


SHAPES = {
    "_rowid_ integer": lambda p: _rowid_named(p, "_rowid_", ""),
    "_rowid_ text": lambda p: _rowid_named(p, "_rowid_", "TEXT"),
    "rowid": lambda p: _rowid_named(p, "rowid", ""),
    "OID text": lambda p: _rowid_named(p, "OID", "TEXT"),
    "every alias taken": _every_alias_taken,
    "without rowid": _without_rowid,
    "extreme rowids": _extreme_rowids,
    "negative rowids": _negative_rowids,
    "generated _rowid_": _generated_rowid,
}
# Shapes with no true rowid to cut on: one share, flags without a rowid.
UNCUT = {"every alias taken", "without rowid"}


def _true_rowids(path: Path) -> dict[str, int | None]:
    """Each account's true rowid, read through a name no column takes."""
    db = sqlite3.connect(path)
    try:
        taken = {r[1].lower() for r in db.execute("PRAGMA table_xinfo(accounts)")}
        free = [a for a in ("rowid", "_rowid_", "oid") if a not in taken]
        try:
            found = db.execute(f"SELECT {free[0]}, user_id FROM accounts").fetchall()
        except (IndexError, sqlite3.OperationalError):  # no rowid to read
            users = db.execute("SELECT user_id FROM accounts").fetchall()
            return {user: None for (user,) in users}
    finally:
        db.close()
    return {user: rowid for rowid, user in found}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_sqlite_table_is_read_whole_by_its_true_rowid(
    tmp_path: Path, shape: str
) -> None:
    path = tmp_path / "accounts.sqlite"
    SHAPES[shape](path)
    cut = shares(Source(str(path), "sqlite"), 2)
    assert (cut == [WHOLE]) == (shape in UNCUT)
    db = sqlite3.connect(path)
    count = db.execute("SELECT count(*) FROM accounts").fetchone()[0]
    minors = {
        u for (u,) in db.execute("SELECT user_id FROM accounts WHERE dob = ?", (MINOR,))
    }
    db.close()
    rowids = _true_rowids(path)
    written = []
    for options in (["--workers=1"], ["--workers=2"], ["--engine=rows"]):
        found = review(path, tmp_path, *MAP, *options)
        assert found["code"] == 0, found["stderr"]
        assert found["summary"]["rows_read"] == count
        assert found["summary"]["rows_screened"] == count
        assert set(found["flags"]) == minors
        for account, flag in found["flags"].items():
            assert flag["rowid"] == rowids[account]
            assert flag["codes"] == ["MINOR_NOW"]
        written.append({a: _kept(f) for a, f in found["flags"].items()})
    assert written[0] == written[1] == written[2]


def test_a_view_that_names_a_column_twice_is_refused(tmp_path: Path) -> None:
    """SQLite renames the second `dob` of a view `dob:1`: which one the map
    means cannot be told."""
    path = tmp_path / "accounts.sqlite"
    _table(
        path,
        "CREATE TABLE t (user_id, dob, dob2, country)",
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [("kid", MINOR, ADULT, "DE")],
    )
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIEW accounts AS SELECT user_id, dob2 AS dob, dob, country FROM t"
    )
    db.close()
    for engine in ("columnar", "rows"):
        found = review(path, tmp_path, *MAP, "--table=accounts", f"--engine={engine}")
        assert found["code"] == 2
        assert "the column dob is named twice" in found["stderr"]
        assert found["flags"] is None
        assert found["summary"] is None
    # A view whose columns have names of their own is read.
    db = sqlite3.connect(path)
    db.execute("CREATE VIEW plain AS SELECT user_id, dob, country FROM t")
    db.close()
    found = review(path, tmp_path, *MAP, "--table=plain")
    assert found["code"] == 0, found["stderr"]
    assert set(found["flags"]) == {"kid"}


# -- Parquet: native types, read as their text -----------------------------

# Born 2006-01-01: 17 on 2023-12-31, 18 on 2024-01-01.
EIGHTEEN_ON_NEW_YEAR = date(2006, 1, 1)
NEW_YEAR_UTC = datetime(2024, 1, 1, 5, 0, tzinfo=UTC)  # 2023-12-31 at UTC-12


def _accounts() -> list[dict[str, Any]]:
    """Accounts whose flags depend on each native value being read right."""
    eleven_59 = datetime(2024, 1, 1, 11, 59, 59, 999999, tzinfo=UTC)
    noon = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    paris = timezone(timedelta(hours=1))
    return [
        # A zoned collection time counts at UTC-12: a minor then.
        {"user_id": 1, "dob": EIGHTEEN_ON_NEW_YEAR, "at": NEW_YEAR_UTC, "age": None},
        {"user_id": 2, "dob": EIGHTEEN_ON_NEW_YEAR, "at": eleven_59, "age": None},
        {"user_id": 3, "dob": EIGHTEEN_ON_NEW_YEAR, "at": noon, "age": None},
        {
            "user_id": 4,
            "dob": EIGHTEEN_ON_NEW_YEAR,
            "age": None,
            "at": datetime(2024, 1, 1, 13, 30, tzinfo=paris),
        },  # 12:30 UTC
        {"user_id": 5, "dob": date(2012, 5, 1), "at": None, "age": None},
        {"user_id": 6, "dob": date(1980, 6, 15), "at": noon, "age": None},
        {"user_id": 7, "dob": None, "at": datetime(2020, 3, 1, tzinfo=UTC), "age": 15},
        {"user_id": 8, "dob": None, "at": datetime(2015, 3, 1, tzinfo=UTC), "age": 17},
        {"user_id": 9, "dob": None, "at": None, "age": None},
        {"user_id": 10, "dob": date(1960, 1, 1), "at": None, "age": 30},
    ]


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _timestamp_text(value: datetime | None, zoned: bool) -> str:
    if value is None:
        return ""
    instant = value.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return instant.isoformat() + ("Z" if zoned else "")


def _native_table(
    birth: pa.DataType, collected: pa.DataType, age: pa.DataType, text: pa.DataType
) -> pa.Table:
    accounts = _accounts()
    zoned = collected.tz is not None
    times = [a["at"] if zoned else _naive(a["at"]) for a in accounts]
    if collected.unit == "s":  # whole seconds, as such a column holds
        times = [t if t is None else t.replace(microsecond=0) for t in times]
    births: list[Any] = [a["dob"] for a in accounts]
    if pa.types.is_timestamp(birth):
        births = [
            None if b is None else datetime(b.year, b.month, b.day) for b in births
        ]
    country = pa.array(["DE"] * len(accounts), pa.string())
    if pa.types.is_dictionary(text):
        country = country.dictionary_encode()
    else:
        country = country.cast(text)
    return pa.table(
        {
            "user_id": pa.array([a["user_id"] for a in accounts], pa.int64()),
            "dob": pa.array(births, birth),
            "created_at": pa.array(times, collected),
            "declared_age": pa.array([a["age"] for a in accounts], age),
            "country": country,
        }
    )


def _text_export(path: Path, zoned: bool) -> Path:
    """The same accounts as a CSV export writes them."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["user_id", "dob", "created_at", "declared_age", "country"])
        for a in _accounts():
            writer.writerow(
                [
                    a["user_id"], a["dob"].isoformat() if a["dob"] else "",
                    _timestamp_text(a["at"], zoned),
                    "" if a["age"] is None else a["age"], "DE",
                ]
            )  # fmt: skip
    return path


NATIVE_MAP = [
    *MAP,
    "--map=collected_at=created_at",
    "--map=age=declared_age",
]
TYPES = {
    "date32, timestamp[ns, UTC]": (
        pa.date32(), pa.timestamp("ns", "UTC"), pa.int64(), pa.string()
    ),
    "date64, timestamp[us, Europe/Paris]": (
        pa.date64(), pa.timestamp("us", "Europe/Paris"), pa.int8(), pa.large_string()
    ),
    "timestamp[ms] birthdate, timestamp[s, +05:30]": (
        pa.timestamp("ms"), pa.timestamp("s", "+05:30"), pa.uint16(), pa.string_view()
    ),
    "date32, naive timestamp[us]": (
        pa.date32(), pa.timestamp("us"), pa.int32(), pa.dictionary(pa.int32(), pa.string())
    ),
    "date32, naive timestamp[ns]": (
        pa.date32(), pa.timestamp("ns"), pa.int16(), pa.string()
    ),
}  # fmt: skip


@pytest.mark.parametrize("types", sorted(TYPES))
def test_parquet_native_types_are_screened_as_their_text_export(
    tmp_path: Path, types: str
) -> None:
    """Both engines, one or two workers, give the flags (fingerprints
    included) that the CSV export of the same accounts gives."""
    table = _native_table(*TYPES[types])
    path = tmp_path / "accounts.parquet"
    pq.write_table(table, path, row_group_size=3)
    zoned = table.schema.field("created_at").type.tz is not None
    export = review(_text_export(tmp_path / "export.csv", zoned), tmp_path, *NATIVE_MAP)
    assert export["code"] == 0, export["stderr"]
    expected = {a: _kept(f, "line") for a, f in export["flags"].items()}
    for options in (["--engine=rows"], [], ["--workers=2"]):
        found = review(path, tmp_path, *NATIVE_MAP, *options)
        assert found["code"] == 0, found["stderr"]
        assert found["summary"]["rows_read"] == table.num_rows
        assert found["summary"]["rows_screened"] == table.num_rows
        assert {a: _kept(f, "line") for a, f in found["flags"].items()} == expected
    codes = {a: f["codes"] for a, f in expected.items()}
    if zoned:  # at UTC-12: 2023-12-31 until noon UTC, a minor then
        assert codes["1"] == codes["2"] == ["MINOR_AT_COLLECTION"]
        assert not {"3", "4"} & set(codes)
    else:  # the wall time as written: 2024-01-01, an adult
        assert not {"1", "2", "3", "4"} & set(codes)
    assert codes["5"] == ["MINOR_NOW"]
    assert codes["7"] == ["MINOR_AT_COLLECTION"]
    assert codes["8"] == ["MINOR_AT_COLLECTION"]
    assert codes["9"] == ["BIRTHDATE_MISSING"]
    assert "6" not in codes


def test_what_pandas_writes_is_screened(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "dob": [date(2012, 5, 1), date(1980, 6, 15), date(2006, 1, 1)],
            "dob_stamp": pd.to_datetime(["2012-05-01", "1980-06-15", "2006-01-01"]),
            "created_at": pd.to_datetime(
                ["2024-01-01 05:00", "2024-01-01 05:00", "2024-01-01 05:00"], utc=True
            ),
            "country": pd.Categorical(["DE", "DE", "DE"]),
        }
    )
    path = tmp_path / "accounts.parquet"
    frame.to_parquet(path)
    for dob in ("dob", "dob_stamp"):
        options = ["--map=account_id=user_id", f"--map=birthdate={dob}"]
        for engine in ("rows", "columnar"):
            found = review(
                path, tmp_path, *options, "--map=collected_at=created_at",
                f"--engine={engine}",
            )  # fmt: skip
            assert found["code"] == 0, found["stderr"]
            codes = {a: f["codes"] for a, f in found["flags"].items()}
            assert codes == {
                "1": ["MINOR_AT_COLLECTION", "MINOR_NOW"],
                "3": ["MINOR_AT_COLLECTION"],
            }


@pytest.mark.parametrize(
    ("kind", "values", "shown"),
    [
        (pa.float64(), [17.0, None], "double"),
        (pa.bool_(), [True, False], "bool"),
        (pa.binary(), [b"17", b"18"], "binary"),
        (pa.time64("us"), [None, None], "time64[us]"),
        (pa.decimal128(5, 0), [None, None], "decimal128(5, 0)"),
        (pa.list_(pa.string()), [["17"], []], "list<element: string>"),
    ],
    ids=["double", "bool", "binary", "time", "decimal", "list"],
)
def test_a_mapped_column_of_another_type_is_refused_naming_it(
    tmp_path: Path, kind: pa.DataType, values: list[Any], shown: str
) -> None:
    path = tmp_path / "accounts.parquet"
    table = pa.table(
        {
            "user_id": ["kid", "adult"],
            "dob": [MINOR, ADULT],
            "country": ["DE", "DE"],
            "declared_age": pa.array(values, kind),
        }
    )
    pq.write_table(table, path)
    for engine in ("columnar", "rows"):
        found = review(
            path, tmp_path, *MAP, "--map=age=declared_age", f"--engine={engine}"
        )
        assert found["code"] == 2
        assert f"the column declared_age is of type {shown}" in found["stderr"]
        assert found["flags"] is None
        assert found["summary"] is None
    # Unmapped, the column is not read and stands in no one's way.
    found = review(path, tmp_path, *MAP)
    assert found["code"] == 0, found["stderr"]
    assert set(found["flags"]) == {"kid"}


# -- a column named twice -----------------------------------------------------


def test_a_parquet_file_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "accounts.parquet"
    table = pa.Table.from_arrays(
        [pa.array(["kid"]), pa.array([MINOR]), pa.array([ADULT]), pa.array(["DE"])],
        names=["user_id", "dob", "dob", "country"],
    )
    pq.write_table(table, path)
    for options in (["--engine=rows"], [], ["--workers=2"]):
        found = review(path, tmp_path, *MAP, *options)
        assert found["code"] == 2
        assert "the column dob is named twice" in found["stderr"]
        assert found["flags"] is None
        assert found["summary"] is None


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(f"user_id,dob,dob,country\nkid,{MINOR},{ADULT},DE\n")
    for engine in ("columnar", "rows"):
        found = review(path, tmp_path, *MAP, f"--engine={engine}")
        assert found["code"] == 2
        assert "names a column twice" in found["stderr"]


def test_a_json_object_naming_a_key_twice_is_an_unreadable_row(tmp_path: Path) -> None:
    """A JSON Lines file has no header to refuse: each object naming a key
    twice, at any depth, is an unreadable row, counted and reported by line,
    and never read as either value; a file of nothing else has no key to
    map, exit 2."""
    path = tmp_path / "accounts.jsonl"
    lines = [
        f'{{"user_id": "kid", "dob": "{ADULT}", "dob": "{MINOR}", "country": "DE"}}',
        f'{{"user_id": "nested", "dob": "{MINOR}", "country": "DE", '
        f'"extra": {{"a": 1, "a": 2}}}}',
        f'{{"user_id": "minor", "dob": "{MINOR}", "country": "DE"}}',
    ]
    path.write_text("\n".join(lines) + "\n")
    for engine in ("columnar", "rows"):
        found = review(path, tmp_path, *MAP, f"--engine={engine}")
        # Two rows of three unreadable: more than the share a run accepts.
        assert found["code"] == 3, found["stderr"]
        summary = found["summary"]
        assert (summary["rows_read"], summary["rows_unreadable"]) == (3, 2)
        assert summary["unreadable"] == [
            {"line": 1, "reason": "a key appears twice"},
            {"line": 2, "reason": "a key appears twice"},
        ]
        assert set(found["flags"]) == {"minor"}
        assert f"{path}:1: a key appears twice" in found["stderr"]
    path.write_text(lines[0] + "\n")
    found = review(path, tmp_path, *MAP)
    assert found["code"] == 2
    assert "no such key in the first 1000 records" in found["stderr"]
    assert found["flags"] is None


def test_a_postgresql_query_naming_a_column_twice_is_refused(
    pg_database: str, tmp_path: Path
) -> None:
    query = (
        f"SELECT 'kid' AS user_id, '{ADULT}' AS dob, '{MINOR}' AS dob, 'DE' AS country"
    )
    found = review(pg_database, tmp_path, *MAP, f"--query={query}")
    assert found["code"] == 2
    assert "the column dob is named twice" in found["stderr"]
    assert found["flags"] is None
    query = f"SELECT 'kid' AS user_id, '{MINOR}' AS dob, 'DE' AS country"
    found = review(pg_database, tmp_path, *MAP, f"--query={query}")
    assert found["code"] == 0, found["stderr"]
    assert set(found["flags"]) == {"kid"}


def test_json_numbers_are_read_by_both_engines_alike(tmp_path: Path) -> None:
    """A JSON number is no text: its batch goes to the row engine, which
    reads the number, never a missing value (the youngest reading, the
    declared age of 15, decides)."""
    path = tmp_path / "accounts.jsonl"
    rows = [
        {"user_id": "aged", "dob": ADULT, "declared_age": 15, "country": "DE"},
        {"user_id": "adult", "dob": ADULT, "declared_age": 46, "country": "DE"},
        {"user_id": "kid", "dob": MINOR, "country": "DE"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    written = []
    for engine in ("rows", "columnar"):
        found = review(
            path, tmp_path, *MAP, "--map=age=declared_age", f"--engine={engine}"
        )
        assert found["code"] == 0, found["stderr"]
        assert set(found["flags"]) == {"aged", "kid"}
        assert "MINOR_NOW" in found["flags"]["aged"]["codes"]
        written.append({a: _kept(f) for a, f in found["flags"].items()})
    assert written[0] == written[1]
