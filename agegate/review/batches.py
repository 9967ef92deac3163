"""Account stores read as Arrow record batches, for the columnar review.

Every batch carries the line (or row number) of each of its rows and the
rows that could not be read, so a run counts rows exactly as the row-at-a-time
readers do.

A CSV file is read by pyarrow's streaming reader only when that reader must
split it exactly as Python's `csv` module does: UTF-8, no quote character,
no carriage return outside CRLF, no NUL byte, no blank line, every line as
wide as the header and no field over the `csv` module's size limit. Then
row k (from 0) stands on line k + 2. Anything else (standard input, another
encoding, quoting, ragged rows, bad bytes) is read by `readers.read_csv` and
its rows gathered into batches, so that the line numbers and the unreadable
rows are its own. JSON Lines and SQLite inputs are gathered from their
readers in the same way; Parquet files are read by `pyarrow.parquet`.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import InputError
from . import readers
from .readers import Row, Stream, Unreadable

BATCH_ROWS = 20_000
# Bytes the validating and the reading passes take at a time.
_BLOCK = 1 << 22
_PLAIN_TEXT = (pa.string(), pa.large_string())


@attrs.frozen
class AccountBatch:
    """Rows of accounts as columns, with their lines, and the unreadable rows
    met among them. `rows`, when set, are the same rows as the reader gave
    them (the columnar review hands these to the row-at-a-time engine)."""

    records: pa.RecordBatch
    lines: tuple[int, ...]
    rowids: tuple[int | None, ...] | None = None
    unreadable: tuple[tuple[int, str], ...] = ()
    rows: tuple[Row, ...] | None = None

    @property
    def rows_read(self) -> int:
        return int(self.records.num_rows) + len(self.unreadable)


def read_batches(
    path: str | Path,
    fmt: str | None = None,
    *,
    table: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    columns: tuple[str, ...] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[AccountBatch]:
    """The accounts of `path` in batches. `columns`, if given, are the only
    columns the batches need (the mapped keys); a CSV read by pyarrow then
    converts no other."""
    if fmt == "parquet" or (fmt is None and Path(path).suffix.lower() == ".parquet"):
        return _parquet_batches(path, batch_rows)
    named = cast(readers.Format | None, fmt)
    stream = readers.read(
        path, named, table=table, delimiter=delimiter, encoding=encoding
    )
    if stream.format == "csv" and plain_csv(path, stream, encoding):
        header, chosen = stream.columns, stream.delimiter or ","
        stream.close()
        return _arrow_csv_batches(path, header, chosen, columns)
    return item_batches(stream, batch_rows)


# -- CSV through pyarrow ----------------------------------------------------


def plain_csv(path: str | Path, stream: Stream, encoding: str) -> bool:
    """Whether pyarrow's CSV reader splits `path` exactly as `csv` does."""
    if str(path) == readers.STDIN or readers._codec(encoding) != "utf-8-sig":
        return False
    if len(stream.columns) < 2 or not _plain_bytes(Path(path)):
        return False
    return _splits_evenly(path, stream.columns, stream.delimiter or ",")


def _plain_bytes(path: Path) -> bool:
    """No byte on which the two readers could disagree, and no blank line.
    A carriage return is taken only as the first half of CRLF."""
    previous = b""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if block.endswith(b"\r"):
                block += handle.read(1)
            if b'"' in block or b"\x00" in block:
                return False
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return False
            if block.count(b"\r") != block.count(b"\r\n"):
                return False
            joined = previous[-2:] + block
            if b"\n\n" in joined or b"\n\r\n" in joined:
                return False
            previous = block
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _csv_options(
    header: tuple[str, ...], delimiter: str, columns: tuple[str, ...] | None
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    kept = [name for name in header if columns is None or name in columns]
    return (
        pacsv.ReadOptions(column_names=list(header), skip_rows=1, block_size=_BLOCK),
        pacsv.ParseOptions(
            delimiter=delimiter, quote_char=False, ignore_empty_lines=False
        ),
        pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            include_columns=kept,
        ),
    )


