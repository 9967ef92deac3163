"""Where removal flags are kept: a JSON Lines file or the embedded SQLite
store. What a flag is lives in `model`, how it is written out in `output`;
their names are re-exported here for the callers that import them from the
store.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from ..errors import InputError
from ..urls import masked
from .lifecycle import (
    COLUMNS_READ,
    STATE_COLUMNS,
    FlagColumns,
    FlagState,
    StatusChange,
    checked_columns,
    flag_columns_of,
    flag_states_of,
    upsert_sql,
)
from .model import Flag, Status, StoredFlag, check_account_ids
from .model import utc_now as _utc_now
from .output import JSONL_SUFFIXES, flag_to_dict, json_line
from .postgres import PostgresFlagStore, is_postgres_url, open_postgres_store
from .rows import stored_flag

__all__ = [
    "FlagSink",
    "FlagStore",
    "JsonlFlagSink",
    "SqliteFlagStore",
    "open_sink",
    "open_store",
]


class FlagSink(Protocol):
    """Where flags go. Implementations must be safe to call from threads."""

    def add(self, flag: Flag) -> None: ...

    def add_many(self, flags: Iterable[Flag]) -> None: ...


_FlagKey = tuple[str, str, tuple[str, ...], str | None]


def _key(flag: Flag) -> _FlagKey:
    return (flag.account_id, flag.source, flag.codes, flag.fingerprint)


class JsonlFlagSink:
    """Appends one JSON object per flag to a file, fsync'd after each write.

    A flag this sink already wrote (same account, source, codes and
    fingerprint) is not written again, so a client repeating a request does
    not grow the file; the memory of what was written is bounded.
    """

    REMEMBERED = 65536

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._written: OrderedDict[_FlagKey, None] = OrderedDict()

    def add(self, flag: Flag) -> None:
        self.add_many([flag])

    def add_many(self, flags: Iterable[Flag]) -> None:
        checked = check_account_ids(flags)
        with self._lock:
            fresh = self._fresh(checked)
            lines = "".join(json_line(flag_to_dict(f)) for f in fresh)
            if lines:
                self._append(lines)
            for flag in fresh:
                self._written[_key(flag)] = None
            while len(self._written) > self.REMEMBERED:
                self._written.popitem(last=False)

    def _fresh(self, flags: list[Flag]) -> list[Flag]:
        fresh: dict[_FlagKey, Flag] = {}
        for flag in flags:
            key = _key(flag)
            if key in self._written:
                self._written.move_to_end(key)
            else:
                fresh.setdefault(key, flag)
        return list(fresh.values())

    def _append(self, lines: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(lines)
            out.flush()
            os.fsync(out.fileno())


_SCHEMA = """
CREATE TABLE IF NOT EXISTS flags (
    account_id TEXT NOT NULL,
    source TEXT NOT NULL,
    codes TEXT NOT NULL,
    action TEXT NOT NULL,
    jurisdiction TEXT,
    required_age INTEGER,
    fingerprint TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    raised_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_by TEXT,
    resolved_at TEXT,
    resolution_note TEXT,
    line INTEGER,
    input_rowid INTEGER,
    report_id TEXT,
    PRIMARY KEY (account_id, source)
);
CREATE INDEX IF NOT EXISTS flags_status ON flags (status);
"""
# The columns of the first schema, which every flag store has.
_FIRST_COLUMNS = (
    "account_id",
    "source",
    "codes",
    "action",
    "jurisdiction",
    "required_age",
    "fingerprint",
    "status",
    "raised_at",
    "updated_at",
    "resolved_by",
    "resolved_at",
    "resolution_note",
)
# Columns added since the first schema: a store made before gains them.
_ADDED_COLUMNS = (
    ("line", "INTEGER"),
    ("input_rowid", "INTEGER"),
    ("report_id", "TEXT"),
)

# On conflict, the lifecycle's rules (`lifecycle.upsert_sql`).
_UPSERT = upsert_sql(("?",) * 9, "IS NOT")
# Where the account was found, and the report that last named it, move with
# the input without reopening a flag: the flags of the latest report stay
# linked even when some of them were already filed that day.
_SET_STATUS = """
UPDATE flags SET status = ?, resolved_by = ?, resolved_at = ?,
    resolution_note = ?, updated_at = ?
