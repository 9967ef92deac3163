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

import bisect
import codecs
import csv
import io
import mmap
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import InputError
from . import readers
from .readers import Row, Stream, Unreadable

if TYPE_CHECKING:  # loaded for a Parquet input alone (20 ms of a CSV run)
    import pyarrow.parquet as pq

BATCH_ROWS = 100_000
# Bytes the validating and the reading passes take at a time.
_BLOCK = 1 << 23
_FIRST_BLOCK = 1 << 20
# pyarrow parses a block in parallel pieces of this size.
_PARSE_BLOCK = 1 << 20
# `_lines` counts a range this many bytes at a time.
_COUNT_BYTES = 1 << 22
_PLAIN_TEXT = (pa.string(), pa.large_string())


@attrs.frozen
class AccountBatch:
    """Rows of accounts as columns, with their lines, and the unreadable rows
    met among them. `rows`, when set, are the same rows as the reader gave
    them (the columnar review hands these to the row-at-a-time engine)."""

    records: pa.RecordBatch
    # A tuple, or a range where the rows stand on consecutive lines.
    lines: Sequence[int]
    rowids: tuple[int | None, ...] | None = None
    unreadable: tuple[tuple[int, str], ...] = ()
    rows: tuple[Row, ...] | None = None
    # How far the batch moves a progress bar: bytes of a text file, rows of
    # a table (the unit of the reader's `Stream`).
    advanced: int = 0

    @property
    def rows_read(self) -> int:
        return int(self.records.num_rows) + len(self.unreadable)


class _NoPandas:
    """A finder that refuses pandas, while pyarrow looks for it."""

    @staticmethod
    def find_spec(name: str, *args: Any) -> None:
        if name.partition(".")[0] == "pandas":
            raise ImportError("pandas is not used by a review")


def skip_pandas_probe() -> None:
    """pyarrow imports pandas, where it is installed (the `spark` extra
    installs it), the first time it is handed Python values, to tell pandas
    objects apart; that import takes longer than screening 100,000 rows.
    A review process hands pyarrow no pandas object: let that first look
    find none, which pyarrow remembers. pandas stays importable, and
    `to_pandas` still works. For processes that are only a review (the CLI,
    its workers): a host that later hands pyarrow pandas objects must not."""
    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, _NoPandas)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(_NoPandas)


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
    if _is_parquet(path, fmt):
        return _parquet_batches(path, batch_rows)
    named = cast(readers.Format | None, fmt)
    stream = readers.read(
        path, named, table=table, delimiter=delimiter, encoding=encoding
    )
    return stream_batches(stream, str(path), encoding, columns, batch_rows)


def stream_batches(
    stream: Stream,
    path: str,
    encoding: str,
    columns: tuple[str, ...] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[AccountBatch]:
    """The rows of an open `stream` (peeked rows included) in batches: by
    pyarrow where it reads the file as `csv` does, else by the stream."""
    if stream.format == "csv":
        source = Source(
            path, "csv", None, stream.delimiter, encoding, stream.columns, columns
        )
        if _may_be_plain(source):
            stream.close()
            return _checked_csv(source, WHOLE, batch_rows)
    return item_batches(stream, batch_rows)


# -- CSV through pyarrow ----------------------------------------------------


def _may_be_plain(source: Source) -> bool:
    """Whether pyarrow may read a CSV file: UTF-8, a one-character
    delimiter, two columns or more (the blocks are checked one by one as
    they are read)."""
    return (
        source.path != readers.STDIN
        and readers._codec(source.encoding) == "utf-8-sig"
        and len(source.header) >= 2
        and len(source.delimiter or ",") == 1
    )


def _plain_block(block: bytes, limit: int) -> bool:
    """No byte of a block of whole lines on which the two readers could
    disagree: no quote, NUL, carriage return outside CRLF, byte that is not
    UTF-8, or line long enough to hold a field over the `csv` module's
    limit. (Blank lines are found by counting rows: `_plain_records`.)"""
    if b'"' in block or b"\x00" in block:
        return False
    if b"\r" in block and _lone_carriage_return(block):
        return False
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return False
    # A line of `limit` bytes or more holds a whole window of limit/2 bytes
    # between two of these starts: every window holding a line end rules it
    # out (a field of n characters takes at least n bytes).
    half = max(1, limit // 2)
    return all(
        block.find(b"\n", start, start + half) >= 0
        for start in range(0, len(block) - half + 1, half)
    )


def _lone_carriage_return(block: bytes) -> bool:
    """Whether a CR stands anywhere but before LF. numpy, not bytes.count:
    this runs in the reading thread, and numpy's loops let the screening
    thread run meanwhile."""
    data = np.frombuffer(block, dtype=np.uint8)
    at = np.flatnonzero(data == 0x0D)
    if not len(at):
        return False
    if at[-1] == len(data) - 1:
        return True
    return bool(np.any(data[at + 1] != 0x0A))


def _line_ends(block: bytes) -> int:
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A))


