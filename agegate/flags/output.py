"""Flags written out for people and tools: CSV or JSON Lines.

One writer serves every command that writes flags (a review's
`--flags-out`, `agegate flags list` and `export`) and the JSON Lines flag
sink, so the columns and the spreadsheet protection are the same
everywhere.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from ..errors import InputError
from ..safe_text import csv_row
from .model import Flag, StoredFlag

FlagFormat = Literal["csv", "jsonl"]
# `-` names standard output, where flags go as JSON Lines for a pipe.
STDOUT = "-"
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_SUFFIXES: dict[str, FlagFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
}

# The columns of a flag written as a table row (flag_to_dict's keys).
FLAG_COLUMNS = (
    "account_id",
    "codes",
    "action",
    "jurisdiction",
    "required_age",
    "source",
    "raised_at",
    "line",
    "rowid",
    "report_id",
)
# A stored flag adds its resolution.
EXPORT_COLUMNS = (
    *FLAG_COLUMNS,
    "status",
    "updated_at",
    "resolved_by",
    "resolved_at",
    "resolution_note",
)


def flag_to_dict(flag: Flag) -> dict[str, Any]:
    return {
        "account_id": flag.account_id,
        "codes": list(flag.codes),
        "action": flag.action,
        "jurisdiction": flag.jurisdiction,
        "required_age": flag.required_age,
        "source": flag.source,
        "raised_at": flag.raised_at.isoformat(),
        "line": flag.line,
        "rowid": flag.rowid,
        "report_id": flag.report_id,
    }


def stored_to_dict(stored: StoredFlag) -> dict[str, Any]:
    record = flag_to_dict(stored.flag)
    record.update(
        status=stored.status,
        updated_at=stored.updated_at.isoformat(),
        resolved_by=stored.resolved_by,
        resolved_at=stored.resolved_at.isoformat() if stored.resolved_at else None,
        resolution_note=stored.resolution_note,
    )
    return record


def json_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True) + "\n"


def flag_format(path: str | os.PathLike[str], option: str) -> FlagFormat:
    """The format an output path names (`-`: JSON Lines on standard output),
    or an InputError naming the option."""
    if str(path) == STDOUT:
        return "jsonl"
    found = _SUFFIXES.get(Path(path).suffix.lower())
    if found is None:
        raise InputError(f"{option} must end in .jsonl or .csv", where=str(path))
    return found


class RecordWriter:
    """Flag records to a text stream: CSV with a header row, or one JSON
    object a line. A CSV cell a spreadsheet would run as a formula is
    written as text, and a flag's codes share one cell, `;`-separated."""

    def __init__(
        self, out: TextIO, fmt: FlagFormat, columns: tuple[str, ...] = FLAG_COLUMNS
    ) -> None:
        self._out = out
        self._columns = columns
        self.format = fmt
        self._csv = csv.writer(out) if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(columns)

    def write(self, record: Mapping[str, Any]) -> None:
        if self._csv is None:
            self._out.write(json_line(record))
            return
        row = dict(record, codes=";".join(record["codes"]))
        self._csv.writerow(csv_row([row[c] for c in self._columns]))

    def write_all(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Writes every record; returns how many."""
        count = 0
        for record in records:
            self.write(record)
            count += 1
        return count


class FlagFile:
    """Flag records to a `.jsonl` or `.csv` file, written afresh, fsync'd
    when closed; `-` writes JSON Lines to standard output."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        option: str = "--flags-out",
        columns: tuple[str, ...] = FLAG_COLUMNS,
    ) -> None:
        self.path = Path(path)
        self._stdout = str(path) == STDOUT
        fmt = flag_format(path, option)
        try:
            self._out: TextIO = (
                sys.stdout
                if self._stdout
                else self.path.open("w", encoding="utf-8", newline="")
            )
        except OSError as error:
            raise InputError(
                f"cannot write ({error.strerror})", where=str(path)
            ) from None
        self._writer = RecordWriter(self._out, fmt, columns)

    def add_many(self, flags: Iterable[Flag]) -> None:
        self.write_all(flag_to_dict(flag) for flag in flags)

    def add_columns(self, flags: Any, raised_at: datetime) -> None:
        """Flags held as Arrow columns (a `pyarrow.RecordBatch`, see
        `flags.arrow`), all raised at `raised_at`: the same records as
        `add_many` writes, without an object per flag."""
        from . import arrow  # pyarrow: loaded by reviews alone

        if self._writer.format == "csv":
            self.write_all(arrow.records(flags, raised_at))
            return
        self._out.flush()
        self._out.buffer.write(arrow.jsonl(flags, raised_at))
        self._out.flush()

    def write_all(self, records: Iterable[Mapping[str, Any]]) -> int:
        count = self._writer.write_all(records)
        self._out.flush()
        return count

    def close(self) -> None:
        self._out.flush()
        if self._stdout:
            return
        os.fsync(self._out.fileno())
        self._out.close()

    def __enter__(self) -> FlagFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
