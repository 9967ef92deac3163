"""PostgreSQL as a review input: a table or a query, streamed in batches.

Rows come through ADBC's PostgreSQL driver, which reads the server's binary
COPY stream straight into Arrow record batches: the table is never held
whole, and a batch costs no Python object per value. Everything runs in one
`READ ONLY` transaction, so a `--query` cannot change the database.

Every column is read as text, as a file gives it: dates in ISO form,
timestamps as UTC instants (`...T...Z`), so that screening a table gives the
flags screening its CSV export gives. Rows are read in the order of the key
(`--key`, default the table's primary key); an integer key is carried on
each flag as its `rowid`, and every row is numbered from 1 in that order.

Several workers split a table with an integer key on key ranges. A
coordinating `REPEATABLE READ READ ONLY` transaction exports its snapshot,
counts the rows of each range and stays open while the workers read: each
worker reads its ranges on its own connection, in a transaction of its own
that imports that snapshot, so together they read one consistent state of
the table, and the counts are exact. A `--query`, or a key that is not an
integer (or has NULLs), is read by one connection.

Credentials come from the URL, `PGPASSWORD`, `.pgpass` or the other libpq
variables; a URL is only ever shown with its password masked.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pyarrow as pa

from ..errors import InputError
from ..flags.postgres import (
    SCHEMES,
    connection_problem,
    is_postgres_url,
    masked,
    postgres_url,
)
from .batches import BATCH_ROWS, WHOLE, AccountBatch, Share
from .readers import Row, Stream, check_column_names

__all__ = [
    "SCHEMES",
    "PostgresSource",
    "PostgresStream",
    "is_postgres_url",
    "masked",
    "open_source",
]

# Column names listed in an error about the column map.
COLUMNS_LISTED = 40
# Key ranges per worker: a worker that finishes early takes the next one.
RANGES_PER_WORKER = 4
# What pg_export_snapshot() returns, checked before it is spliced into SQL.
_SNAPSHOT = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


def connect(url: str) -> Any:
    """An ADBC connection, or an InputError that names the URL masked and
    never repeats what the server said (it may echo the user's input)."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    try:
        return adbc.connect(postgres_url(url))
    except adbc_driver_manager.Error as error:
        raise InputError(
            f"cannot connect to PostgreSQL: {connection_problem(str(error))}",
            where=masked(url),
        ) from None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_name(table: str) -> str:
    """`table` or `schema.table`, each part quoted."""
    return ".".join(_quoted(part) for part in table.split(".", 1))


def _listed(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:COLUMNS_LISTED])
    if len(names) > COLUMNS_LISTED:
        shown += f", ... ({len(names)} in all)"
    return shown or "(none)"


