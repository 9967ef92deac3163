"""Shared fixtures of the removal tests: people, flag stores and real
targets (CSV, JSON Lines, Parquet, SQLite) holding their records."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import attrs

from agegate.flags import Flag, SqliteFlagStore


@attrs.frozen
class Person:
    account_id: str
    email: str
    birthdate: str
    name: str

    def row(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "email": self.email,
            "birthdate": self.birthdate,
            "name": self.name,
        }


MINORS = tuple(
    Person(f"kid-{n:03d}", f"kid{n}@minors.example", f"2013-0{n % 9 + 1}-1{n % 9}", f"Kiddo Minorson{n}")
    for n in range(1, 6)
)
ADULTS = tuple(
    Person(f"adult-{n:03d}", f"grown{n}@adults.example", f"1980-0{n % 9 + 1}-2{n % 9}", f"Grownup Adultsen{n}")
    for n in range(1, 9)
)
EVERYONE = MINORS + ADULTS
COLUMNS = ("account_id", "email", "birthdate", "name")


def personal_values(people: Iterable[Person] = MINORS) -> list[str]:
    """What must never appear in a plan, receipt, tombstone or output."""
    return [v for p in people for v in (p.account_id, p.email, p.birthdate, p.name)]


def flag_minors(store_path: Path, people: Iterable[Person] = MINORS, *, source: str = "review") -> None:
    with SqliteFlagStore(store_path) as store:
        store.add_many(
            Flag(
                account_id=p.account_id,
                codes=("MINOR_AT_COLLECTION",),
                action="remove",
                jurisdiction="US-CA",
                required_age=18,
                source=source,
                fingerprint=f"fp-{p.account_id}",
            )
            for p in people
        )


def write_csv(path: Path, people: Iterable[Person] = EVERYONE) -> bytes:
    """A CSV with awkward records: a quoted field with a comma, one that
    runs over two lines, CRLF line endings, a blank line."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, p in enumerate(people):
        name = p.name if n % 3 else f"{p.name}, \"the\"\nsecond line"
        writer.writerow((p.account_id, p.email, p.birthdate, name))
        if n == 4:
            out.write("\r\n")
    data = out.getvalue().encode("utf-8")
    path.write_bytes(data)
    return data


def write_jsonl(path: Path, people: Iterable[Person] = EVERYONE) -> bytes:
    lines = []
    for n, p in enumerate(people):
        spacing = (", ", ": ") if n % 2 else (",", ":")
        lines.append(json.dumps(p.row(), separators=spacing) + "\n")
    data = "".join(lines).encode("utf-8")
    path.write_bytes(data)
    return data


def write_parquet(path: Path, people: Iterable[Person] = EVERYONE) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [p.row() for p in people]
    pq.write_table(pa.Table.from_pylist(rows), path)


def write_sqlite(path: Path, people: Iterable[Person] = EVERYONE, *, wal: bool = True) -> None:
    with sqlite3.connect(path) as db:
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, account_id TEXT,"
            " email TEXT, birthdate TEXT, name TEXT)"
        )
        db.execute("CREATE INDEX users_email ON users (email)")
        db.executemany(
            "INSERT INTO users (account_id, email, birthdate, name) VALUES (?, ?, ?, ?)",
            [(p.account_id, p.email, p.birthdate, p.name) for p in people],
        )
    db.close()


def sqlite_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM users ORDER BY id").fetchall()
    db.close()
    return rows


def file_bytes(path: Path) -> bytes:
    """The database file and its WAL, as they lie on disk."""
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
