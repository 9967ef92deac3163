"""The flags a report counts, read from any store agegate writes: a SQLite
store, a PostgreSQL one (`postgresql://`), or a JSON Lines file of flags
(what a review's JSON Lines sink or `agegate flags export` writes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...errors import InputError
from ...flags import StoredFlag, open_store
from ...flags.output import JSONL_SUFFIXES
from ...flags.rows import stored_flag
from .facts import FlagFacts, flag_facts, place_label

__all__ = ["read_flags", "store_label"]


def store_label(store: str) -> str:
    """How the page names the store (`facts.place_label`)."""
    return place_label(store)


def read_flags(store: str) -> FlagFacts:
    """The counts of every flag of the store, or an InputError naming it;
    the flags are counted as they are read, never all held at once."""
    if store.endswith(JSONL_SUFFIXES):
        return flag_facts(_jsonl_flags(store))
    with open_store(store, existing=True) as opened:
        return flag_facts(opened.list())


# A flag is a few hundred bytes of JSON; a line far longer is not one.
MAX_LINE_BYTES = 1024 * 1024


def _jsonl_flags(path: str) -> Iterator[StoredFlag]:
    """The file's flags, one line in memory at a time."""
    try:
        with open(path, "rb") as handle:
            number = 0
            while raw := handle.readline(MAX_LINE_BYTES + 1):
                number += 1
                line = _line(raw, path, number)
                if line.strip():
                    row = _row(line, path, number)
                    yield stored_flag(row, store=path, where=f"line {number}")
    except OSError as error:
        raise InputError(f"cannot read ({error.strerror})", where=path) from None


def _line(raw: bytes, path: str, number: int) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise InputError(
            f"line {number}: longer than 1 MiB; not a file of flags", where=path
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text; not a file of flags", where=path) from None


def _row(line: str, path: str, number: int) -> dict[str, Any]:
    """A JSON Lines record in the columns of a store's row: a record the
    sink wrote has no resolution yet, so it is open since it was raised."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        raise InputError(
            f"line {number}: not JSON; not a file of flags", where=path
        ) from None
    if not isinstance(record, dict):
        raise InputError(f"line {number}: not a JSON object", where=path)
    codes = record.get("codes")
    return {
        "fingerprint": None,
        "status": "open",
        "updated_at": record.get("raised_at"),
        "resolved_by": None,
        "resolved_at": None,
        "resolution_note": None,
        "report_id": None,
        "line": None,
        **record,
        "codes": json.dumps(codes) if isinstance(codes, list) else codes,
        "input_rowid": record.get("rowid"),
    }