@attrs.frozen
class PostgresSource:
    """What a run reads: the rows of `relation` (a quoted table name or a
    parenthesised query), its columns and their Arrow types, and the key."""

    url: str
    relation: str
    columns: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    key: str | None
    table: str | None = None
    # The columns a review reads (the mapped keys), and the snapshot the
    # workers of a split read share.
    wanted: tuple[str, ...] = ()
    snapshot: str | None = None
    format: str = "postgresql"

    @property
    def shown(self) -> str:
        return masked(self.url)

    @property
    def integer_key(self) -> bool:
        if self.key is None:
            return False
        return bool(pa.types.is_integer(self.types[self.columns.index(self.key)]))

    def check_columns(self, mapping: Mapping[str, str]) -> None:
        """Every mapped column exists: exit 2 before a row is read."""
        for field, column in mapping.items():
            if column not in self.columns:
                raise InputError(
                    f"--map {field}={column}: no such column;"
                    f" columns: {_listed(self.columns)}",
                    where=self.shown,
                )

    def select(self, wanted: tuple[str, ...], share: Share = WHOLE) -> str:
        """The query that reads the `wanted` columns as text, and the key;
        a share other than WHOLE reads keys `share[0]` to `share[1]`."""
        kept = [name for name in wanted if name in self.columns]
        cells = [self._as_text(name) for name in kept]
        order = where = ""
        if self.key is not None:
            key = _quoted(self.key)
            cells.append(f"{key} AS __agegate_key")
            order = f" ORDER BY {key}"
            if share != WHOLE:
                where = f" WHERE {key} >= {int(share[0])} AND {key} <= {int(share[1])}"
        listed = ", ".join(cells) or "1 AS __agegate_none"
        return f"SELECT {listed} FROM {self.relation} AS q{where}{order}"  # noqa: S608 - quoted names, integers

    def _as_text(self, name: str) -> str:
        kind = self.types[self.columns.index(name)]
        column = _quoted(name)
        if pa.types.is_timestamp(kind):
            zone = " AT TIME ZONE 'UTC'" if kind.tz is not None else ""
            suffix = '"Z"' if kind.tz is not None else ""
            shape = f"'YYYY-MM-DD\"T\"HH24:MI:SS{suffix}'"
            return f"to_char({column}{zone}, {shape}) AS {column}"
        return f"{column}::text AS {column}"

    def batches(
        self, wanted: tuple[str, ...], batch_rows: int = BATCH_ROWS
    ) -> Iterator[AccountBatch]:
        """The rows as record batches of text columns, numbered from 1."""
        return self._batches(wanted, WHOLE, batch_rows)

    def read_share(
        self, share: Share, batch_rows: int = BATCH_ROWS
    ) -> Iterator[AccountBatch]:
        """The `wanted` columns of one share of `split`, numbered as the
        whole input's rows."""
        return self._batches(self.wanted, share, batch_rows)

    @contextlib.contextmanager
    def split(self, workers: int) -> Iterator[tuple[PostgresSource, list[Share]]]:
        """This source with the snapshot its readers share, and its key
        ranges, for `workers` readers; the coordinating transaction stays
        open until the block ends. One share (WHOLE) where no split is
        possible: one worker, a query, a key that is not an integer."""
        if workers <= 1 or self.table is None or not self.integer_key:
            yield self, [WHOLE]
            return
        import adbc_driver_manager

        db = connect(self.url)
        try:
            with db.cursor() as cursor:
                try:
                    snapshot = _coordinate(cursor)
                    count = workers * RANGES_PER_WORKER
                    cut = _key_ranges(cursor, self.relation, str(self.key), count)
                except adbc_driver_manager.Error:
                    raise InputError(
                        "the server refused to split the table on its key",
                        where=self.shown,
                    ) from None
                if cut is None:
                    yield self, [WHOLE]
                else:
                    yield attrs.evolve(self, snapshot=snapshot), cut
        finally:
            db.close()

    def _batches(
        self, wanted: tuple[str, ...], share: Share, batch_rows: int
    ) -> Iterator[AccountBatch]:
        kept = tuple(name for name in wanted if name in self.columns)
        number = share[2]
        for records in self._records(self.select(kept, share), batch_rows):
            count = records.num_rows
            rowids: tuple[int | None, ...] | None = None
            if self.key is not None:
                keys = records.column(records.num_columns - 1)
                if self.integer_key:
                    rowids = tuple(keys.to_pylist())
                records = records.drop_columns(["__agegate_key"])
            if not kept:
                records = pa.RecordBatch.from_pylist([{}] * count)
            lines = tuple(range(number, number + count))
            yield AccountBatch(records, lines, rowids, advanced=count)
            number += count

    def _records(self, query: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        import adbc_driver_manager

        db = connect(self.url)
        try:
            with db.cursor() as cursor:
                _read_only(cursor, self.snapshot)
                yield from _sliced(cursor, query, batch_rows)
            db.rollback()
        except (adbc_driver_manager.Error, pa.ArrowException):
            # What the server said may quote the data: not repeated.
            raise InputError(
                "the server stopped the read (a query that writes, or a"
                " failure on the server)",
                where=self.shown,
            ) from None
        finally:
            db.close()

    def stream(self, wanted: tuple[str, ...], batch_rows: int = BATCH_ROWS) -> Stream:
        """The rows as a `readers` stream, for the row-at-a-time pipeline;
        its `source` reads the same columns for the columnar one."""
        return PostgresStream(attrs.evolve(self, wanted=wanted), wanted, batch_rows)


class PostgresStream(Stream):
    """The rows of a PostgreSQL source as a `readers` stream (a database
    table, like SQLite's: an integer key is each row's `rowid`)."""

    def __init__(
        self, source: PostgresSource, wanted: tuple[str, ...], batch_rows: int
    ) -> None:
        batches = source.batches(wanted, batch_rows)
        counter = _Counter()
        super().__init__(
            _rows(batches, counter),
            _Closer(batches),
            fmt="sqlite",
            columns=source.columns,
            total=None,
            position=counter.value,
            unit=" rows",
        )
        self.source = source
        self.table = source.table


def _sliced(cursor: Any, query: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    cursor.execute(query)
    reader = cursor.fetch_record_batch()
    try:
        for records in reader:
            for start in range(0, records.num_rows, batch_rows):
                yield records.slice(start, batch_rows)
    finally:
        reader.close()


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def value(self) -> int:
        return self.count


class _Closer:
    def __init__(self, batches: Iterator[AccountBatch]) -> None:
        self.batches = batches

    def close(self) -> None:
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()


def _rows(batches: Iterator[AccountBatch], counter: _Counter) -> Iterator[Row]:
    for batch in batches:
        names = batch.records.schema.names
        rowids = batch.rowids or (None,) * len(batch.lines)
        listed = batch.records.to_pylist()
        for line, values, rowid in zip(batch.lines, listed, rowids, strict=True):
            counter.count = line
            yield Row(
                line, {k: values[k] for k in names if values[k] is not None}, rowid
            )


def _read_only(cursor: Any, snapshot: str | None = None) -> None:
    """This transaction reads only, sees dates in ISO form and times in UTC;
    with a `snapshot`, the state of the database the coordinator sees."""
    if snapshot is None:
        cursor.execute("SET TRANSACTION READ ONLY")
    else:
        if not _SNAPSHOT.fullmatch(snapshot):
            raise InputError("the server gave an unexpected snapshot name")
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
    cursor.execute("SET LOCAL TimeZone = 'UTC'")


def _coordinate(cursor: Any) -> str:
    """Makes this transaction the coordinator of a split: read-only, one
    snapshot for all its statements, exported for the workers."""
    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    cursor.execute("SELECT pg_export_snapshot()")
    row = cursor.fetchone()
    return str(row[0]) if row is not None else ""


def _key_ranges(cursor: Any, relation: str, key: str, count: int) -> list[Share] | None:
    """About `count` ranges (low, high, first) of an integer key, each key
    within [low, high] and its first row numbered `first`; the rows of each
    counted in one scan. None for an empty relation or a NULL key (a range
    cannot hold it)."""
    column = _quoted(key)
    cursor.execute(f"SELECT min({column}), max({column}) FROM {relation} AS q")  # noqa: S608 - quoted names
    row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    low, high = int(row[0]), int(row[1])
    step = max(1, -(-(high - low + 1) // count))
    bounds = [
        (start, min(high, start + step - 1)) for start in range(low, high + 1, step)
    ]
    counts = [f"count(*) FILTER (WHERE {column} IS NULL)"]
    counts += [
        f"count(*) FILTER (WHERE {column} BETWEEN {a} AND {b})" for a, b in bounds
    ]
    cursor.execute(f"SELECT {', '.join(counts)} FROM {relation} AS q")  # noqa: S608 - quoted names, integers
    found = cursor.fetchone()
    if found is None or found[0]:
        return None
    cut: list[Share] = []
    first = 1
    for (a, b), rows in zip(bounds, found[1:], strict=True):
        if rows:
            cut.append((a, b, first))
            first += int(rows)
    return cut


def open_source(
    url: str,
    *,
    table: str | None = None,
    query: str | None = None,
    key: str | None = None,
) -> PostgresSource:
    """The source a run reads, checked now: the connection, the table or the
    query, the key. Nothing is read but the columns' names and types."""
    if (table is None) == (query is None):
        raise InputError(
            "a PostgreSQL input needs --table NAME or --query SQL", where=masked(url)
        )
    db = connect(url)
    try:
        with db.cursor() as cursor:
            _read_only(cursor)
            if table is not None:
                _check_table(cursor, table, url)
                relation = _table_name(table)
                key = key if key is not None else _primary_key(cursor, table)
            else:
                relation = f"({str(query).strip().rstrip(';')})"
            schema = _schema(cursor, relation, url)
        db.rollback()
    finally:
        db.close()
    columns = tuple(schema.names)
    check_column_names(list(columns), masked(url))
    if key is not None and key not in columns:
        raise InputError(
            f"--key {key}: no such column; columns: {_listed(columns)}",
            where=masked(url),
        )
    types = tuple(field.type for field in schema)
    return PostgresSource(url, relation, columns, types, key, table)


def _schema(cursor: Any, relation: str, url: str) -> pa.Schema:
    import adbc_driver_manager

    try:
        cursor.execute(f"SELECT * FROM {relation} AS q LIMIT 0")  # noqa: S608 - the user's own read-only query
        return cursor.fetch_arrow_table().schema
    except adbc_driver_manager.Error:
        raise InputError(
            "the query cannot be run in a read-only transaction", where=masked(url)
        ) from None


def _check_table(cursor: Any, table: str, url: str) -> None:
    cursor.execute("SELECT to_regclass($1) IS NOT NULL", (_table_name(table),))
    row = cursor.fetchone()
    if row is not None and row[0]:
        return
    cursor.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY 1, 2"
    )
    names = tuple(
        name if schema == "public" else f"{schema}.{name}"
        for schema, name in cursor.fetchall()
    )
    raise InputError(
        f"no such table or view; tables: {_listed(names)}", where=masked(url)
    )


def _primary_key(cursor: Any, table: str) -> str | None:
    """The table's primary key column, when it has a one-column key."""
    cursor.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = to_regclass($1) AND i.indisprimary",
        (_table_name(table),),
    )
    names = [str(row[0]) for row in cursor.fetchall()]
    return names[0] if len(names) == 1 else None
