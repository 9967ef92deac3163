"""Streaming readers of account stores: CSV, JSON Lines, SQLite and Parquet.

Each reader is a generator that yields, for every input row, either a `Row`
or an `Unreadable` naming the row's line (or row number) and why it could not
be read. A bad row never stops the stream: only a problem with the input as a
whole (a missing file, no header, an unknown table) raises `InputError`, and
it does so before the first row. Reasons are fixed phrases; they never
repeat any of the row's content.

Real exports are read as they come: a CSV's delimiter is found on its header
line (`,` `;` tab `|`) unless given, any encoding Python knows is accepted
(UTF-8 by default, with or without a byte order mark), and `-` reads standard
input. A stream knows its columns before the first row is screened (the CSV
header, the SQLite columns, the keys of the first JSON records, the Parquet
schema), so that a column map can be checked up front. A Parquet file's rows
are numbered from 1, in file order, as its lines.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import io
import itertools
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import attrs

from .. import jsonkeys
from ..errors import InputError, InputProblem
from ..safe_text import printable
from ..screen import MISSING, lookup

if TYPE_CHECKING:  # imported by the SQLite reader when a database is read
    import sqlite3

Format = Literal["csv", "jsonl", "json", "sqlite", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "json", "sqlite", "parquet")
STDIN = "-"
DELIMITERS = (",", ";", "\t", "|")
# JSON Lines records whose keys stand for the input's columns.
SAMPLE = 1000

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
    ".parquet": "parquet",
}

# Bytes the encoding cannot read come through `surrogateescape` as lone surrogates.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_QUOTED = re.compile(r'"[^"]*"')


@attrs.frozen
class Row:
    """One readable input row: its line (or row number) and its values; a
    SQLite row also carries its rowid."""

    line: int
    values: dict[str, Any]
    rowid: int | None = None


@attrs.frozen
class Unreadable:
    """One input row that could not be read, and why (never its content)."""

    line: int
    reason: str


Item = Row | Unreadable


class Stream(Iterator[Item]):
    """The rows of an input, with the file or database they come from, which
    `close()` (or leaving a `with` block) releases even if never iterated.

    `columns` are the input's column names (for JSON Lines, the keys of the
    first records); `total` and `position()` measure progress in `unit`.
    """

    def __init__(
        self,
        rows: Iterator[Item],
        resource: Any,
        *,
        fmt: Format = "csv",
        columns: tuple[str, ...] | None = None,
        total: int | None = None,
        position: Callable[[], int | None] | None = None,
        unit: str = "B",
    ) -> None:
        self._rows = rows
        self._resource = resource
        self._buffer: collections.deque[Item] = collections.deque()
        self._columns = columns
        self.format: Format = fmt
        self.total = total
        self.unit = unit
        self._position = position
        self._ended = False
        self.delimiter: str | None = None
        self.table: str | None = None
        # A Parquet file's Arrow schema: the types of its columns.
        self.schema: Any = None

    def __next__(self) -> Item:
        if self._buffer:
            return self._buffer.popleft()
        try:
            return next(self._rows)
        except StopIteration:
            self._ended = True
            raise

    def peek(self, count: int) -> list[Item]:
        """The next `count` items (fewer at the end), left in the stream."""
        while len(self._buffer) < count:
            try:
                self._buffer.append(next(self._rows))
            except StopIteration:
                self._ended = True
                break
        return list(itertools.islice(self._buffer, count))

    def _sample(self) -> list[dict[str, Any]]:
        return [item.values for item in self.peek(SAMPLE) if isinstance(item, Row)]

    @property
    def columns(self) -> tuple[str, ...]:
        if self._columns is not None:
            return self._columns
        seen: dict[str, None] = {}
        for values in self._sample():
            seen.update(dict.fromkeys(values))
        return tuple(seen)

    def has_key(self, key: str) -> bool:
        """Whether `key` (dotted keys reach into JSON objects) is a column."""
        if self._columns is not None:
            return key in self._columns
        return any(_holds(values, key) for values in self._sample())

    def position(self) -> int | None:
        if self._ended and not self._buffer and self.total is not None:
            return self.total
        return self._position() if self._position is not None else None

    def close(self) -> None:
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()
        self._resource.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _holds(values: Mapping[str, Any], key: str) -> bool:
    try:
        return lookup(values, key) is not MISSING
    except InputProblem:  # held two ways, literally and nested: held all the same
        return True


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
    path: str | Path,
    fmt: Format | None = None,
    *,
    table: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> Stream:
    """Every row of `path` (`-`: standard input), read as `fmt` (default:
    from the extension).

    Checks the input as a whole now, so that an unusable input raises here
    and not part-way through the stream.
    """
    stdin = str(path) == STDIN
    if fmt is None and stdin:
        raise InputError("reading standard input needs --format")
    chosen = fmt if fmt is not None else detect_format(path)
    if chosen not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}")
    codec = _codec(encoding)
    if delimiter is not None and chosen != "csv":
        raise InputError("--delimiter applies to CSV inputs only")
    if table is not None and chosen != "sqlite":
        raise InputError("--table applies to SQLite inputs only", where=str(path))
    if chosen == "sqlite" and stdin:
        raise InputError("a SQLite input cannot be read from standard input")
    if chosen == "parquet" and stdin:
        raise InputError("a Parquet input cannot be read from standard input")
    if not stdin and not Path(path).is_file():
        raise InputError("no such file", where=str(path))
    if chosen == "sqlite":
        return read_sqlite(path, table, encoding=codec)
    if chosen == "parquet":
        return read_parquet(path)
    if chosen == "csv":
        return read_csv(path, delimiter=delimiter, encoding=codec)
    if chosen == "json":
        from .jsondoc import read_json  # it builds on this module

        return read_json(path, encoding=codec)
    return read_jsonl(path, encoding=codec)


def _codec(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError("unknown --encoding (e.g. utf-8, latin-1, cp1252)") from None
    # A byte order mark is no part of the first column's name.
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def _not_readable(codec: str) -> str:
    return "not UTF-8" if codec == "utf-8-sig" else f"not {codec}"


def _open_binary(path: str | Path) -> tuple[BinaryIO, int | None]:
    """The input's bytes and their size, when the input has one."""
    if str(path) == STDIN:
        return sys.stdin.buffer, None
    handle = open(path, "rb")  # noqa: SIM115 - the Stream owns and closes it
    return handle, os.fstat(handle.fileno()).st_size


