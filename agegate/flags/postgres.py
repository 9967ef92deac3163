"""The PostgreSQL flag store: the SQLite store's schema, upserts and
lifecycle in a database that several gates and reviews share.

One row per (account, source), upserted with `INSERT ... ON CONFLICT` on the
primary key: concurrent writers of the same flag queue on its row, so none
is lost or doubled. A batch is one transaction, its rows taken in key order
so that two batches cannot deadlock on each other (and a deadlock the server
reports anyway is retried). The tables are created on first use under an
advisory lock, with a `schema_version` table for later migrations.

Writes go through ADBC's PostgreSQL driver, the one the review reads with; a
store object holds one connection, used by one thread at a time, and opens
it again after a failure, so a server that was down is used again once back.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import functools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ..errors import InputError
from ..urls import is_postgres_url, masked
from .lifecycle import (
    COLUMNS_READ,
    STATE_COLUMNS,
    FlagColumns,
    FlagState,
    StatusChange,
    flag_columns_of,
    flag_states_of,
    upsert_sql,
)
from .model import Flag, Status, StoredFlag, check_account_ids
from .model import utc_now as _utc_now
from .rows import stored_flag

# pyarrow (about 56 MiB) loads only when a PostgreSQL store is used: the gate
# imports this module through the flag sinks whatever store it is given.
if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "SCHEMA_VERSION",
    "SCHEMES",
    "PostgresFlagStore",
    "connection_problem",
    "is_postgres_url",
    "masked",
    "open_postgres_store",
    "postgres_url",
]

SCHEMES = ("postgresql://", "postgres://")
SCHEMA_VERSION = 1
# Seconds libpq waits for the server: a gate answers 503 rather than hang.
CONNECT_TIMEOUT = 5
# Deadlocks and serialization failures are retried this many times.
_RETRIES = 3
_RETRIED_STATES = ("40P01", "40001")
# Any constant the project's writers agree on: it serialises schema creation.
_SCHEMA_LOCK = 7_470_611

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
    """CREATE TABLE IF NOT EXISTS flags (
        account_id text NOT NULL,
        source text NOT NULL,
        codes text NOT NULL,
        action text NOT NULL,
        jurisdiction text,
        required_age integer,
        fingerprint text,
        status text NOT NULL DEFAULT 'open',
        raised_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        resolved_by text,
        resolved_at timestamptz,
        resolution_note text,
        line bigint,
        input_rowid bigint,
        report_id text,
        PRIMARY KEY (account_id, source)
    )""",
    "CREATE INDEX IF NOT EXISTS flags_status ON flags (status)",
    "CREATE TABLE IF NOT EXISTS store_keys"
    " (name text PRIMARY KEY, value bytea NOT NULL)",
)

# The SQLite store's rules (`lifecycle.upsert_sql`).
_UPSERT = upsert_sql(tuple(f"${n}" for n in range(1, 10)), "IS DISTINCT FROM")
_LOCATE = """
UPDATE flags SET line = $1, input_rowid = $2, report_id = $3
WHERE account_id = $4 AND source = $5
"""
_CLEAR = """
WITH changed AS (
    UPDATE flags SET status = 'cleared', resolved_by = $1, resolved_at = $2,
        resolution_note = $3, updated_at = $2
    WHERE source = $4 AND status = 'open'
      AND account_id IN (SELECT jsonb_array_elements_text($5::jsonb))
    RETURNING 1
)
SELECT count(*) FROM changed
"""
_RESOLVE = """
WITH changed AS (
    UPDATE flags SET status = $1, resolved_by = $2, resolved_at = $3,
        resolution_note = $4, updated_at = $3
    WHERE account_id = $5 AND status IN ('open', 'reappeared')
      AND ($6::text IS NULL OR source = $6)
    RETURNING 1
)
SELECT count(*) FROM changed
"""
# One statement for any number of flags: the (account, source) pairs and
# the statuses they may move from travel as JSON arrays.
_SET_STATUS = """
WITH wanted AS (
    SELECT pair->>0 AS account_id, pair->>1 AS source
    FROM jsonb_array_elements($5::jsonb) AS pair
), changed AS (
    UPDATE flags SET status = $1, resolved_by = $2, resolved_at = $3,
        resolution_note = $4, updated_at = $3
    FROM wanted
    WHERE flags.account_id = wanted.account_id AND flags.source = wanted.source
      AND flags.status IN (SELECT jsonb_array_elements_text($6::jsonb))
    RETURNING 1
)
SELECT count(*) FROM changed
"""
_SET_MARKED = """
WITH changed AS (
    UPDATE flags SET status = $1, resolved_by = $2, resolved_at = $3,
        resolution_note = $4, updated_at = $3
    WHERE resolution_note = $5
      AND status IN (SELECT jsonb_array_elements_text($6::jsonb))
    RETURNING 1
)
SELECT count(*) FROM changed
"""
# The flags table's columns and primary key, or NULLs when there is none.
_SHAPE = """
SELECT
    (SELECT array_agg(attname::text) FROM pg_attribute
     WHERE attrelid = to_regclass('flags') AND attnum > 0 AND NOT attisdropped),
    (SELECT array_agg(a.attname::text) FROM pg_index i
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
     WHERE i.indrelid = to_regclass('flags') AND i.indisprimary)
