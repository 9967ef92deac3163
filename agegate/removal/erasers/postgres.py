"""The PostgreSQL eraser: one DELETE by account id in one transaction.

PostgreSQL keeps deleted tuples in the table's files until VACUUM reclaims
them, so every erase says that a VACUUM is due: the receipt carries it. The
ids travel as one JSON array, whatever their number; the id column is
compared as text, so an integer key matches the id the flag holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Set
from typing import Any

from ...errors import InputError
from ...flags.postgres import connection_problem, postgres_url
from ...urls import masked
from .base import Erased, Survey, quoted

__all__ = ["VACUUM_DUE", "PostgresEraser"]

VACUUM_DUE = (
    "PostgreSQL keeps deleted rows on disk until VACUUM: run VACUUM on the"
    " table (VACUUM FULL to give the space back) to remove their bytes"
)


def _table_name(table: str) -> str:
    return ".".join(quoted(part) for part in table.split(".", 1))


class PostgresEraser:
    def __init__(self, url: str, table: str, id_column: str) -> None:
        self.url = url
        self.table = table
        self.id_column = id_column
        self.label = f"{masked(url)}:{table}"
        self._from = _table_name(table)
        self._where = (
            f"{quoted(id_column)}::text IN"
            " (SELECT jsonb_array_elements_text($1::jsonb))"
        )

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi as adbc

        try:
            db = adbc.connect(postgres_url(self.url))
        except adbc_driver_manager.Error as error:
            why = connection_problem(str(error))
            raise InputError(
                f"cannot connect to PostgreSQL: {why}", where=self.label
            ) from None
        try:
            with db.cursor() as cursor:
                self._check(cursor)
                yield cursor
            db.commit()
        except adbc_driver_manager.Error as error:
            state = getattr(error, "sqlstate", None) or "unknown"
            raise InputError(
                f"PostgreSQL refused the removal (SQLSTATE {state})", where=self.label
            ) from None
        finally:
            with contextlib.suppress(Exception):
                db.rollback()
            db.close()

    def _check(self, cursor: Any) -> None:
        cursor.execute(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1)"
            " AND attnum > 0 AND NOT attisdropped",
            (self._from,),
        )
        columns = [row[0] for row in cursor.fetchall()]
        if not columns:
            raise InputError("no such table", where=self.label)
        if self.id_column not in columns:
            raise InputError(
                f"the table has no column {self.id_column}", where=self.label
            )

    def plan(self, ids: Set[str]) -> Survey:
        wanted = json.dumps(sorted(ids))
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(DISTINCT "  # noqa: S608 - quoted names
                f"{quoted(self.id_column)}::text),"
                " coalesce(string_agg(md5(t::text), ',' ORDER BY md5(t::text)), '')"
                f" FROM {self._from} AS t WHERE {self._where}",
                (wanted,),
            )
            rows, accounts, rows_digest = cursor.fetchone()
            cursor.execute(f"SELECT count(*) FROM {self._from}")  # noqa: S608
            (total,) = cursor.fetchone()
        state = hashlib.sha256(f"total {total}\n{rows_digest}".encode()).hexdigest()
        return Survey(int(rows), int(accounts), int(total), state)

    def erase(self, ids: Set[str]) -> Erased:
        with self._cursor() as cursor:
            cursor.execute(
                f"WITH gone AS (DELETE FROM {self._from} WHERE {self._where}"  # noqa: S608
                " RETURNING 1) SELECT count(*) FROM gone",
                (json.dumps(sorted(ids)),),
            )
            (removed,) = cursor.fetchone()
        return Erased(int(removed), (VACUUM_DUE,) if removed else ())

    def verify(self, ids: Set[str]) -> int:
        with self._cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {self._from} WHERE {self._where}",  # noqa: S608
                (json.dumps(sorted(ids)),),
            )
            (left,) = cursor.fetchone()
        return int(left)

    def ids(self) -> Iterator[str]:
        with self._cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT {quoted(self.id_column)}::text FROM {self._from}"  # noqa: S608
                f" WHERE {quoted(self.id_column)} IS NOT NULL"
            )
            values = [row[0] for row in cursor.fetchall()]
        return iter(values)
