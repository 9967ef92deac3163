"""Targets: the stores a removal erases from, as the review names them.

A target is a file (`accounts.csv`, `.jsonl`/`.ndjson`, `.parquet`), a SQLite
database and its table (`app.sqlite --table users`), a PostgreSQL table
(`postgresql://... --table users`), or an operator's eraser
(`--eraser module:callable`). Each has an account-id column (`--id-column`,
default `account_id`).

A plan keeps each target's location so that `run` and `verify` need only the
plan; a PostgreSQL URL is kept without its password (libpq reads it from
PGPASSWORD or ~/.pgpass when the run connects), and its label, shown in
plans and receipts, is masked as every message masks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import attrs

from ..errors import InputError
from ..flags.postgres import is_postgres_url
from ..urls import masked
from .erasers.base import Eraser

__all__ = ["DEFAULT_ID_COLUMN", "KINDS", "Kind", "Target", "target_of"]

Kind = Literal["csv", "jsonl", "parquet", "sqlite", "postgres", "eraser"]
KINDS: tuple[Kind, ...] = ("csv", "jsonl", "parquet", "sqlite", "postgres", "eraser")
DEFAULT_ID_COLUMN = "account_id"
_SUFFIXES: dict[str, Kind] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
}


@attrs.frozen
class Target:
    kind: Kind
    location: str
    table: str | None = None
    id_column: str = DEFAULT_ID_COLUMN

    @property
    def label(self) -> str:
        shown = masked(self.location)
        if self.kind == "eraser":
            return f"eraser:{shown}"
        return f"{shown}:{self.table}" if self.table else shown

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "location": self.location,
            "table": self.table,
            "id_column": self.id_column,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, object]) -> Target:
        kind, location = value.get("kind"), value.get("location")
        table, column = value.get("table"), value.get("id_column")
        if kind not in KINDS or not isinstance(location, str):
            raise InputError("a target of the plan is not one agegate knows")
        if table is not None and not isinstance(table, str):
            raise InputError("a target's table is not text")
        if not isinstance(column, str) or not column:
            raise InputError("a target's id column is not text")
        return cls(kind, location, table, column)

    def eraser(self) -> Eraser:
        """The eraser for this target (nothing is opened yet)."""
        from .erasers.files import CsvEraser, JsonlEraser, ParquetEraser
        from .erasers.operator import load_eraser
        from .erasers.postgres import PostgresEraser
        from .erasers.sqlite import SqliteEraser

        if self.kind == "eraser":
            return load_eraser(self.location)
        if self.kind == "sqlite":
            return SqliteEraser(self.location, self._table(), self.id_column)
        if self.kind == "postgres":
            return PostgresEraser(self.location, self._table(), self.id_column)
        files = {"csv": CsvEraser, "jsonl": JsonlEraser, "parquet": ParquetEraser}
        return files[self.kind](self.location, self.id_column)

    def _table(self) -> str:
        if not self.table:
            raise InputError("this target needs --table", where=self.label)
        return self.table


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


def target_of(
    location: str, *, table: str | None = None, id_column: str = DEFAULT_ID_COLUMN
) -> Target:
    """The target a command line names, or an InputError saying what is
    wrong with it (before anything is read)."""
    if not id_column:
        raise InputError("--id-column must not be empty")
    if is_postgres_url(location):
        if not table:
            raise InputError(
                "a PostgreSQL target needs --table", where=masked(location)
            )
        try:
            kept = _without_password(location)
        except ValueError:
            raise InputError(
                "not a valid PostgreSQL URL", where=masked(location)
            ) from None
        return Target("postgres", kept, table, id_column)
    kind = _SUFFIXES.get(Path(location).suffix.lower())
    if kind is None:
        raise InputError(
            "cannot tell the kind of target from its extension (.csv, .jsonl,"
            " .parquet, .sqlite, .db) or scheme (postgresql://)",
            where=masked(location),
        )
    if kind == "sqlite" and not table:
        raise InputError("a SQLite target needs --table", where=masked(location))
    if kind != "sqlite" and table:
        raise InputError("--table applies to SQLite and PostgreSQL targets only")
    return Target(kind, str(Path(location).resolve()), table, id_column)


def eraser_target(spec: str) -> Target:
    return Target("eraser", spec, None, DEFAULT_ID_COLUMN)