WHERE """
_IN_CHANGE = (
    "(account_id, source) IN (SELECT account_id, source FROM temp.status_change)"
)
_STATUS_KEYS = """
CREATE TEMP TABLE IF NOT EXISTS status_change (
    account_id TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (account_id, source)
) WITHOUT ROWID
"""
_LOCATE = """
UPDATE flags SET line = ?, input_rowid = ?, report_id = ?
WHERE account_id = ? AND source = ?
"""
_CLEAR = """
UPDATE flags SET status = 'cleared', resolved_by = ?, resolved_at = ?,
    resolution_note = ?, updated_at = ?
WHERE account_id = ? AND source = ? AND status = 'open'
"""


class SqliteFlagStore:
    """The embedded flag store: one row per (account, source), upserted.

    Each `add_many` is one transaction, so an interrupted run leaves the store
    as it was after the last completed batch, and a re-run converges on the
    same content.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        # As given: a Path would fold the `//` of a URL taken for a file.
        self.shown = masked(os.fspath(path))
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None
            )
        except sqlite3.DatabaseError as error:
            raise InputError(sqlite_problem(error), where=self.shown) from None
        try:
            self._prepare(create)
        except BaseException as error:
            self._db.close()
            if isinstance(error, sqlite3.DatabaseError):
                raise InputError(sqlite_problem(error), where=self.shown) from None
            raise

    def _prepare(self, create: bool) -> None:
        """Check that the file is a flag store (or, with `create`, a new
        database) before anything is written to it: another application's
        database is never changed."""
        tables = {
            name
            for (name,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        if "flags" in tables:
            self._check_shape()
        elif not create or tables - {"store_keys"}:
            raise InputError(
                "not a flag store: it has no flags table", where=self.shown
            )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(flags)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE flags ADD COLUMN {name} {kind}")

    def _check_shape(self) -> None:
        """A `flags` table of another shape (another program's, or changed
        by hand) is refused, naming what it lacks."""
        info = list(self._db.execute("PRAGMA table_info(flags)"))
        columns = {row[1] for row in info}
        missing = [name for name in _FIRST_COLUMNS if name not in columns]
        if missing:
            raise InputError(
                f"not a flag store: its flags table has no column {missing[0]}",
                where=self.shown,
            )
        key = {row[1] for row in info if row[5]}
        if key != {"account_id", "source"}:
            raise InputError(
                "not a flag store: its flags table is not keyed by"
                " (account_id, source)",
                where=self.shown,
            )
        try:
            self._db.execute("SELECT rowid FROM flags LIMIT 0")
        except sqlite3.OperationalError:
            raise InputError(
                "not a flag store: its flags table has no rowid", where=self.shown
            ) from None

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """Hold the store's lock; a failure of SQLite (a damaged file, a
        lock held too long) is an InputError naming the store. A store used
        after it was closed is the caller's mistake, not the store's, and
        stays sqlite3's ProgrammingError."""
        with self._lock:
            try:
                yield
            except sqlite3.ProgrammingError:
                raise
            except sqlite3.DatabaseError as error:
                raise InputError(sqlite_problem(error), where=self.shown) from None

    def close(self) -> None:
        with self._using():
            self._db.close()

    def __enter__(self) -> SqliteFlagStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, flag: Flag) -> None:
        self.add_many([flag])

    def add_many(self, flags: Iterable[Flag]) -> None:
        now = _utc_now().isoformat()
        checked = check_account_ids(flags)
        rows = [
            (
                f.account_id,
                f.source,
                json.dumps(list(f.codes)),
                f.action,
                f.jurisdiction,
                f.required_age,
                f.fingerprint,
                f.raised_at.isoformat(),
                now,
            )
            for f in checked
        ]
        places = [
            (f.line, f.rowid, f.report_id, f.account_id, f.source) for f in checked
        ]
        with self._using():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_UPSERT, rows)
                self._db.executemany(_LOCATE, places)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def resolve(
        self,
        account_id: str,
        status: Literal["removed", "dismissed"],
        *,
        by: str,
        why: str = "",
        source: str | None = None,
    ) -> int:
        """Mark the account's open (and reappeared) flags removed or
        dismissed; returns how many."""
        if status not in ("removed", "dismissed"):
            raise ValueError("status must be removed or dismissed")
        query = (
            "UPDATE flags SET status = ?, resolved_by = ?, resolved_at = ?,"
            " resolution_note = ?, updated_at = ?"
            " WHERE account_id = ? AND status IN ('open', 'reappeared')"
        )
        now = _utc_now().isoformat()
        params: list[Any] = [status, by, now, why, now, account_id]
        if source is not None:
            query += " AND source = ?"
            params.append(source)
        with self._using():
            return self._db.execute(query, params).rowcount

    def clear(
        self,
        account_ids: Iterable[str],
        *,
        at: datetime,
        source: str = "review",
        by: str = "agegate review",
    ) -> int:
        """Close the open flags of accounts screened again without the
        condition: status `cleared` at `at` (the run's time); the flag stays
        in the store. Returns how many were closed."""
        when = at.isoformat()
        note = "condition no longer found"
        rows = [(by, when, note, when, account, source) for account in account_ids]
        with self._using():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                self._db.executemany(_CLEAR, rows)
                changed = self._db.total_changes - before
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return changed

    def set_status(self, change: StatusChange) -> int:
        """Move the flags `change` names from one of its `before` statuses
        to its `after`, all in one transaction; returns how many moved. The
        keys go into a temporary table joined by one UPDATE: a hundred
        thousand flags move in one statement."""
        now = _utc_now().isoformat()
        places = ", ".join("?" for _ in change.before)
        params = (change.after, change.by, now, change.note, now, *change.before)
        if change.marked is not None:
            marked = _SET_STATUS + f"status IN ({places}) AND resolution_note = ?"
            with self._using():
                return int(self._db.execute(marked, (*params, change.marked)).rowcount)
        keys = [(ref.account_id, ref.source) for ref in change.flags]
        query = _SET_STATUS + f"status IN ({places}) AND {_IN_CHANGE}"
        with self._using():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(_STATUS_KEYS)
                self._db.execute("DELETE FROM temp.status_change")
                self._db.executemany(
                    "INSERT OR IGNORE INTO temp.status_change VALUES (?, ?)", keys
                )
                changed = self._db.execute(query, params).rowcount
                self._db.execute("DROP TABLE temp.status_change")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return int(changed)

    def statuses(
        self, account_ids: Iterable[str], source: str = "review"
    ) -> collections.Counter[str]:
        """How many of these accounts' flags from `source` have each status
        (a review counts the removed accounts it found again)."""
        ids = json.dumps(sorted(set(account_ids)))
        query = (
            "SELECT status, count(*) FROM flags WHERE source = ?"
            " AND account_id IN (SELECT value FROM json_each(?)) GROUP BY status"
        )
        with self._using():
            rows = self._db.execute(query, (source, ids)).fetchall()
        return collections.Counter({str(status): int(n) for status, n in rows})

    def list(
        self, *, status: Status | None = None, account_id: str | None = None
    ) -> Iterator[StoredFlag]:
        query = f"SELECT rowid AS {_ROWID}, * FROM flags"  # noqa: S608 - fixed name
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if account_id is not None:
            clauses.append("account_id = ?")
            params.append(account_id)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY account_id, source"
        with self._using():
            cursor = self._db.execute(query, params)
            columns = [c[0] for c in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return (self._stored(row) for row in rows)

    def flag_states(self, *, note: str | None = None) -> builtins.list[FlagState]:
        """Every flag (those whose note is `note`, when given), as much of it
        as a removal reads (see `FlagState`)."""
        query = f"SELECT rowid, {STATE_COLUMNS} FROM flags"  # noqa: S608 - fixed
        params: tuple[str, ...] = ()
        if note is not None:
            query += " WHERE resolution_note = ?"
            params = (note,)
        with self._using():
            rows = self._db.execute(query, params).fetchall()
        return flag_states_of(rows, store=self.shown, where=lambda n: f"row {n}")

    def flag_columns(self, note: str) -> FlagColumns:
        """The flags whose note is `note`, as checked columns (see
        `FlagColumns`). SQLite makes each column one JSON array, which
        json.loads reads back in C: no Python object per row."""
        columns = self._json_columns(_AS_ARRAYS, note)
        found = None if columns is None else checked_columns(columns)
        if found is not None:
            return found
        # A value not text (or a BLOB, which JSON cannot hold): the rows
        # are read one by one, to name the row.
        query = (
            f"SELECT rowid, {COLUMNS_READ} FROM flags"  # noqa: S608
            " WHERE resolution_note = ? ORDER BY account_id, source"
        )
        with self._using():
            rows = self._db.execute(query, (note,)).fetchall()
        return flag_columns_of(rows, store=self.shown, where=lambda n: f"row {n}")

    def marked(self, note: str) -> tuple[str, frozenset[str]]:
        """The account ids of the flags whose note is `note`, as a JSON
        array (as SQLite writes it, which SQLite reads back exactly), and
        their statuses, unchecked: a run starts its erase by them, and
        checks them against `flag_columns` before the erase is committed."""
        with self._using():
            try:
                listed, statuses = self._db.execute(_MARKED, (note,)).fetchone()
            except sqlite3.OperationalError:
                # A BLOB: no id at all, which the checked read refuses.
                return "[]", frozenset()
        try:
            return str(listed), frozenset(json.loads(statuses))
        except (TypeError, ValueError):
            return "[]", frozenset()

    def _json_columns(
        self, query: str, note: str
    ) -> builtins.list[builtins.list[Any]] | None:
        with self._using():
            try:
                texts = self._db.execute(query, (note,)).fetchone()
            except sqlite3.OperationalError:
                return None
        try:
            return [json.loads(text) for text in texts]
        except (TypeError, ValueError):
            return None

    def _stored(self, row: dict[str, Any]) -> StoredFlag:
        return stored_flag(row, store=self.shown, where=f"row {row[_ROWID]}")

    def count(self, status: Status | None = None) -> int:
        return sum(1 for _ in self.list(status=status))

    def secret(self) -> bytes:
        """This store's random key for fingerprints and anonymous account ids,
        made on first use and kept in the store, so re-runs hash alike."""
        with self._using():
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS store_keys"
                " (name TEXT PRIMARY KEY, value BLOB NOT NULL)"
            )
            self._db.execute(
                "INSERT OR IGNORE INTO store_keys (name, value) VALUES (?, ?)",
                ("fingerprint", os.urandom(32)),
            )
            row = self._db.execute(
                "SELECT value FROM store_keys WHERE name = 'fingerprint'"
            ).fetchone()
        return bytes(row[0])


