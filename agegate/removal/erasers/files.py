"""The file erasers: CSV, JSON Lines and Parquet.

A file is never edited in place. The records that stay are written to a
temporary file beside it, flushed to disk, and renamed over it in one
`os.replace`: a reader sees the old file or the new one, never half of
each, and a crash leaves the old file whole. CSV and JSON Lines records are
copied as the bytes they were read as (never parsed and written again), so
every other record keeps its quoting, spacing, line ending and encoding;
Parquet is rewritten row for row with its schema and metadata.

The state of a file is the SHA-256 of its bytes: a plan made on other bytes
than the file holds now is refused.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import IO, Any

from ...errors import InputError
from ...urls import masked
from .base import Erased, Survey

__all__ = ["CsvEraser", "JsonlEraser", "ParquetEraser", "file_digest"]

_DELIMITERS = (",", ";", "\t", "|")
_QUOTED = re.compile(r'"[^"]*"')
# Called with each record's id (None when it has none) and its raw bytes.
Visit = Callable[[str | None, bytes], None]


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _FileEraser:
    """What the three file erasers share: the survey, the rewrite and the
    rename; each says how its records are read (`_records`)."""

    def __init__(self, path: str, id_column: str) -> None:
        self.path = path
        self.id_column = id_column
        self.label = masked(path)

    def _check(self) -> None:
        if not Path(self.path).is_file():
            raise InputError("no such file", where=self.label)

    def _records(self, visit: Visit) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def plan(self, ids: Set[str]) -> Survey:
        self._check()
        wanted = set(ids)
        found: set[str] = set()
        counts = [0, 0]

        def visit(account: str | None, raw: bytes) -> None:
            if raw.strip():
                counts[0] += 1
            if account is not None and account in wanted:
                counts[1] += 1
                found.add(account)

        self._records(visit)
        return Survey(counts[1], len(found), counts[0], file_digest(self.path))

    def verify(self, ids: Set[str]) -> int:
        return self.plan(ids).rows

    def ids(self) -> Iterator[str]:
        self._check()
        seen: set[str] = set()

        def visit(account: str | None, _raw: bytes) -> None:
            if account is not None:
                seen.add(account)

        self._records(visit)
        return iter(sorted(seen))

    def erase(self, ids: Set[str]) -> Erased:
        self._check()
        with _replacing(self.path) as out:
            removed = self._rewrite(set(ids), out)
        return Erased(removed)

    def _rewrite(self, ids: set[str], out: IO[bytes]) -> int:
        removed = [0]
        write = out.write

        def visit(account: str | None, raw: bytes) -> None:
            if account is not None and account in ids:
                removed[0] += 1
            else:
                write(raw)

        self._records(visit)
        return removed[0]


@contextlib.contextmanager
def _replacing(path: str) -> Iterator[IO[bytes]]:
    """A temporary file beside `path`, renamed over it when the block ends
    without an error (and removed when it does not)."""
    target = Path(path)
    fd, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, target.stat().st_mode & 0o7777)
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    _sync_directory(target.parent)


def _sync_directory(directory: Path) -> None:
    # The rename itself is durable only once the directory is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sniff_delimiter(header: str) -> str:
    """The delimiter the header holds most often outside quotes (as the
    review's reader chooses it); a comma when it holds none."""
    bare = _QUOTED.sub("", header)
    counts = {d: bare.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvEraser(_FileEraser):
    """A CSV file with a header row, UTF-8. A line with no quote in it is a
    whole record, split on the delimiter as bytes; a line with a quote is
    read with the csv module, with the lines its quoted fields run on to."""

    def _records(self, visit: Visit) -> None:
        with open(self.path, "rb") as handle:
            lines = iter(handle)
            header = next(lines, b"")
            text = _decoded(header.removeprefix(b"\xef\xbb\xbf"), 1, self.label)
            delimiter = sniff_delimiter(text)
            names = next(csv.reader([text], delimiter=delimiter), [])
            if self.id_column not in names:
                raise InputError(
                    f"the header has no column {self.id_column}", where=self.label
                )
            column = names.index(self.id_column)
            self._body(lines, column, delimiter, visit)

    def _rewrite(self, ids: set[str], out: IO[bytes]) -> int:
        # The header line goes first, as it was read.
        with open(self.path, "rb") as handle:
            out.write(handle.readline())
        return super()._rewrite(ids, out)

    def _body(
        self, lines: Iterator[bytes], column: int, delimiter: str, visit: Visit
    ) -> None:
        split = delimiter.encode("ascii")
        number = 1
        for line in lines:
            number += 1
            if b'"' not in line:
                if not line.strip(b"\r\n"):
                    visit(None, line)  # a blank line: no record, kept
                    continue
                fields = line.rstrip(b"\r\n").split(split)
                if len(fields) <= column:
                    raise InputError(
                        f"line {number} has no {self.id_column} field", where=self.label
                    )
                visit(_decoded(fields[column], number, self.label), line)
                continue
            raw, record = _quoted_record(line, lines, delimiter, number, self.label)
            if len(record) <= column:
                raise InputError(
                    f"line {number} has no {self.id_column} field", where=self.label
                )
            visit(record[column], raw)
            number += raw.count(b"\n") - 1


def _decoded(value: bytes, number: int, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"line {number} is not UTF-8", where=where) from None


def _quoted_record(
    first: bytes, lines: Iterator[bytes], delimiter: str, number: int, where: str
) -> tuple[bytes, list[str]]:
    """The record starting with `first`, a line holding a quote: its raw
    bytes (every line its quoted fields span) and its fields."""
    consumed = [first]

    def text() -> Iterator[str]:
        yield _decoded(first, number, where)
        for line in lines:
            consumed.append(line)
            yield _decoded(line, number + len(consumed) - 1, where)

    try:
        record = next(csv.reader(text(), delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration):
        raise InputError(
            f"line {number} is not a well-formed CSV record", where=where
        ) from None
    return b"".join(consumed), record


class JsonlEraser(_FileEraser):
    """JSON Lines, one object a line; a record's id is its `id_column` key,
    a string or an integer."""

    def _records(self, visit: Visit) -> None:
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    visit(None, line)
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise InputError(
                        f"line {number} is not JSON", where=self.label
                    ) from None
                if not isinstance(record, dict):
                    raise InputError(
                        f"line {number} is not a JSON object", where=self.label
                    )
                visit(_id_text(record.get(self.id_column)), line)


def _id_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class ParquetEraser(_FileEraser):
    """A Parquet file, read and rewritten with pyarrow; ids of an integer
    column are compared as their decimal text."""

    def _ids_column(self) -> Any:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        self._check()
        try:
            schema = pq.read_schema(self.path)
        except Exception:
            raise InputError("not a Parquet file", where=self.label) from None
        if self.id_column not in schema.names:
            raise InputError(
                f"the file has no column {self.id_column}", where=self.label
            )
        column = pq.read_table(self.path, columns=[self.id_column]).column(0)
        return pc.cast(column, "string")

    def _mask(self, column: Any, ids: Set[str]) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.is_in(column, value_set=pa.array(sorted(ids), pa.string()))
        return pc.fill_null(found, False)

    def plan(self, ids: Set[str]) -> Survey:
        import pyarrow.compute as pc

        column = self._ids_column()
        mask = self._mask(column, ids)
        rows = int(pc.sum(mask).as_py() or 0)
        accounts = len(pc.unique(column.filter(mask)))
        return Survey(rows, accounts, len(column), file_digest(self.path))

    def ids(self) -> Iterator[str]:
        import pyarrow.compute as pc

        values = pc.unique(self._ids_column().drop_null()).to_pylist()
        return iter(sorted(str(v) for v in values))

    def erase(self, ids: Set[str]) -> Erased:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        mask = self._mask(self._ids_column(), ids)
        removed = int(pc.sum(mask).as_py() or 0)
        if removed == 0:
            return Erased(0)
        source = pq.ParquetFile(self.path)
        table = source.read()
        kept = table.filter(pc.invert(mask))
        compression = _compression(source)
        with _replacing(self.path) as out:
            pq.write_table(kept, out, compression=compression)
        return Erased(removed)


def _compression(source: Any) -> str:
    meta = source.metadata
    if meta.num_row_groups == 0 or meta.num_columns == 0:
        return "snappy"
    name = str(meta.row_group(0).column(0).compression).lower()
    return "none" if name == "uncompressed" else name