def _tell(handle: BinaryIO) -> Callable[[], int | None]:
    last: list[int | None] = [None]

    def position() -> int | None:
        # A file read to its end is closed; its last position still holds.
        with contextlib.suppress(OSError, ValueError):
            last[0] = handle.tell()
        return last[0]

    return position


# -- CSV -----------------------------------------------------------------


def _csv_problem(error: csv.Error) -> str:
    text = str(error)
    if "NUL" in text:
        return "NUL byte in row"
    if "field larger" in text:
        return "field too large"
    return "malformed CSV"


def sniff_delimiter(header_line: str) -> str:
    """The delimiter a header line uses: the candidate it holds most often
    outside quotes; a comma when it holds none."""
    bare = _QUOTED.sub("", header_line)
    counts = {d: bare.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(
    path: str | Path, *, delimiter: str | None = None, encoding: str = "utf-8-sig"
) -> Stream:
    """Rows of a CSV file with a header row; lines are numbered from 1."""
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise InputError("--delimiter is one character, not a quote or newline")
    codec = _codec(encoding)
    raw, size = _open_binary(path)
    handle = io.TextIOWrapper(raw, encoding=codec, errors="surrogateescape", newline="")
    try:
        first = handle.readline()
        chosen = delimiter if delimiter is not None else sniff_delimiter(first)
        reader = csv.reader(itertools.chain([first], handle), delimiter=chosen)
        header = _csv_header(reader, str(path), codec)
    except BaseException:
        handle.close()
        raise
    stream = Stream(
        _csv_rows(handle, reader, header, _not_readable(codec)),
        handle,
        fmt="csv",
        columns=tuple(header),
        total=size,
        position=_tell(raw),
    )
    stream.delimiter = chosen
    return stream


def _csv_header(reader: Any, where: str, codec: str) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InputError(f"header row: {_csv_problem(error)}", where=where) from None
    except UnicodeError:
        raise InputError(f"header row is {_not_readable(codec)}", where=where) from None
    if not header:
        raise InputError("no rows to review (the input is empty)", where=where)
    names = [name.strip() for name in header]
    if _ESCAPED_BYTE.search("".join(names)):
        raise InputError(
            f"header row is {_not_readable(codec)}; give --encoding", where=where
        )
    if "" in names:
        raise InputError("header row has an empty column name", where=where)
    if len(set(names)) != len(names):
        raise InputError("header row names a column twice", where=where)
    return names


def _csv_rows(
    handle: Any, reader: Any, header: list[str], not_readable: str, offset: int = 0
) -> Iterator[Item]:
    """Rows of `reader`; `offset` lines stand before its first (a share of
    a file read by a worker)."""
    width = len(header)
    with handle:
        while True:
            start = reader.line_num + 1 + offset
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
                yield Unreadable(start, not_readable)
                continue
            yield Row(start, dict(zip(header, fields, strict=True)))


# -- JSON Lines ----------------------------------------------------------


def read_jsonl(path: str | Path, *, encoding: str = "utf-8-sig") -> Stream:
    """One JSON object per line; blank lines are skipped, lines numbered from 1."""
    handle, size = _open_binary(path)
    codec = _codec(encoding)
    return Stream(
        _jsonl_rows(handle, codec),
        handle,
        fmt="jsonl",
        total=size,
        position=_tell(handle),
    )


def _jsonl_rows(handle: Any, codec: str) -> Iterator[Item]:
    with handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if not raw.strip():
                continue
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                yield Unreadable(number, _not_readable(codec))
                continue
            try:
                value = jsonkeys.loads(text)
            except jsonkeys.DuplicateKey:
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


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _choose_table(db: sqlite3.Connection, table: str | None, path: str) -> str:
    """The table to read: the one named, or the only table there is."""
    listed = db.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"
        " AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
    ).fetchall()
    names = [bytes(n).decode("utf-8", "replace") for n, _ in listed]
    tables = [
        bytes(n).decode("utf-8", "replace") for n, kind in listed if kind == b"table"
    ]
    shown = ", ".join(names) if names else "(none)"
    if table is None:
        if len(tables) == 1:
            return tables[0]
        if not tables:
            raise InputError("the database holds no table", where=path)
        raise InputError(f"a SQLite input needs --table; tables: {shown}", where=path)
    if table not in names:
        raise InputError(
            f"no such table or view; tables: {shown}", where=f"{path}:{table}"
        )
    return table


