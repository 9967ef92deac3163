"""Shared fixtures of the removal tests: people, flag stores and real
targets (CSV, JSON Lines, Parquet, SQLite) holding their records."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Set
from pathlib import Path

import attrs

from agegate.flags import Flag, SqliteFlagStore
from agegate.removal.erasers import Erased, Survey

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def agegate(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in a child process; this directory on the path too,
    for the test eraser."""
    return subprocess.run(
        [sys.executable, "-m", "agegate.cli", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        cwd=cwd,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}",
            "PYTHONIOENCODING": "utf-8",
            **(env or {}),
        },
    )


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
    Person(
        f"kid-{n:03d}",
        f"kid{n}@minors.example",
        f"2013-0{n % 9 + 1}-1{n % 9}",
        f"Kiddo Minorson{n}",
    )
    for n in range(1, 6)
)
ADULTS = tuple(
    Person(
        f"adult-{n:03d}",
        f"grown{n}@adults.example",
        f"1980-0{n % 9 + 1}-2{n % 9}",
        f"Grownup Adultsen{n}",
    )
    for n in range(1, 9)
)
EVERYONE = MINORS + ADULTS
COLUMNS = ("account_id", "email", "birthdate", "name")


def personal_values(people: Iterable[Person] = MINORS) -> list[str]:
    """What must never appear in a plan, receipt, tombstone or output."""
    return [v for p in people for v in (p.account_id, p.email, p.birthdate, p.name)]


def flag_minors(
    store_path: Path, people: Iterable[Person] = MINORS, *, source: str = "review"
) -> None:
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


Chunks = list[tuple[str | None, bytes]]


def write_csv(path: Path, people: Iterable[Person] = EVERYONE) -> Chunks:
    """A CSV with awkward records: a quoted field with a comma and quotes
    that runs over two lines, CRLF line endings, a blank line. Returns each
    record's account and raw bytes (None for the header and the blank)."""
    chunks: Chunks = [(None, b"account_id,email,birthdate,name\r\n")]
    for n, p in enumerate(people):
        out = io.StringIO(newline="")
        name = p.name if n % 3 else f'{p.name}, "the"\nsecond line'
        csv.writer(out, lineterminator="\r\n").writerow(
            (p.account_id, p.email, p.birthdate, name)
        )
        chunks.append((p.account_id, out.getvalue().encode("utf-8")))
        if n == 4:
            chunks.append((None, b"\r\n"))
    path.write_bytes(b"".join(raw for _, raw in chunks))
    return chunks


def write_jsonl(path: Path, people: Iterable[Person] = EVERYONE) -> Chunks:
    chunks: Chunks = []
    for n, p in enumerate(people):
        spacing = (", ", ": ") if n % 2 else (",", ":")
        line = json.dumps(p.row(), separators=spacing, ensure_ascii=False) + "\n"
        chunks.append((p.account_id, line.encode("utf-8")))
    path.write_bytes(b"".join(raw for _, raw in chunks))
    return chunks


def without(chunks: Chunks, people: Iterable[Person] = MINORS) -> bytes:
    """The file's bytes with the records of `people` left out."""
    gone = {p.account_id for p in people}
    return b"".join(raw for account, raw in chunks if account not in gone)


def write_parquet(path: Path, people: Iterable[Person] = EVERYONE) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [p.row() for p in people]
    pq.write_table(pa.Table.from_pylist(rows), path)


def write_sqlite(
    path: Path, people: Iterable[Person] = EVERYONE, *, wal: bool = True
) -> None:
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


class IndexEraser:
    """An operator's eraser over a stand-in search index: a JSON file of
    documents keyed by account id, named by AGEGATE_TEST_INDEX. With
    AGEGATE_TEST_BLOCK set, `erase` writes that file and waits, so a test
    can kill the run while this target is being erased."""

    def __init__(self) -> None:
        self.path = Path(os.environ["AGEGATE_TEST_INDEX"])
        self.label = "test search index"

    def _docs(self) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        return loaded

    def plan(self, ids: Set[str]) -> Survey:
        docs = self._docs()
        found = [k for k in docs if k in ids]
        state = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return Survey(len(found), len(found), len(docs), state)

    def erase(self, ids: Set[str]) -> Erased:
        block = os.environ.get("AGEGATE_TEST_BLOCK")
        if block:
            Path(block).write_text("erasing", encoding="utf-8")
            time.sleep(60)
        docs = self._docs()
        kept = {k: v for k, v in docs.items() if k not in ids}
        self.path.write_text(json.dumps(kept, sort_keys=True), encoding="utf-8")
        return Erased(len(docs) - len(kept))

    def verify(self, ids: Set[str]) -> int:
        return sum(1 for k in self._docs() if k in ids)

    def ids(self) -> Iterator[str]:
        return iter(sorted(self._docs()))


def make_index_eraser() -> IndexEraser:
    return IndexEraser()


def write_index(path: Path, people: Iterable[Person] = EVERYONE) -> None:
    docs = {p.account_id: f"profile of {p.name}" for p in people}
    path.write_text(json.dumps(docs, sort_keys=True), encoding="utf-8")