"""
_COLUMNS = (
    "account_id, source, codes, action, jurisdiction, required_age, fingerprint,"
    " status, raised_at, updated_at, resolved_by, resolved_at, resolution_note,"
    " line, input_rowid, report_id"
)


@functools.cache
def _upsert_types() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("account_id", pa.string()),
            ("source", pa.string()),
            ("codes", pa.string()),
            ("action", pa.string()),
            ("jurisdiction", pa.string()),
            ("required_age", pa.int32()),
            ("fingerprint", pa.string()),
            ("raised_at", pa.timestamp("us", tz="UTC")),
            ("updated_at", pa.timestamp("us", tz="UTC")),
        ]
    )


@functools.cache
def _locate_types() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("line", pa.int64()),
            ("input_rowid", pa.int64()),
            ("report_id", pa.string()),
            ("account_id", pa.string()),
            ("source", pa.string()),
        ]
    )


T = TypeVar("T")


def postgres_url(url: str) -> str:
    """The URL with its scheme in lower case (libpq reads only that as a
    URL), or an InputError naming it masked when it does not parse."""
    try:
        parts = urlsplit(url)
        parse_qsl(parts.query)
    except ValueError:
        raise InputError("not a valid PostgreSQL URL", where=masked(url)) from None
    return parts.scheme.lower() + url[len(parts.scheme) :]


def connection_problem(message: str) -> str:
    """A fixed phrase for libpq's reason: the message itself may echo
    what the user typed, so it is never shown."""
    reasons = (
        ("password authentication failed", "password authentication failed"),
        ("no password supplied", "no password supplied"),
        ("does not exist", "no such database or user"),
        ("Connection refused", "connection refused"),
        ("could not translate host name", "unknown host"),
        ("timeout", "timed out"),
    )
    for needle, phrase in reasons:
        if needle.lower() in message.lower():
            return phrase
    return "the server refused the connection or could not be reached"


def _with_timeout(url: str) -> str:
    """The URL with libpq's connect_timeout, unless it sets one."""
    given = {k.lower() for k, _ in parse_qsl(urlsplit(url).query)}
    if "connect_timeout" in given:
        return url
    joiner = "&" if urlsplit(url).query else "?"
    return f"{url}{joiner}connect_timeout={CONNECT_TIMEOUT}"


