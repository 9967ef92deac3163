"""Streaming readers of account stores: CSV, JSON Lines and SQLite.

Each reader is a generator that yields, for every input row, either a `Row`
or an `Unreadable` naming the row's line (or row number) and why it could not
be read. A bad row never stops the stream: only a problem with the input as a
whole (a missing file, no header, an unknown table) raises `InputError`, and
it does so before the first row. Reasons are fixed phrases; they never
repeat any of the row's content.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from .errors import InputError

Format = Literal["csv", "jsonl", "sqlite"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "sqlite")

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
}

# Bytes that are not UTF-8 come through `surrogateescape` as lone surrogates.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


@attrs.frozen
class Row:
    """One readable input row: its line (or row number) and its values."""

    line: int
    values: dict[str, Any]


@attrs.frozen
class Unreadable:
    """One input row that could not be read, and why (never its content)."""

    line: int
    reason: str


Item = Row | Unreadable


class Stream(Iterator[Item]):
    """The rows of an input, with the file or database they come from, which
    `close()` (or leaving a `with` block) releases even if never iterated."""

    def __init__(self, rows: Iterator[Item], resource: Any) -> None:
        self._rows = rows
        self._resource = resource

    def __next__(self) -> Item:
        return next(self._rows)

    def close(self) -> None:
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()
        self._resource.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def detect_format(path: str | Path) -> Format:
    suffix = Path(path).suffix.lower()
    found = _EXTENSIONS.get(suffix)
    if found is None:
        raise InputError(
            "cannot tell the format from the extension; give --format",
            where=str(path),
        )
    return found


def read(
    path: str | Path, fmt: Format | None = None, *, table: str | None = None
) -> Stream:
    """Every row of `path`, read as `fmt` (default: from the extension).

    Checks the input as a whole now, so that an unusable input raises here
    and not part-way through the stream.
    """
    chosen = fmt if fmt is not None else detect_format(path)
    if chosen not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}")
    if not Path(path).is_file():
        raise InputError("no such file", where=str(path))
    if chosen == "sqlite":
        if table is None:
            raise InputError("a SQLite input needs --table", where=str(path))
        return read_sqlite(path, table)
    if table is not None:
        raise InputError("--table applies to SQLite inputs only", where=str(path))
    return read_csv(path) if chosen == "csv" else read_jsonl(path)


# -- CSV -----------------------------------------------------------------


def _csv_problem(error: csv.Error) -> str:
    text = str(error)
    if "NUL" in text:
        return "NUL byte in row"
    if "field larger" in text:
        return "field too large"
    return "malformed CSV"


def read_csv(path: str | Path) -> Stream:
    """Rows of a CSV file with a header row; lines are numbered from 1."""
    handle = open(  # noqa: SIM115 - the generator below owns and closes it
        path, encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    try:
        reader = csv.reader(handle)
        header = _csv_header(reader, str(path))
    except BaseException:
        handle.close()
        raise
    return Stream(_csv_rows(handle, reader, header), handle)


def _csv_header(reader: Any, where: str) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InputError(f"header row: {_csv_problem(error)}", where=where) from None
    if not header:
        raise InputError("no header row", where=where)
    names = [name.strip() for name in header]
    if _ESCAPED_BYTE.search("".join(names)):
        raise InputError("header row is not UTF-8", where=where)
    if "" in names:
        raise InputError("header row has an empty column name", where=where)
    if len(set(names)) != len(names):
        raise InputError("header row names a column twice", where=where)
    return names


def _csv_rows(handle: Any, reader: Any, header: list[str]) -> Iterator[Item]:
    width = len(header)
    with handle:
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield Unreadable(start, _csv_problem(error))
                continue
            if not fields:
                continue  # a blank line is no row
            if len(fields) != width:
                yield Unreadable(start, f"expected {width} fields, found {len(fields)}")
                continue
            joined = "".join(fields)
            if not joined.isascii() and _ESCAPED_BYTE.search(joined):
                yield Unreadable(start, "not UTF-8")
                continue
            yield Row(start, dict(zip(header, fields, strict=True)))


# -- JSON Lines ----------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def read_jsonl(path: str | Path) -> Stream:
    """One JSON object per line; blank lines are skipped, lines numbered from 1."""
    handle = open(path, "rb")  # noqa: SIM115 - the Stream owns and closes it
    return Stream(_jsonl_rows(handle), handle)


def _jsonl_rows(handle: Any) -> Iterator[Item]:
    with handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield Unreadable(number, "not UTF-8")
                continue
            try:
                value = json.loads(text, object_pairs_hook=_unique_keys)
            except _DuplicateKey:
                yield Unreadable(number, "a key appears twice")
                continue
            except (ValueError, RecursionError):
                yield Unreadable(number, "broken JSON")
                continue
            if not isinstance(value, dict):
                yield Unreadable(number, "not a JSON object")
                continue
            yield Row(number, value)


# -- SQLite --------------------------------------------------------------


def read_sqlite(path: str | Path, table: str) -> Stream:
    """Rows of one table or view, numbered from 1 in rowid order where it has one."""
    where = f"{path}:{table}"
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        db.text_factory = bytes
        found = db.execute(
            "SELECT type FROM sqlite_master"
            " WHERE name = ? AND type IN ('table', 'view')",
            (table,),
        ).fetchone()
    except sqlite3.DatabaseError:
        raise InputError("not a readable SQLite database", where=str(path)) from None
    if found is None:
        db.close()
        raise InputError("no such table or view", where=where)
    quoted = '"' + table.replace('"', '""') + '"'
    try:
        cursor = db.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - quoted name
    except sqlite3.DatabaseError:
        db.close()
        raise InputError("table cannot be read", where=where) from None
    columns = [column[0] for column in cursor.description]
    return Stream(_sqlite_rows(db, cursor, columns, where), db)


def _sqlite_rows(
    db: sqlite3.Connection, cursor: sqlite3.Cursor, columns: list[str], where: str
) -> Iterator[Item]:
    try:
        number = 0
        while True:
            try:
                batch = cursor.fetchmany(1000)
            except sqlite3.DatabaseError:
                raise InputError(
                    f"database damaged after row {number}", where=where
                ) from None
            if not batch:
                return
            for raw in batch:
                number += 1
                try:
                    values = [
                        v.decode("utf-8") if isinstance(v, bytes) else v for v in raw
                    ]
                except UnicodeDecodeError:
                    yield Unreadable(number, "not UTF-8")
                    continue
                yield Row(number, dict(zip(columns, values, strict=True)))
    finally:
        db.close()