def _csv_options(
    header: tuple[str, ...],
    delimiter: str,
    columns: tuple[str, ...] | None,
    skip_rows: int = 1,
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    kept = [name for name in header if columns is None or name in columns]
    return (
        pacsv.ReadOptions(
            column_names=list(header), skip_rows=skip_rows, block_size=_PARSE_BLOCK
        ),
        pacsv.ParseOptions(
            delimiter=delimiter, quote_char=False, ignore_empty_lines=True
        ),
        pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            include_columns=kept,
        ),
    )


def _checked_csv(
    source: Source, share: Share, batch_rows: int
) -> Iterator[AccountBatch]:
    """The rows of one share of a CSV file, block by block: by pyarrow while
    each block is plain (`_plain_block`) and splits into lines as wide as
    the header; from the first block that is not, by the `csv` module."""
    for item in _ahead(_plain_blocks(source, share)):
        if isinstance(item, AccountBatch):
            yield item
            continue
        start, line = item
        rest = _csv_module_share(source, (start, share[1], line))
        yield from item_batches(rest, batch_rows)
        return


def _plain_blocks(
    source: Source, share: Share
) -> Iterator[AccountBatch | tuple[int, int]]:
    """The batches of the share's plain blocks; then, where a block is not
    plain, its offset and first line, and nothing more."""
    start, end, line = share
    skip = 1 if start == 0 else 0
    with _range(source.path, start, end) as handle:
        for block in _line_blocks(handle):
            records = _plain_records(source, block, skip)
            if records is None:
                yield start, line
                return
            count = records.num_rows
            if count:
                lines = range(line + skip, line + skip + count)
                yield AccountBatch(records, lines, advanced=len(block))
            start, line, skip = start + len(block), line + skip + count, 0


_T = TypeVar("_T")
_END: Any = object()


def _ahead(items: Iterator[_T]) -> Iterator[_T]:
    """The items, the next one read and parsed in a thread while the caller
    screens this one: pyarrow parses without the GIL, so reading costs
    little beside screening."""
    with ThreadPoolExecutor(1, thread_name_prefix="agegate-read") as pool:
        coming = pool.submit(next, items, _END)
        while (item := coming.result()) is not _END:
            coming = pool.submit(next, items, _END)
            yield item


def _plain_records(source: Source, block: bytes, skip: int) -> pa.RecordBatch | None:
    """The rows of a block of whole lines by pyarrow (its first line
    skipped where `skip`), or None where `csv` could read them otherwise:
    pyarrow skips a blank line, which `csv` reads as a row of no fields, so
    a block with one has fewer rows than lines."""
    if not _plain_block(block, csv.field_size_limit()):
        return None
    uneven: list[Any] = []

    def ragged(row: Any) -> str:
        uneven.append(row)
        return "skip"

    read_options, parse_options, convert_options = _csv_options(
        source.header, source.delimiter or ",", source.columns, skip
    )
    parse_options.invalid_row_handler = ragged
    try:
        table = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except pa.ArrowInvalid:
        return None
    lines = _line_ends(block) + (not block.endswith(b"\n"))
    if uneven or table.num_rows != lines - skip:
        return None
    return table.combine_chunks().to_batches()[0] if table.num_rows else table


def _line_blocks(handle: BinaryIO) -> Iterator[bytes]:
    """About `_BLOCK` bytes at a time, each ending after a line end (but the
    last); with no quote in the file, a line end ends a record. The first
    block is smaller: screening waits for it, and overlaps the rest."""
    rest = b""
    size = _FIRST_BLOCK
    while block := handle.read(size):
        size = _BLOCK
        block = rest + block
        cut = block.rfind(b"\n") + 1
        if cut:
            yield block[:cut]
            rest = block[cut:]
        else:
            rest = block
    if rest:
        yield rest


