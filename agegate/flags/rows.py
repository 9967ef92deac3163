"""A stored row read back as a flag, every column checked first.

A store is a file or a database that other programs and people can write
to: a column may hold text that is not JSON, a number where a date goes,
bytes where an id goes. A row that is not what the store writes is an
InputError naming the store, the row and the column, never the value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..errors import InputError
from .model import STATUSES, Flag, StoredFlag, account_id_problem

__all__ = ["stored_flag"]

_ACTIONS = ("remove", "verify")


class _Bad(Exception):
    """One column's problem, named by the caller with the row."""


def stored_flag(row: Mapping[str, Any], *, store: str, where: str) -> StoredFlag:
    """The flag a row holds; `store` names the store (masked), `where` the
    row (`row 3`, by rowid, or by its key)."""
    reader = _Row(row)
    try:
        return reader.stored()
    except _Bad as bad:
        raise InputError(
            f"{where}: column {reader.column}: {bad}; the store is damaged or"
            " not a flag store",
            where=store,
        ) from None


class _Row:
    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        self.column = ""

    def get(self, column: str, check: Callable[[Any], Any]) -> Any:
        self.column = column
        if column not in self.row:
            raise _Bad("missing")
        return check(self.row[column])

    def stored(self) -> StoredFlag:
        flag = Flag(
            account_id=self.get("account_id", _account_id),
            codes=self.get("codes", _codes),
            action=self.get("action", _one_of(_ACTIONS)),
            jurisdiction=self.get("jurisdiction", _optional(_text)),
            required_age=self.get("required_age", _optional(_integer)),
            source=self.get("source", _text),
            raised_at=self.get("raised_at", _moment),
            fingerprint=self.get("fingerprint", _optional(_text)),
            line=self.get("line", _optional(_integer)),
            rowid=self.get("input_rowid", _optional(_integer)),
            report_id=self.get("report_id", _optional(_text)),
        )
        return StoredFlag(
            flag=flag,
            status=self.get("status", _one_of(STATUSES)),
            updated_at=self.get("updated_at", _moment),
            resolved_by=self.get("resolved_by", _optional(_text)),
            resolved_at=self.get("resolved_at", _optional(_moment)),
            resolution_note=self.get("resolution_note", _optional(_text)),
        )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected text, found {_kind(value)}")
    return value


def _account_id(value: Any) -> str:
    why = account_id_problem(_text(value))
    if why is not None:
        raise _Bad(f"the account id {why}")
    return str(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"expected an integer, found {_kind(value)}")
    return value


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(_text(value))
    except ValueError:
        raise _Bad("expected an ISO 8601 date and time") from None


def _codes(value: Any) -> tuple[str, ...]:
    try:
        codes = json.loads(_text(value))
    except (ValueError, RecursionError):
        raise _Bad(
            "expected a JSON list of codes, found text that is not JSON"
        ) from None
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise _Bad("expected a JSON list of codes")
    return tuple(codes)


def _one_of(allowed: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        if _text(value) not in allowed:
            raise _Bad(f"expected one of {', '.join(allowed)}")
        return str(value)

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def maybe(value: Any) -> Any:
        return None if value is None else check(value)

    return maybe


def _kind(value: Any) -> str:
    names = {bytes: "bytes", int: "an integer", float: "a number", str: "text"}
    return names.get(type(value), type(value).__name__)
