"""The SQLite eraser: one DELETE by account id in one transaction.

`secure_delete` makes SQLite overwrite the deleted cells and freed pages
with zeros, and a WAL checkpoint (TRUNCATE) copies the pages back into the
database and empties the log, so the removed rows' bytes are in neither
file afterwards. The flagged ids go into a temporary table joined by the
DELETE: one statement, whatever their number.

The flag's rowid is not needed here: a row found by its rowid is deleted
only when it still holds the account, which the DELETE by account id
already covers, and a row that moved is found by its id all the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Set
from pathlib import Path

from ...errors import InputError
from ...urls import masked
from .base import Erased, Staged, Survey, TargetChanged, quoted

__all__ = ["SqliteEraser"]

_IDS = "temp.agegate_removal_ids"
_ROWS = "temp.agegate_removal_rows"
# How long an erase waits for the app's write lock.
_BUSY_MS = 10_000


class SqliteEraser:
    def __init__(self, path: str, table: str, id_column: str) -> None:
        self.path = path
        self.table = table
        self.id_column = id_column
        self.label = f"{masked(path)}:{table}"

    @contextlib.contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            with self._refusing():
                yield db
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        if not Path(self.path).is_file():
            raise InputError("no such SQLite file", where=self.label)
        try:
            # Not bound to one thread: an erase staged in one thread may be
            # committed from another.
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
        except sqlite3.DatabaseError:
            raise InputError("cannot open the SQLite file", where=self.label) from None
        try:
            with self._refusing():
                self._check(db)
                db.execute("PRAGMA temp_store=MEMORY")
                db.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        except BaseException:
            db.close()
            raise
        return db

    @contextlib.contextmanager
    def _refusing(self, *, committed: bool = False) -> Iterator[None]:
        """SQLite's refusal as an InputError; `committed`: the erase was
        committed before it, so the target is not as it was."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            reason = _after_commit(error) if committed else _refusal(error)
            raise InputError(reason, where=self.label) from None

    def _check(self, db: sqlite3.Connection) -> None:
        try:
            columns = [row[1] for row in db.execute(self._info())]
        except sqlite3.DatabaseError:
            raise InputError("not a SQLite database", where=self.label) from None
        if not columns:
            raise InputError("no such table", where=self.label)
        if self.id_column not in columns:
            raise InputError(
                f"the table has no column {self.id_column}", where=self.label
            )

    def _info(self) -> str:
        return f"PRAGMA main.table_info({quoted(self.table)})"

    def _load(
        self, db: sqlite3.Connection, ids: Set[str], listed: str | None = None
    ) -> None:
        """The ids into a temporary table; `listed`, when given, is them as
        a JSON array already."""
        # No declared type: SQLite compares each id with the column's own
        # affinity, so "42" finds 42 in an INTEGER column.
        # A plain table: the ids are a set already, and the IN below gets
        # an index of its own from SQLite.
        db.execute("CREATE TEMP TABLE IF NOT EXISTS agegate_removal_ids (id)")
        db.execute(f"DELETE FROM {_IDS}")  # noqa: S608 - a fixed name
        if listed is None:
            listed = json.dumps(list(ids), ensure_ascii=False)
        if "\\u0000" in listed:
            # json_each ends a text at a NUL: such ids go one by one.
            rows = zip(ids or set(json.loads(listed)))
            db.executemany(f"INSERT INTO {_IDS} VALUES (?)", rows)  # noqa: S608
            return
        # One JSON array, expanded by SQLite's json_each: one statement, not
        # a hundred thousand (json.dumps and json_each are both C).
        db.execute(
            f"INSERT INTO {_IDS} SELECT value FROM json_each(?)",  # noqa: S608
            (listed,),
        )

    def _where(self) -> str:
        return f"{quoted(self.id_column)} IN (SELECT id FROM {_IDS})"  # noqa: S608

    def plan(self, ids: Set[str]) -> Survey:
        """The counts, and a state made of what the DELETE depends on: the
        table's size and which rows hold the accounts (their number and
        rowids). Computed by SQLite alone, whatever the table's size."""
        with self._open() as db:
            db.execute("BEGIN")
            self._load(db, ids)
            survey = self._survey(db)
            db.execute("ROLLBACK")
        return survey

    def _survey(self, db: sqlite3.Connection) -> Survey:
        """The survey of the rows that hold the accounts, found once and
        kept (their rowids and ids) in a temporary table, which the checked
        DELETE then takes by rowid instead of looking every id up again."""
        table = f"main.{quoted(self.table)}"
        column = quoted(self.id_column)
        db.execute(f"DROP TABLE IF EXISTS {_ROWS}")
        db.execute(
            f"CREATE TEMP TABLE {_ROWS.split('.')[1]} AS SELECT rowid AS r,"  # noqa: S608
            f" {column} AS a FROM {table} WHERE {self._where()}"
        )
        (total,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        # Distinct ids compared as stored (binary): the count over the
        # column itself, unless a collation of its own makes two equal.
        found = db.execute(
            "SELECT count(*), count(DISTINCT a), total(r), min(r), max(r)"  # noqa: S608
            f" FROM {_ROWS}"
        ).fetchone()
        state = hashlib.sha256(repr((int(total), *found)).encode()).hexdigest()
        return Survey(int(found[0]), int(found[1]), int(total), state)

    def erase(self, ids: Set[str]) -> Erased:
        return self._erase(ids, None)

    def erase_checked(self, ids: Set[str], state: str) -> Erased:
        """Erase, the state checked in the DELETE's own transaction (under
        its write lock): a target changed since the plan is left as it is
        and TargetChanged raised."""
        return self._erase(ids, state)

    def stage(self, ids: Set[str], state: str) -> Staged:
        """The checked erase, its transaction left open (see `Staged`):
        the target's write lock is held until it is committed or rolled
        back."""
        return self._staged(ids, state)

    def stage_listed(self, listed: str, state: str) -> Staged:
        """`stage`, the ids given as a JSON array (a store's json_group_array
        of them goes to json_each as it is)."""
        return self._staged(frozenset(), state, listed)

    def _erase(self, ids: Set[str], state: str | None) -> Erased:
        return self._staged(ids, state).commit()

    def _staged(
        self, ids: Set[str], state: str | None, listed: str | None = None
    ) -> _Staged:
        db = self._connect()
        try:
            with self._refusing():
                db.execute("PRAGMA main.secure_delete=ON")
                db.execute("BEGIN IMMEDIATE")
                try:
                    removed = self._delete(db, ids, state, listed)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except BaseException:
            db.close()
            raise
        return _Staged(self, db, removed)

    def _delete(
        self,
        db: sqlite3.Connection,
        ids: Set[str],
        state: str | None,
        listed: str | None = None,
    ) -> int:
        self._load(db, ids, listed)
        table = f"main.{quoted(self.table)}"
        if state is None:
            where = self._where()
        elif self._survey(db).state != state:
            raise TargetChanged(self.label)
        else:
            # The rows surveyed, under the same write lock: by rowid.
            where = f"rowid IN (SELECT r FROM {_ROWS})"  # noqa: S608
        cursor = db.execute(f"DELETE FROM {table} WHERE {where}")  # noqa: S608
        db.execute(f"DROP TABLE {_IDS}")
        db.execute(f"DROP TABLE IF EXISTS {_ROWS}")
        return int(cursor.rowcount)

    def _checkpoint(self, db: sqlite3.Connection) -> tuple[str, ...]:
        (mode,) = db.execute("PRAGMA main.journal_mode").fetchone()
        if str(mode).lower() != "wal":
            return ()
        busy, _, _ = db.execute("PRAGMA main.wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            return (
                "the WAL could not be checkpointed (another connection reads"
                " the database): the removed rows stay in the -wal file until"
                " it is",
            )
        return ()

    def verify(self, ids: Set[str]) -> int:
        with self._open() as db:
            db.execute("BEGIN")
            self._load(db, ids)
            (left,) = db.execute(
                f"SELECT count(*) FROM main.{quoted(self.table)} WHERE {self._where()}"  # noqa: S608
            ).fetchone()
            db.execute("ROLLBACK")
        return int(left)

    def ids(self) -> Iterator[str]:
        with self._open() as db:
            column, table = quoted(self.id_column), quoted(self.table)
            query = f"SELECT DISTINCT {column} FROM main.{table}"  # noqa: S608
            values = [value for (value,) in db.execute(query)]
        for value in values:
            if value is not None:
                yield (
                    value.decode("utf-8", "replace")
                    if isinstance(value, bytes)
                    else str(value)
                )


class _Staged:
    """A SQLite erase done, its transaction open (see `Staged`)."""

    def __init__(self, eraser: SqliteEraser, db: sqlite3.Connection, removed: int):
        self._eraser = eraser
        self._db = db
        self.rows = removed

    def commit(self, committed: Callable[[], None] | None = None) -> Erased:
        try:
            with self._eraser._refusing():
                self._db.execute("COMMIT")
            if committed is not None:
                committed()
            with self._eraser._refusing(committed=True):
                notes = self._eraser._checkpoint(self._db)
        finally:
            # Closed uncommitted (a failed COMMIT), SQLite rolls back.
            self._db.close()
        return Erased(self.rows, notes)

    def rollback(self) -> None:
        try:
            with self._eraser._refusing():
                self._db.execute("ROLLBACK")
        finally:
            self._db.close()


# What an operator can do about SQLite's commonest refusals, by its result
# code (SQLite's message is never shown: it may quote the statement).
_REFUSALS = {
    "SQLITE_BUSY": "another program holds the database's write lock (more"
    f" than {_BUSY_MS // 1000} s); this target is as it was: run again once it"
    " is free",
    "SQLITE_LOCKED": "the table is locked by another statement; this target"
    " is as it was: run again once it is free",
    "SQLITE_READONLY": "the database is read-only here; this target is as it was",
    "SQLITE_FULL": "the disk is full; this target is as it was",
    "SQLITE_CORRUPT": "the database is damaged; this target is as it was",
}


def _refusal(error: sqlite3.DatabaseError) -> str:
    name = _code(error)
    # An extended code (SQLITE_BUSY_SNAPSHOT) reads as its primary one.
    primary = "_".join(name.split("_")[:2])
    reason = _REFUSALS.get(primary)
    if reason is None:
        return f"SQLite refused the removal ({name})"
    return f"SQLite refused the removal ({name}): {reason}"


def _after_commit(error: sqlite3.DatabaseError) -> str:
    return (
        f"SQLite refused the WAL checkpoint ({_code(error)}) after the removal"
        " was committed: the removed rows may stay in the -wal file until it"
        " is checkpointed; run again to finish"
    )


def _code(error: sqlite3.DatabaseError) -> str:
    return getattr(error, "sqlite_errorname", None) or type(error).__name__