# -- Parquet -------------------------------------------------------------


_PARQUET_BATCH = 2000


def read_parquet(path: str | Path) -> Stream:
    """Rows of a Parquet file, numbered from 1 in file order; columns of
    native types (dates, timestamps, integers) read as text (`native`)."""
    # Loaded here: only a Parquet input needs it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        raise InputError("not a readable Parquet file", where=str(path)) from None
    try:
        check_column_names(handle.schema_arrow.names, str(path))
    except BaseException:
        handle.close()
        raise
    done = [0]
    stream = Stream(
        _parquet_rows(handle, done),
        handle,
        fmt="parquet",
        columns=tuple(handle.schema_arrow.names),
        total=handle.metadata.num_rows,
        position=lambda: done[0],
        unit="rows",
    )
    stream.schema = handle.schema_arrow
    return stream


def check_column_names(names: list[str], where: str) -> None:
    """No column named twice (a Parquet schema, a PostgreSQL query's
    result): which of the two a map means cannot be told, and a CSV header
    naming a column twice is refused alike."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(
                f"the column {printable(name)} is named twice; give each its own name",
                where=where,
            )
        seen.add(name)


def check_column_types(stream: Stream, keys: Iterable[str], where: str) -> None:
    """Every column `keys` name is of a type a review reads (`native`):
    exit 2 before the first row, naming the column and its type."""
    if stream.schema is None:
        return
    from .native import unsupported

    found = unsupported(stream.schema, keys)
    if found is not None:
        name, kind = found
        raise InputError(
            f"the column {printable(name)} is of type {kind}, which a review does"
            " not read; write it as text, a date, a timestamp or an integer",
            where=where,
        )


def _parquet_rows(handle: Any, done: list[int]) -> Iterator[Item]:
    from .native import batch_as_text

    with handle:
        number = 1
        for batch in handle.iter_batches(batch_size=_PARQUET_BATCH):
            for values in batch_as_text(batch).to_pylist():
                yield Row(number, values)
                number += 1
            done[0] = number - 1


def read_sqlite(
    path: str | Path,
    table: str | None = None,
    *,
    encoding: str = "utf-8-sig",
    rowids: tuple[int, int, int] | None = None,
) -> Stream:
    """Rows of one table or view, numbered from 1 in rowid order where it
    has one; the only table of the database if none is named. `rowids`
    (low, high, first) reads only the rows with low <= rowid <= high, the
    first numbered `first` (a share of the table, from `rowid_ranges`);
    low > high reads them all."""
    import sqlite3

    codec = _codec(encoding)
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        db.text_factory = bytes
        try:
            chosen = _choose_table(db, table, str(path))
        except BaseException:
            db.close()
            raise
    except sqlite3.DatabaseError:
        raise InputError("not a readable SQLite database", where=str(path)) from None
    where = f"{path}:{chosen}"
    try:
        alias = rowid_alias(db, chosen)
        within, bounds = _within(alias, rowids)
        quoted = _quoted(chosen)
        counted = f"SELECT count(*) FROM {quoted}{within}"  # noqa: S608 - quoted name
        total = int(db.execute(counted, bounds).fetchone()[0])
        cursor = db.execute(_sqlite_query(quoted, alias, within), bounds)
    except sqlite3.DatabaseError:
        db.close()
        raise InputError("table cannot be read", where=where) from None
    with_rowid = alias is not None
    columns = [_name(column[0]) for column in cursor.description][int(with_rowid) :]
    try:
        _check_sqlite_columns(columns, where)
    except BaseException:
        db.close()
        raise
    counter = _Counter()
    first = rowids[2] if rowids is not None else 1
    stream = Stream(
        _sqlite_rows(db, cursor, columns, where, with_rowid, codec, counter, first),
        db,
        fmt="sqlite",
        columns=tuple(columns),
        total=total,
        position=counter.value,
        unit=" rows",
    )
    stream.table = chosen
    return stream


# The names SQLite gives a table's rowid, unless a column takes the name.
ROWID_ALIASES = ("rowid", "_rowid_", "oid")
# A view's result column renamed by SQLite because an earlier one has its name.
_RENAMED = re.compile(r"(.*):[0-9]+", re.DOTALL)


def _name(raw: str | bytes) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def rowid_alias(db: sqlite3.Connection, table: str) -> str | None:
    """A name that reads the table's true rowid: the first of SQLite's three
    that no column (hidden and generated ones included, in any case) takes.
    None for a view, a table WITHOUT ROWID, or one whose columns take all
    three: such a table is read whole, in one share, in its own order."""
    import sqlite3

    quoted = _quoted(table)
    kind = db.execute(
        "SELECT type FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')",
        (table,),
    ).fetchone()
    if kind is None or _name(kind[0]) != "table":
        return None
    listed = db.execute(f"PRAGMA table_xinfo({quoted})").fetchall()
    taken = {_name(row[1]).lower() for row in listed}
    for alias in ROWID_ALIASES:
        if alias in taken:
            continue
        try:
            db.execute(f"SELECT {alias} FROM {quoted} LIMIT 0")  # noqa: S608 - quoted name
        except sqlite3.OperationalError:  # a table WITHOUT ROWID
            return None
        return alias
    return None


def _within(
    alias: str | None, rowids: tuple[int, int, int] | None
) -> tuple[str, tuple[int, ...]]:
    """The WHERE clause of a share of rowids, and its parameters."""
    if alias is None or rowids is None or rowids[0] > rowids[1]:
        return "", ()
    return f" WHERE {alias} >= ? AND {alias} <= ?", (rowids[0], rowids[1])


def _sqlite_query(quoted: str, alias: str | None, within: str) -> str:
    """The query that reads a table, its rowid first where it has one, in
    rowid order."""
    if alias is None:
        return f"SELECT * FROM {quoted}"  # noqa: S608 - quoted name
    return f"SELECT {alias}, * FROM {quoted}{within} ORDER BY {alias}"  # noqa: S608


def _check_sqlite_columns(columns: list[str], where: str) -> None:
    """No column read under another's name: a view that selects two columns
    of one name gets the second renamed (`dob:1`), and which of them holds
    what the map means cannot be told."""
    lowered = {name.lower() for name in columns}
    for name in columns:
        renamed = _RENAMED.fullmatch(name)
        if renamed and renamed.group(1).lower() in lowered:
            raise InputError(
                f"the column {printable(renamed.group(1))} is named twice"
                f" (the second read as {printable(name)}); give each its own name",
                where=where,
            )


def rowid_ranges(
    path: str | Path, table: str | None, count: int
) -> list[tuple[int, int, int]] | None:
    """About `count` ranges of rowids (low, high, first), each taken whole,
    that cover a table, for `read_sqlite(rowids=...)`; None for a table
    without a true rowid to cut on (`rowid_alias`)."""
    import sqlite3

    stream = read_sqlite(path, table)
    stream.close()
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return None
    chosen = stream.table or ""
    quoted = _quoted(chosen)
    try:
        alias = rowid_alias(db, chosen)
        if alias is None:
            return None
        ends = f"SELECT min({alias}), max({alias}) FROM {quoted}"  # noqa: S608
        low, high = db.execute(ends).fetchone()
        if not isinstance(low, int) or not isinstance(high, int):
            return None
        step = max(1, -(-(high - low + 1) // count))
        found: list[tuple[int, int, int]] = []
        first = 1
        counted = f"SELECT count(*) FROM {quoted} WHERE {alias} >= ? AND {alias} <= ?"  # noqa: S608
        for start in range(low, high + 1, step):
            end = min(high, start + step - 1)
            found.append((start, end, first))
            first += db.execute(counted, (start, end)).fetchone()[0]
        return found
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def value(self) -> int:
        return self.count


def _sqlite_rows(
    db: sqlite3.Connection,
    cursor: sqlite3.Cursor,
    columns: list[str],
    where: str,
    with_rowid: bool,
    codec: str,
    counter: _Counter,
    first: int = 1,
) -> Iterator[Item]:
    import sqlite3

    try:
        number = first - 1
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
                counter.count = number - first + 1
                rowid = raw[0] if with_rowid else None
                try:
                    values = [
                        v.decode(codec) if isinstance(v, bytes) else v
                        for v in raw[1 if with_rowid else 0 :]
                    ]
                except UnicodeDecodeError:
                    yield Unreadable(number, _not_readable(codec))
                    continue
                yield Row(number, dict(zip(columns, values, strict=True)), rowid)
    finally:
        db.close()