# -- Parquet ----------------------------------------------------------------


def _parquet_batches(
    path: str | Path, batch_rows: int, share: Share | None = None
) -> Iterator[AccountBatch]:
    if str(path) == readers.STDIN:
        raise InputError("a Parquet input cannot be read from standard input")
    if not Path(path).is_file():
        raise InputError("no such file", where=str(path))
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        raise InputError("not a readable Parquet file", where=str(path)) from None
    try:
        readers.check_column_names(handle.schema_arrow.names, str(path))
    except BaseException:
        handle.close()
        raise
    groups = None if share is None or share[1] < 0 else range(share[0], share[1])
    number = 1 if share is None else share[2]
    return _parquet_rows(handle, batch_rows, groups, number)


def _parquet_rows(
    handle: pq.ParquetFile, batch_rows: int, groups: range | None, number: int
) -> Iterator[AccountBatch]:
    with handle:
        for batch in handle.iter_batches(batch_size=batch_rows, row_groups=groups):
            count = batch.num_rows
            lines = tuple(range(number, number + count))
            yield AccountBatch(batch, lines, advanced=count)
            number += count


# -- any reader's rows --------------------------------------------------------


def item_batches(
    stream: Stream, batch_rows: int = BATCH_ROWS
) -> Iterator[AccountBatch]:
    """The rows of a `readers` stream gathered into batches."""
    progress = _Progress(stream)
    with stream:
        rows: list[Row] = []
        unreadable: list[tuple[int, str]] = []
        for item in stream:
            if isinstance(item, Unreadable):
                unreadable.append((item.line, item.reason))
            else:
                rows.append(item)
            if len(rows) + len(unreadable) >= batch_rows:
                yield _gathered(rows, unreadable, stream.columns, progress())
                rows, unreadable = [], []
        if rows or unreadable:
            yield _gathered(rows, unreadable, stream.columns, progress())