def _splits_evenly(path: str | Path, header: tuple[str, ...], delimiter: str) -> bool:
    """A first pass of pyarrow over every column: no ragged line, valid
    UTF-8, no field longer than `csv` accepts."""
    uneven: list[Any] = []

    def ragged(row: Any) -> str:
        uneven.append(row)
        return "skip"

    read_options, parse_options, convert_options = _csv_options(header, delimiter, None)
    parse_options.invalid_row_handler = ragged
    limit = csv.field_size_limit()
    try:
        with pacsv.open_csv(
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        ) as reader:
            for batch in reader:
                if uneven:
                    return False
                for column in batch.columns:
                    longest = pc.max(pc.utf8_length(column)).as_py()
                    if longest is not None and longest > limit:
                        return False
    except (pa.ArrowInvalid, OSError):
        return False
    return not uneven


def _arrow_csv_batches(
    path: str | Path,
    header: tuple[str, ...],
    delimiter: str,
    columns: tuple[str, ...] | None,
) -> Iterator[AccountBatch]:
    read_options, parse_options, convert_options = _csv_options(
        header, delimiter, columns
    )
    line = 2
    try:
        reader = pacsv.open_csv(
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except (pa.ArrowInvalid, OSError):
        raise InputError(
            "the file changed while it was read", where=str(path)
        ) from None
    with reader:
        for batch in reader:
            count = batch.num_rows
            yield AccountBatch(batch, tuple(range(line, line + count)))
            line += count


# -- Parquet ----------------------------------------------------------------


def _parquet_batches(path: str | Path, batch_rows: int) -> Iterator[AccountBatch]:
    if str(path) == readers.STDIN:
        raise InputError("a Parquet input cannot be read from standard input")
    if not Path(path).is_file():
        raise InputError("no such file", where=str(path))
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        raise InputError("not a readable Parquet file", where=str(path)) from None
    return _parquet_rows(handle, batch_rows)


def _parquet_rows(handle: pq.ParquetFile, batch_rows: int) -> Iterator[AccountBatch]:
    number = 1
    with handle:
        for batch in handle.iter_batches(batch_size=batch_rows):
            count = batch.num_rows
            yield AccountBatch(batch, tuple(range(number, number + count)))
            number += count


# -- any reader's rows --------------------------------------------------------


def item_batches(
    stream: Stream, batch_rows: int = BATCH_ROWS
) -> Iterator[AccountBatch]:
    """The rows of a `readers` stream gathered into batches."""
    with stream:
        rows: list[Row] = []
        unreadable: list[tuple[int, str]] = []
        for item in stream:
            if isinstance(item, Unreadable):
                unreadable.append((item.line, item.reason))
            else:
                rows.append(item)
            if len(rows) + len(unreadable) >= batch_rows:
                yield _gathered(rows, unreadable, stream.columns)
                rows, unreadable = [], []
        if rows or unreadable:
            yield _gathered(rows, unreadable, stream.columns)


def _gathered(
    rows: list[Row], unreadable: list[tuple[int, str]], columns: tuple[str, ...]
) -> AccountBatch:
    names = list(dict.fromkeys([*columns, *(k for row in rows for k in row.values)]))
    arrays = []
    for name in names:
        values = [row.values.get(name) for row in rows]
        try:
            arrays.append(pa.array(values, type=pa.string()))
        except (pa.ArrowException, UnicodeError):
            # Not all text (JSON numbers, objects; bytes the encoding could
            # not read): the column stays for the row-at-a-time engine.
            arrays.append(pa.nulls(len(rows), type=pa.null()))
    records = pa.RecordBatch.from_arrays(arrays, names=names)
    return AccountBatch(
        records,
        tuple(row.line for row in rows),
        tuple(row.rowid for row in rows),
        tuple(unreadable),
        tuple(rows),
    )


def is_text(column: pa.Array) -> bool:
    return bool(column.type in _PLAIN_TEXT)