class PostgresFlagStore:
    """The flag store in a PostgreSQL database (see the module doc).

    Made with `create=False`, it refuses a database without the tables
    instead of creating them (`agegate flags` reads an existing store).
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = postgres_url(url)
        self.create = create
        self._lock = threading.Lock()
        self._db: Any = None

    @property
    def shown(self) -> str:
        return masked(self.url)

    # -- the connection ------------------------------------------------------

    def _connection(self) -> Any:
        if self._db is None:
            import adbc_driver_postgresql.dbapi as adbc

            db = adbc.connect(_with_timeout(self.url))
            try:
                self._prepare(db)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _prepare(self, db: Any) -> None:
        with db.cursor() as cursor:
            self._make_tables(db, cursor)

    def _make_tables(self, db: Any, cursor: Any) -> None:
        cursor.execute(_SHAPE)
        found = cursor.fetchone()
        db.rollback()
        if found is not None and found[0] is not None:
            self._check_shape(found[0], found[1])
            if not self.create:
                return
        elif not self.create:
            raise InputError("no flag store in this database", where=self.shown)
        cursor.execute("SELECT pg_advisory_xact_lock($1)", (_SCHEMA_LOCK,))
        for statement in _SCHEMA:
            cursor.execute(statement)
        cursor.execute("SELECT count(*) FROM schema_version")
        row = cursor.fetchone()
        if row is not None and row[0] == 0:
            cursor.execute(
                "INSERT INTO schema_version (version) VALUES ($1)", (SCHEMA_VERSION,)
            )
        db.commit()

    def _check_shape(self, columns: list[str], key: list[str] | None) -> None:
        """A `flags` table of another shape (another program's, or changed
        by hand) is refused, naming what it lacks."""
        missing = [name for name in _COLUMNS.split(", ") if name not in columns]
        if missing:
            raise InputError(
                f"not a flag store: its flags table has no column {missing[0]}",
                where=self.shown,
            )
        if sorted(key or ()) != ["account_id", "source"]:
            raise InputError(
                "not a flag store: its flags table is not keyed by"
                " (account_id, source)",
                where=self.shown,
            )

    def _drop(self) -> None:
        if self._db is not None:
            # A broken connection is dropped all the same.
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def _transaction(self, work: Callable[[Any], T]) -> T:
        """Run `work(cursor)` in one transaction, retried on a deadlock; any
        other failure drops the connection (the next call opens a new one)
        and is raised."""
        import adbc_driver_manager

        with self._lock:
            for attempt in range(_RETRIES + 1):
                db = self._connection()
                try:
                    with db.cursor() as cursor:
                        result = work(cursor)
                    db.commit()
                except adbc_driver_manager.Error as error:
                    self._drop()
                    state = getattr(error, "sqlstate", None)
                    if state in _RETRIED_STATES and attempt < _RETRIES:
                        continue
                    raise InputError(
                        f"the PostgreSQL flag store failed: {_store_problem(error)}",
                        where=self.shown,
                    ) from None
                except BaseException:
                    self._drop()
                    raise
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def connect(self) -> None:
        """Open the connection now (and make the tables): a store that cannot
        be used is an InputError naming the URL, its password masked."""
        import adbc_driver_manager

        with self._lock:
            try:
                self._connection()
            except adbc_driver_manager.Error as error:
                why = connection_problem(str(error))
                raise InputError(
                    f"cannot use the PostgreSQL flag store: {why}",
                    where=self.shown,
                ) from None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> PostgresFlagStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------

    def add(self, flag: Flag) -> None:
        self.add_many([flag])

    def add_many(self, flags: Iterable[Flag]) -> None:
        import pyarrow as pa

        checked = check_account_ids(flags)
        if not checked:
            return
        # Key order: two writers lock shared rows in the same order.
        checked.sort(key=lambda f: (f.account_id, f.source))
        now = _utc_now()
        upserts = pa.Table.from_pylist(
            [
                {
                    "account_id": f.account_id,
                    "source": f.source,
                    "codes": json.dumps(list(f.codes)),
                    "action": f.action,
                    "jurisdiction": f.jurisdiction,
                    "required_age": f.required_age,
                    "fingerprint": f.fingerprint,
                    "raised_at": f.raised_at,
                    "updated_at": now,
                }
                for f in checked
            ],
            schema=_upsert_types(),
        )
        places = pa.Table.from_pylist(
            [
                {
                    "line": f.line,
                    "input_rowid": f.rowid,
                    "report_id": f.report_id,
                    "account_id": f.account_id,
                    "source": f.source,
                }
                for f in checked
            ],
            schema=_locate_types(),
        )

        def write(cursor: Any) -> None:
            cursor.executemany(_UPSERT, upserts)
            cursor.executemany(_LOCATE, places)

        self._transaction(write)

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
        params = (status, by, _utc_now(), why, account_id, source)
        return self._transaction(lambda cursor: _count(cursor, _RESOLVE, params))

    def clear(
        self,
        account_ids: Iterable[str],
        *,
        at: datetime,
        source: str = "review",
        by: str = "agegate review",
    ) -> int:
        """Close the open flags of accounts screened again without the
        condition (see `SqliteFlagStore.clear`); returns how many."""
        ids = sorted(set(account_ids))
        if not ids:
            return 0
        note = "condition no longer found"
        params = (by, at, note, source, json.dumps(ids))
        return self._transaction(lambda cursor: _count(cursor, _CLEAR, params))

    def set_status(self, change: StatusChange) -> int:
        """Move the flags `change` names from one of its `before` statuses
        to its `after`, in one transaction; returns how many moved."""
        if change.marked is not None:
            marked = (
                change.after,
                change.by,
                _utc_now(),
                change.note,
                change.marked,
                json.dumps(list(change.before)),
            )
            return self._transaction(lambda c: _count(c, _SET_MARKED, marked))
        refs = sorted({(r.account_id, r.source) for r in change.flags})
        if not refs:
            return 0
        params = (
            change.after,
            change.by,
            _utc_now(),
            change.note,
            json.dumps([list(ref) for ref in refs]),
            json.dumps(list(change.before)),
        )
        return self._transaction(lambda cursor: _count(cursor, _SET_STATUS, params))

    # -- reading -------------------------------------------------------------

    def statuses(
        self, account_ids: Iterable[str], source: str = "review"
    ) -> collections.Counter[str]:
        """How many of these accounts' flags from `source` have each status
        (see `SqliteFlagStore.statuses`)."""
        ids = json.dumps(sorted(set(account_ids)))
        query = (
            "SELECT status, count(*) FROM flags WHERE source = $1"
            " AND account_id IN (SELECT jsonb_array_elements_text($2::jsonb))"
            " GROUP BY status"
        )

        def read(cursor: Any) -> list[tuple[Any, ...]]:
            cursor.execute(query, (source, ids))
            return list(cursor.fetchall())

        rows = self._transaction(read)
        return collections.Counter({str(status): int(n) for status, n in rows})

    def list(
        self, *, status: Status | None = None, account_id: str | None = None
    ) -> Iterator[StoredFlag]:
        # Byte order, as the SQLite store sorts.
        query = (
            f"SELECT ctid::text, {_COLUMNS} FROM flags"  # noqa: S608 - fixed list
            " WHERE ($1::text IS NULL OR status = $1)"
            " AND ($2::text IS NULL OR account_id = $2)"
            ' ORDER BY account_id COLLATE "C", source COLLATE "C"'
        )

        def read(cursor: Any) -> list[tuple[Any, ...]]:
            cursor.execute(query, (status, account_id))
            return list(cursor.fetchall())

        rows = self._transaction(read)
        return (self._stored(row) for row in rows)

    def flag_states(self, *, note: str | None = None) -> builtins.list[FlagState]:
        """Every flag (those whose note is `note`, when given), as much of it
        as a removal reads (see `FlagState`)."""
        query = (
            f"SELECT ctid::text, {STATE_COLUMNS} FROM flags"  # noqa: S608
            " WHERE ($1::text IS NULL OR resolution_note = $1)"
        )

        def read(cursor: Any) -> list[tuple[Any, ...]]:
            cursor.execute(query, (note,))
            return list(cursor.fetchall())

        rows = self._transaction(read)
        return flag_states_of(
            rows, store=self.shown, where=lambda ctid: f"row at ctid {ctid}"
        )

    def flag_columns(self, note: str) -> FlagColumns:
        """The flags whose note is `note`, as checked columns (see
        `FlagColumns`)."""
        query = (
            f"SELECT ctid::text, {COLUMNS_READ} FROM flags"  # noqa: S608
            ' WHERE resolution_note = $1 ORDER BY account_id COLLATE "C",'
            ' source COLLATE "C"'
        )

        def read(cursor: Any) -> list[tuple[Any, ...]]:
            cursor.execute(query, (note,))
            return list(cursor.fetchall())

        rows = self._transaction(read)
        return flag_columns_of(
            rows, store=self.shown, where=lambda ctid: f"row at ctid {ctid}"
        )

    def marked(self, note: str) -> tuple[str, frozenset[str]]:
        """The account ids of the flags whose note is `note`, as a JSON
        array, and their statuses, unchecked (see the SQLite store's)."""
        query = "SELECT account_id, status FROM flags WHERE resolution_note = $1"

        def read(cursor: Any) -> list[tuple[Any, ...]]:
            cursor.execute(query, (note,))
            return list(cursor.fetchall())

        rows = self._transaction(read)
        ids, statuses = zip(*rows, strict=True) if rows else ((), ())
        return json.dumps(list(ids), ensure_ascii=False), frozenset(statuses)

    def _stored(self, row: tuple[Any, ...]) -> StoredFlag:
        # Named by its ctid, which `SELECT ... WHERE ctid = '(0,3)'` finds.
        values = dict(zip(_COLUMNS.split(", "), row[1:], strict=True))
        return stored_flag(values, store=self.shown, where=f"row at ctid {row[0]}")

    def count(self, status: Status | None = None) -> int:
        return sum(1 for _ in self.list(status=status))

    def secret(self) -> bytes:
        """This store's random key for fingerprints and anonymous account ids,
        made on first use and kept in the store, so re-runs hash alike."""

        def keep(cursor: Any) -> bytes:
            cursor.execute(
                "INSERT INTO store_keys (name, value) VALUES ('fingerprint', $1)"
                " ON CONFLICT (name) DO NOTHING",
                (os.urandom(32),),
            )
            cursor.execute("SELECT value FROM store_keys WHERE name = 'fingerprint'")
            row = cursor.fetchone()
            return bytes(row[0])

        return self._transaction(keep)


def _count(cursor: Any, query: str, params: tuple[Any, ...]) -> int:
    cursor.execute(query, params)
    row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def _store_problem(error: Exception) -> str:
    """A fixed phrase for a failed statement: the server's message may echo
    stored values, so only its SQLSTATE class is named."""
    state = str(getattr(error, "sqlstate", "") or "")
    if state in ("42703", "42P01", "42804", "42883"):
        return "its flags table is not a flag store's"
    if state.startswith("08") or not state:
        return connection_problem(str(error))
    return f"the server refused the statement (SQLSTATE {state})"


def open_postgres_store(url: str, *, existing: bool = False) -> PostgresFlagStore:
    """The store at `url`, connected now, or an InputError saying why not."""
    store = PostgresFlagStore(url, create=not existing)
    store.connect()
    return store