class _Progress:
    """How far a stream moved since last asked, in its own unit (0 where it
    cannot say: the batch then counts its rows)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.done = 0

    def __call__(self) -> int:
        position = self.stream.position()
        if position is None:
            return 0
        moved, self.done = position - self.done, position
        return max(0, moved)


def _gathered(
    rows: list[Row],
    unreadable: list[tuple[int, str]],
    columns: tuple[str, ...],
    advanced: int,
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
        advanced or len(rows) + len(unreadable),
    )


def is_text(column: pa.Array) -> bool:
    return bool(column.type in _PLAIN_TEXT)


# -- sources and shares: what each worker reads ------------------------------

Share = tuple[int, int, int]
"""(start, end, first): CSV bytes [start, end) (end -1: to the end) and the
line of the first; Parquet row groups [start, end) and the number of the
first row; SQLite rowids [start, end] and the number of the first row
(start > end: the whole table)."""

WHOLE: Share = (0, -1, 1)
# A share of a CSV file is about this large, whatever the file's size: large
# enough that what a worker does once per share stays small beside its
# reading, small enough that the shares' results held out of order (a few
# per worker) keep memory flat, and that the last ones leave no core idle
# for long.
SHARE_BYTES = 1 << 23


@attrs.frozen
class Source:
    """An input a run reads in batches, named by path, so that a worker
    process opens its own share of it (nothing of the input is pickled)."""

    path: str
    format: str
    table: str | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    # The CSV header; the keys the review needs (a CSV read by pyarrow
    # converts no other column).
    header: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, stream: Stream, path: str, encoding: str, columns: tuple[str, ...]
    ) -> Source:
        """The source an open `stream` reads."""
        header = stream.columns if stream.format == "csv" else ()
        return cls(
            path, stream.format, stream.table, stream.delimiter, encoding, header,
            columns,
        )  # fmt: skip


def _is_parquet(path: str | Path, fmt: str | None) -> bool:
    return fmt == "parquet" or (fmt is None and Path(path).suffix.lower() == ".parquet")


def shares(source: Source, count: int, share_bytes: int | None = None) -> list[Share]:
    """The input cut into shares for `count` workers, in input order; the
    whole input as one share where no cut is proven safe."""
    if count <= 1 or source.path == readers.STDIN:
        return [WHOLE]
    if source.format == "parquet":
        return _parquet_shares(source.path, count)
    if source.format == "sqlite":
        found = readers.rowid_ranges(source.path, source.table, count * 4)
        return found or [WHOLE]
    delimiter = (source.delimiter or ",").encode("utf-8")
    if (
        source.format != "csv"
        or readers._codec(source.encoding) != "utf-8-sig"
        or len(delimiter) != 1
    ):
        return [WHOLE]
    least = SHARE_BYTES if share_bytes is None else share_bytes
    return _csv_shares(source.path, delimiter, least) or [WHOLE]


def _parquet_shares(path: str, count: int) -> list[Share]:
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as handle:
            metadata = handle.metadata
            sizes = [
                metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)
            ]
    except (pa.ArrowException, OSError):
        return [WHOLE]
    per = max(1, -(-len(sizes) // (count * 4)))
    found: list[Share] = []
    first = 1
    for start in range(0, len(sizes), per):
        end = min(len(sizes), start + per)
        found.append((start, end, first))
        first += sum(sizes[start:end])
    return found or [WHOLE]


def _csv_shares(path: str, delimiter: bytes, share_bytes: int) -> list[Share] | None:
    """Byte ranges that each start where a record starts, or None."""
    size = Path(path).stat().st_size
    step = share_bytes
    if size < 2 * step:
        return None
    with (
        open(path, "rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        # Most exports hold no quote: read so, the mapped file's pages are
        # touched only once, by `_lines`, which lets them go as it counts.
        quoted = quoted_spans(data, delimiter[0]) if _holds_quote(handle) else []
        if quoted is None:
            return None
        found: list[Share] = []
        start, line = 0, 1
        for cut in [*_cuts(data, step, quoted), size]:
            found.append((start, cut, line))
            line += _lines(data, start, cut)
            start = cut
    return found if len(found) > 1 else None


def quoted_spans(data: bytes | mmap.mmap, delimiter: int) -> list[int] | None:
    """[open, close, open, close, ...] offsets of the quoted fields that hold
    a line end, as the `csv` module reads them, or None when it cannot be
    told. A quote opens a field only at the start of a field; inside, `""`
    is a quote and a lone one closes the field. A NUL byte, an unclosed
    quote or a quoted field over the `csv` field limit makes the module
    restart on the next line: the scan does not follow it there."""
    if data.find(b"\x00") >= 0:
        return None
    limit = csv.field_size_limit()
    starts = {delimiter, 0x0A, 0x0D}
    spans: list[int] = []
    at = data.find(b'"')
    while at >= 0:
        if at > 0 and data[at - 1] not in starts and not _after_bom(data, at):
            at = data.find(b'"', at + 1)  # a quote within a field is text
            continue
        end = _closing_quote(data, at + 1)
        if end < 0 or end - at > limit:
            return None
        if data.find(b"\n", at, end) >= 0 or data.find(b"\r", at, end) >= 0:
            spans += (at, end)
        at = data.find(b'"', end + 1)
    return spans


def _after_bom(data: bytes | mmap.mmap, at: int) -> bool:
    return at == len(codecs.BOM_UTF8) and data[:at] == codecs.BOM_UTF8


def _closing_quote(data: bytes | mmap.mmap, at: int) -> int:
    """The offset of the quote that closes a quoted field, or -1."""
    while True:
        end = data.find(b'"', at)
        if end < 0 or data[end + 1 : end + 2] != b'"':
            return end
        at = end + 2


def _cuts(data: bytes | mmap.mmap, step: int, quoted: list[int]) -> list[int]:
    """Offsets just after a line end outside quotes, about `step` apart."""
    found: list[int] = []
    target = step
    while target < len(data):
        end = data.find(b"\n", target)
        # Odd: the line end lies between an opening and a closing quote.
        while end >= 0 and bisect.bisect_right(quoted, end) % 2:
            end = data.find(b"\n", end + 1)
        if end < 0 or end + 1 >= len(data):
            break
        found.append(end + 1)
        target = end + 1 + step
    return found


def _lines(data: bytes | mmap.mmap, start: int, end: int) -> int:
    """Lines in data[start:end] as the `csv` module counts them through a
    text file opened with newline="": each ends at \\n, \\r or \\r\\n.
    numpy counts on the mapped file, with no copy, a few MiB at a time: a
    mask of the whole range would cost a byte of memory per byte of input
    and run ten times slower, out of the processor's cache."""
    whole = np.frombuffer(data, dtype=np.uint8)
    found = 0
    for at in range(start, end, _COUNT_BYTES):
        view = whole[at : min(at + _COUNT_BYTES, end)]
        found += int(np.count_nonzero(view == 0x0A))
        returns = np.flatnonzero(view == 0x0D) + at
        if len(returns):
            followed = returns[returns + 1 < end] + 1
            found += len(returns) - int(np.count_nonzero(whole[followed] == 0x0A))
        _counted(data, at, len(view))
    return found