# What `agegate review --store` and `agegate flags` work with.
FlagStore = SqliteFlagStore | PostgresFlagStore


# A removal's reads of a plan's flags: one JSON array per column, in the
# same order (one scan feeds every aggregate).
# Of actions and statuses, only which occur (see `FlagColumns`); the flags
# in the order of their key (SQLite's aggregates take the rows in the order
# the subquery gives them), sorted after a scan: walking the key's index
# instead would fetch each row by its rowid, several times slower.
_AS_ARRAYS = (
    "SELECT "  # noqa: S608 - fixed names
    + ", ".join(
        f"json_group_array(DISTINCT {c})"
        if c in ("action", "status")
        else f"json_group_array({c})"
        for c in COLUMNS_READ.split(", ")
    )
    + f" FROM (SELECT {COLUMNS_READ} FROM flags"  # noqa: S608 - fixed names
    + " WHERE resolution_note = ? ORDER BY +account_id, +source)"
)
_MARKED = (
    "SELECT json_group_array(account_id), json_group_array(DISTINCT status)"
    " FROM flags WHERE resolution_note = ?"
)

# The rowid as a listing reads it, under a name no column of ours has.
_ROWID = "_agegate_rowid"


def open_sink(path: str | os.PathLike[str]) -> FlagSink:
    """A JSON Lines sink for a `.jsonl` path, the PostgreSQL store for a
    `postgresql://` URL (connected on first use), the SQLite store otherwise."""
    if isinstance(path, str) and is_postgres_url(path):
        return PostgresFlagStore(path)
    if str(path).endswith(JSONL_SUFFIXES):
        return JsonlFlagSink(path)
    return SqliteFlagStore(path)


