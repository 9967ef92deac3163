"""The columnar engine's reading of a batch's columns: which column holds
each field, and each row's birthdate and collection date as yyyymmdd
integers.

numpy reads the dates a pattern takes (`dates`); what it leaves, Python
reads once per distinct text, as the row engine would (`read()` for a
birthdate, `collection_date` for a collection timestamp). A value the row
engine would take differently (a birthdate that is not one exact date, a
collected_at that raises) becomes `ODD`: that row goes to the row engine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..birthdate import Birth
from ..policy import FieldMap
from ..rules import Rules
from ..screen import read
from . import dates
from .batches import is_text
from .reviewer import (
    SPREADSHEET_FIELDS,
    CollectedAtInvalid,
    ReviewSettings,
    collection_date,
)

Columns = dict[str, pa.Array | None]
_IDENTITY = FieldMap()
_OTHER_BIRTH_FIELDS = ("birth_year", "birth_month", "birth_day", "age")
# Caches are cleared past this many entries: memory stays bounded.
CACHE_LIMIT = 200_000
# Collection dates and birthdates as integers: yyyymmdd, or these.
ABSENT, INVALID, ODD = -1, dates.LATE, -3
_UNUSUAL = object()
_MISS = object()


class Cache(dict[Any, Any]):
    """A memo that starts again past `CACHE_LIMIT` entries."""

    def get_or(self, key: Any, compute: Callable[[Any], Any]) -> Any:
        found = self.get(key, _MISS)
        if found is not _MISS:
            return found
        if len(self) >= CACHE_LIMIT:
            self.clear()
        value = self[key] = compute(key)
        return value


def yyyymmdd(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def ages_on(on: Any, born: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`age.age_on` of yyyymmdd integers, for whole arrays: the year's
    difference less one before the birthday is the difference of the
    integers floored to 10000s (a 29 February birthday is reached on 1 March,
    0229 > 0228), and negative before birth, as `age_on`."""
    found: np.ndarray[Any, Any] = np.floor_divide(
        np.asarray(on, dtype=np.int64) - born, 10000
    )
    return found


def by_field(
    records: pa.RecordBatch,
    keys: dict[str, tuple[str, ...]],
    heads: frozenset[str] = frozenset(),
) -> Columns | None:
    """The column of each field (None: absent), without a spreadsheet's
    leading apostrophes where `Reviewer.unquoted` takes them off; or None
    when the row engine reads the batch: a mapped column is not text, or a
    dotted key could reach into a column of objects (`heads`: the column
    each dotted key's path would start in)."""
    names = set(records.schema.names)
    if not all(head not in names or is_text(records.column(head)) for head in heads):
        return None
    found: Columns = {}
    for field, field_keys in keys.items():
        if not field_keys or field_keys[0] not in names:
            found[field] = None
            continue
        column = records.column(field_keys[0])
        if not is_text(column):
            return None
        found[field] = _unquoted(column) if field in SPREADSHEET_FIELDS else column
    return found


def _unquoted(column: pa.Array) -> pa.Array:
    """The column without a spreadsheet's leading apostrophes, as
    `Reviewer.unquoted` takes them off."""
    marked = pc.starts_with(column, "'")
    if not pc.any(marked).as_py():
        return column
    return pc.if_else(marked, pc.utf8_ltrim(column, characters="'"), column)


def encoded(
    column: pa.Array | None, rows: int
) -> tuple[np.ndarray[Any, Any], list[Any]]:
    """Per row, the index of its value in the list of distinct values."""
    if column is None:
        return np.zeros(rows, dtype=np.int64), [None]
    found = pc.dictionary_encode(column, null_encoding="encode")
    codes = found.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, found.dictionary.to_pylist()