def _counted(data: bytes | mmap.mmap, at: int, size: int) -> None:
    """Let the pages of a mapped file just counted go: they stay in the
    system's cache, but no longer count in this process's memory, which
    would otherwise grow to the size of the input."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        start = at - at % mmap.PAGESIZE
        data.madvise(mmap.MADV_DONTNEED, start, min(at + size, len(data)) - start)


def _holds_quote(handle: BinaryIO) -> bool:
    """Whether the file holds a quote or a NUL byte (read a few MiB at a
    time, from where the handle is)."""
    while chunk := handle.read(_COUNT_BYTES):
        if b'"' in chunk or b"\x00" in chunk:
            return True
    return False


def read_share(
    source: Source, share: Share, batch_rows: int = BATCH_ROWS
) -> Iterator[AccountBatch]:
    """The batches of one share of `source`, numbered as the whole input's."""
    if source.format == "parquet":
        return _parquet_batches(source.path, batch_rows, share)
    if source.format == "sqlite":
        stream = readers.read_sqlite(
            source.path, source.table, encoding=source.encoding, rowids=share
        )
        return item_batches(stream, batch_rows)
    if source.format == "csv" and share != WHOLE:
        return _csv_share(source, share, batch_rows)
    named = cast(readers.Format, source.format)
    return read_batches(
        source.path, named, table=source.table, delimiter=source.delimiter,
        encoding=source.encoding, columns=source.columns, batch_rows=batch_rows,
    )  # fmt: skip


def _csv_share(source: Source, share: Share, batch_rows: int) -> Iterator[AccountBatch]:
    """One byte range of a CSV file: by pyarrow where that reads it as `csv`
    does, else by the `csv` module."""
    if _may_be_plain(source):
        return _checked_csv(source, share, batch_rows)
    return item_batches(_csv_module_share(source, share), batch_rows)


def _csv_module_share(source: Source, share: Share) -> Stream:
    start, end, line = share
    raw = _range(source.path, start, end)
    codec = readers._codec(source.encoding)
    handle = io.TextIOWrapper(raw, encoding=codec, errors="surrogateescape", newline="")
    reader = csv.reader(handle, delimiter=source.delimiter or ",")
    if start == 0:
        next(reader, None)  # the header, read already
    header = list(source.header)
    rows = readers._csv_rows(
        handle, reader, header, readers._not_readable(codec), line - 1
    )
    return Stream(
        rows,
        handle,
        columns=source.header,
        total=end - start,
        position=readers._tell(raw),
    )


def _range(path: str, start: int, end: int) -> io.BufferedReader:
    return io.BufferedReader(_Range(path, start, end), _BLOCK)


class _Range(io.RawIOBase):
    """Bytes [start, end) of a file, read as a file of their own."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = (end - start) if end >= 0 else -1
        self._done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = len(view) if self._left < 0 else min(len(view), self._left)
        count = self._file.readinto(view[:wanted]) or 0
        if self._left >= 0:
            self._left -= count
        self._done += count
        return count

    def tell(self) -> int:
        return self._done

    def close(self) -> None:
        self._file.close()
        super().close()


def sliced(batches: Iterator[AccountBatch], size: int) -> Iterator[AccountBatch]:
    """Batches of at most `size` rows: what a run screens and writes at a
    time. A batch gathered from a reader is of that size already."""
    for batch in batches:
        count = batch.records.num_rows
        if count <= size or batch.rows is not None or batch.unreadable:
            yield batch
            continue
        for start in range(0, count, size):
            end = min(count, start + size)
            # The whole batch's progress goes with its last slice.
            yield AccountBatch(
                batch.records.slice(start, end - start),
                batch.lines[start:end],
                None if batch.rowids is None else batch.rowids[start:end],
                advanced=batch.advanced if end == count else 0,
            )