def open_store(path: str, *, existing: bool = False) -> FlagStore:
    """The SQLite flag store at `path` or the PostgreSQL one at a
    `postgresql://` URL (made there unless `existing`), or an InputError when
    there is none to open or the file is not a store."""
    if is_postgres_url(path):
        return open_postgres_store(path, existing=existing)
    shown = masked(path)
    if path.endswith(JSONL_SUFFIXES):
        raise InputError(
            "a JSON Lines file of flags is not a flag store; give a SQLite"
            " file or a postgresql:// URL",
            where=shown,
        )
    if existing and not Path(path).is_file():
        raise InputError("no such flag store", where=shown)
    return SqliteFlagStore(path, create=not existing)


def sqlite_problem(error: sqlite3.DatabaseError) -> str:
    """A fixed phrase for SQLite's reason: its message is never shown."""
    text = str(error).lower()
    phrases = (
        ("not a database", "not a SQLite flag store (not a SQLite database)"),
        ("malformed", "the SQLite database is damaged"),
        ("readonly", "the SQLite flag store is read-only"),
        ("locked", "the SQLite flag store is locked by another program"),
        ("busy", "the SQLite flag store is locked by another program"),
        ("unable to open", "cannot open the SQLite flag store"),
        ("disk i/o", "a disk I/O error on the SQLite flag store"),
    )
    for needle, phrase in phrases:
        if needle in text:
            return phrase
    return "the SQLite flag store refused the operation"
