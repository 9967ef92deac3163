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

Credentials come from the URL, `PGPASSWORD`, `.pgpass` or the other libpq
variables; a URL is only ever shown with its password masked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pyarrow as pa

from ..errors import InputError
from ..flags.postgres import SCHEMES, connection_problem, is_postgres_url, masked
from .batches import BATCH_ROWS, AccountBatch
from .readers import Row, Stream

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


def connect(url: str) -> Any:
    """An ADBC connection, or an InputError that names the URL masked and
    never repeats what the server said (it may echo the user's input)."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    try:
        return adbc.connect(url)
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

    def select(self, wanted: tuple[str, ...]) -> str:
        """The query that reads the `wanted` columns as text, and the key."""
        kept = [name for name in wanted if name in self.columns]
        cells = [self._as_text(name) for name in kept]
        order = ""
        if self.key is not None:
            cells.append(f"{_quoted(self.key)} AS __agegate_key")
            order = f" ORDER BY {_quoted(self.key)}"
        listed = ", ".join(cells) or "1 AS __agegate_none"
        return f"SELECT {listed} FROM {self.relation} AS q{order}"  # noqa: S608 - quoted names

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
        kept = tuple(name for name in wanted if name in self.columns)
        number = 1
        for records in self._records(self.select(kept), batch_rows):
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
            yield AccountBatch(records, lines, rowids)
            number += count

    def _records(self, query: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        import adbc_driver_manager

        db = connect(self.url)
        try:
            with db.cursor() as cursor:
                _read_only(cursor)
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
        """The rows as a `readers` stream, for the row-at-a-time pipeline."""
        return PostgresStream(self, wanted, batch_rows)


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


def _read_only(cursor: Any) -> None:
    """This transaction reads only, sees dates in ISO form and times in UTC."""
    cursor.execute("SET TRANSACTION READ ONLY")
    cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
    cursor.execute("SET LOCAL TimeZone = 'UTC'")


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