def other_births(columns: Columns, rows: int) -> np.ndarray[Any, Any]:
    """Rows with a birth field besides birthdate (a blank value is no
    value, to read() as to the fingerprint)."""
    found = np.zeros(rows, dtype=bool)
    for field in _OTHER_BIRTH_FIELDS:
        column = columns[field]
        if column is None:
            continue
        some = pc.fill_null(pc.greater(pc.binary_length(column), 0), False)
        at = np.flatnonzero(some.to_numpy(zero_copy_only=False))
        texts = column.take(pa.array(at)).to_pylist()
        found[[i for i, t in zip(at.tolist(), texts, strict=True) if t.strip()]] = True
    return found


class DateColumns:
    """Reads the birthdate and collected_at columns; one per engine, with
    its caches of the values Python read."""

    def __init__(self, settings: ReviewSettings, rules: Rules) -> None:
        self.settings = settings
        self.rules = rules
        self._today = settings.today
        self._today_int = yyyymmdd(settings.today)
        self._births = Cache()
        self._collected = Cache()

    def births(self, column: pa.Array | None, rows: int) -> np.ndarray[Any, Any]:
        """Per row, its birthdate (yyyymmdd), ABSENT, INVALID or ODD."""
        return _per_value(column, dates.birth_array, rows, self._births, self._birth)

    def collections(self, column: pa.Array | None, rows: int) -> np.ndarray[Any, Any]:
        """Per row, its collection date (yyyymmdd), ABSENT, INVALID or ODD."""
        return _per_value(
            column, self._collection_array, rows, self._collected, self._collection
        )

    def _collection_array(self, texts: pa.Array) -> pa.Array | None:
        epochs = not self.settings.collected_formats
        return dates.collection_array(texts, self._today_int, epochs)

    def _birth(self, text: Any) -> Any:
        """yyyymmdd of a birthdate `read()` takes as one exact date."""
        reading = read(
            {"birthdate": text},
            policy=self.settings.policy,
            fields=_IDENTITY,
            rules=self.rules,
        )
        births = reading.births
        if (
            reading.problems
            or reading.parts_conflict
            or reading.birth_unread
            or len(births) != 1
        ):
            return _UNUSUAL
        key, birth = births[0]
        if key != "birthdate" or birth != Birth(born=birth.born) or birth.born is None:
            return _UNUSUAL
        return yyyymmdd(birth.born)

    def _collection(self, value: Any) -> Any:
        """A date (yyyymmdd), or "absent", or "invalid", as
        `Reviewer._collection` finds."""
        if value is None:
            return "absent"
        text = value.strip()
        if not text:
            return "absent"
        try:
            formats = self.settings.collected_formats
            return yyyymmdd(collection_date(text, self._today, formats))
        except CollectedAtInvalid:
            return "invalid"
        except Exception:  # the row engine reports such a row itself
            return _UNUSUAL


def _code(value: Any) -> int:
    """A birthdate or collection date found by the caches, as an integer."""
    if value is _UNUSUAL:
        return ODD
    if value == "absent":
        return ABSENT
    if value == "invalid":
        return INVALID
    return int(value)


def _per_value(
    texts: pa.Array | None,
    vectorised: Callable[[pa.Array], pa.Array | None],
    rows: int,
    cache: Cache,
    compute: Callable[[Any], Any],
) -> np.ndarray[Any, Any]:
    """Per row, the int64 pyarrow finds, else what `compute` finds once
    per distinct value (encoded by `_code`)."""
    found = vectorised(texts) if texts is not None else None
    if found is None:
        values = np.zeros(rows, dtype=np.int64)
        missing = np.arange(rows)
    else:
        values = found.fill_null(0).to_numpy(zero_copy_only=False).copy()
        missing = np.flatnonzero(found.is_null().to_numpy(zero_copy_only=False))
    if not len(missing):
        return values
    if texts is None:
        values[missing] = _code(cache.get_or(None, compute))
        return values
    distinct = pc.dictionary_encode(
        texts.take(pa.array(missing)), null_encoding="encode"
    )
    each = np.array(
        [_code(cache.get_or(v, compute)) for v in distinct.dictionary.to_pylist()],
        dtype=np.int64,
    )
    values[missing] = each[distinct.indices.to_numpy(zero_copy_only=False)]
    return values
