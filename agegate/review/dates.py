"""Birthdates and collection timestamps of a whole column, as yyyymmdd
integers, by pyarrow, for the shapes whose reading is plain arithmetic.

Each function decides only text of one exact shape and leaves every other
value (None) to the reading the row engine does (`screen.read`,
`reviewer.collection_date`):

* a birthdate `YYYY-MM-DD` that is a real date of year 1 or later: the date
  `date.fromisoformat` gives (`parse_date` takes ISO first, whatever the
  formats);
* a collected_at `YYYY-MM-DD` (a real date of year 1 or later) or `YYYY-MM-DDTHH:MM:SS`
  followed by `Z` or an offset `±HH:MM` (hours 0-23, minutes 0-59; `T` or a
  space): the date at UTC-12 of that instant, as `live_today` finds it; a
  date after today is "invalid". Years 1 and 9999, where Python's datetime
  overflows on the way, are left alone.

A real date is one pyarrow's strptime reads back to the same year, month and
day (it carries 30 February into March).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_STAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_FILLER = "2000-01-01T00:00:00Z"
_DAY_MINUTES = 1440
# Minutes from the instant to UTC-12: 12 hours.
_EARLIEST = 720
_TEXT = (pa.string(), pa.large_string())
# A collection date after today ("invalid"), in `collection_array`.
LATE = -2


def birth_days(texts: pa.Array) -> list[int | None] | None:
    """yyyymmdd of each ISO birthdate; None where not that shape."""
    found = birth_array(texts)
    return None if found is None else found.to_pylist()


def birth_array(texts: pa.Array) -> pa.Array | None:
    """`birth_days` as an int64 array (null where not that shape)."""
    if texts.type not in _TEXT:
        return None
    shaped = pc.fill_null(pc.match_substring_regex(texts, _DATE), False)
    if not pc.any(shaped).as_py():
        return None
    safe = pc.if_else(shaped, texts, _FILLER[:10])
    day, valid = _real_date(safe)
    valid = pc.and_(pc.and_(valid, shaped), pc.greater_equal(_part(safe, 0, 4), 1))
    return pc.cast(pc.if_else(valid, _yyyymmdd(day), None), pa.int64())


def collection_days(texts: pa.Array, today: int) -> list[Any] | None:
    """yyyymmdd of each collection date, "invalid" for one after `today`
    (yyyymmdd), None where not one of the shapes."""
    found = collection_array(texts, today)
    if found is None:
        return None
    return ["invalid" if value == LATE else value for value in found.to_pylist()]


def collection_array(texts: pa.Array, today: int) -> pa.Array | None:
    """`collection_days` as an int64 array: `LATE` for "invalid", null
    where not one of the shapes."""
    if texts.type not in _TEXT:
        return None
    bare = pc.fill_null(pc.match_substring_regex(texts, _DATE), False)
    stamp = pc.fill_null(pc.match_substring_regex(texts, _STAMP), False)
    if not pc.any(pc.or_(bare, stamp)).as_py():
        return None
    noon = pc.binary_join_element_wise(texts, "T12:00:00+00:00", "")
    safe = pc.replace_substring(
        pc.if_else(stamp, texts, pc.if_else(bare, noon, _FILLER)), "Z", "+00:00"
    )
    day, valid = _real_date(pc.utf8_slice_codeunits(safe, 0, 10))
    year = _part(safe, 0, 4)
    inner = pc.and_(pc.greater(year, 1), pc.less(year, 9999))
    real = pc.and_(bare, pc.greater_equal(year, 1))
    valid = pc.and_(valid, pc.or_(real, pc.and_(stamp, inner)))
    shifted = pc.add(day, pc.if_else(bare, 0, _shift(safe)))
    found = pc.cast(_yyyymmdd(shifted), pa.int64())
    dated = pc.if_else(pc.greater(found, today), LATE, found)
    return pc.if_else(valid, dated, None)


def _part(texts: pa.Array, start: int, stop: int) -> pa.Array:
    return pc.cast(pc.utf8_slice_codeunits(texts, start, stop), pa.int32())


def _real_date(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Days since 1970 of `YYYY-MM-DD` texts, and whether each is a real
    date (strptime reads back its own year, month and day)."""
    parsed = pc.strptime(texts, format="%Y-%m-%d", unit="s", error_is_null=True)
    same = pc.and_(
        pc.and_(
            pc.equal(pc.year(parsed), _part(texts, 0, 4)),
            pc.equal(pc.month(parsed), _part(texts, 5, 7)),
        ),
        pc.equal(pc.day(parsed), _part(texts, 8, 10)),
    )
    days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32())
    return days, pc.fill_null(same, False)


def _shift(texts: pa.Array) -> pa.Array:
    """Days the date moves at UTC-12: the time less the offset (`Z` written
    +00:00) less 12 hours, floored to whole days (kept positive by two days
    before dividing)."""
    minutes = pc.add(pc.multiply(_part(texts, 11, 13), 60), _part(texts, 14, 16))
    offset = pc.add(pc.multiply(_part(texts, 20, 22), 60), _part(texts, 23, 25))
    west = pc.equal(pc.utf8_slice_codeunits(texts, 19, 20), "-")
    signed = pc.if_else(west, pc.negate(offset), offset)
    local = pc.subtract(pc.subtract(minutes, signed), _EARLIEST)
    return pc.subtract(pc.divide(pc.add(local, 2 * _DAY_MINUTES), _DAY_MINUTES), 2)


def _yyyymmdd(days: pa.Array) -> pa.Array:
    day = pc.cast(pc.cast(days, pa.int32()), pa.date32())
    return pc.add(
        pc.add(pc.multiply(pc.year(day), 10000), pc.multiply(pc.month(day), 100)),
        pc.day(day),
    )
