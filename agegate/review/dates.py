"""Birthdates and collection timestamps of a whole column, as yyyymmdd
integers, for the shapes whose reading is plain arithmetic.

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

Each shape has a fixed length in bytes (10, 20 or 25), so the values of that
length are read as a matrix of bytes, one column per value, and checked and
summed with integer arithmetic in numpy: a value whose bytes are ASCII digits
and separators where the shape has them is exactly a value the shape's
regular expression matches. A real date has a month of 1-12 and a day
within that month of the proleptic Gregorian calendar.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# uint8, int32 and bool arrays (numpy's stubs lose the dtypes on the way).
Bytes: TypeAlias = np.ndarray[Any, Any]
Ints: TypeAlias = np.ndarray[Any, Any]
Flags: TypeAlias = np.ndarray[Any, Any]

_TEXT = (pa.string(), pa.large_string())
# A collection date after today ("invalid"), in `collection_array`.
LATE = -2

_BARE, _ZULU, _OFFSET = 10, 20, 25
_T, _SPACE, _Z, _PLUS, _MINUS = b"T Z+-"
# What each byte of `YYYY-MM-DDTHH:MM:SS+HH:MM` may be: from the first byte
# given to that byte plus the span ("0"-"9", or the separator itself). The
# bytes that may be one of two (`T`/space, `+`/`-`) and the `Z` that ends a
# 20-byte value are checked apart.
_PATTERN = b"0000-00-00T00:00:00+00:00"
_ANY = b"T+"
_LOW = np.array([0 if c in _ANY else c for c in _PATTERN], dtype=np.uint8)
_SPAN = np.array(
    [255 if c in _ANY else 9 if c == ord("0") else 0 for c in _PATTERN],
    dtype=np.uint8,
)
# Days of each month (month 0 and 13-99 have none), February of common years.
_MONTH_DAYS = np.zeros(100, dtype=np.int32)
_MONTH_DAYS[1:13] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
_DAY_MINUTES = 1440
# Minutes from the instant to UTC-12: 12 hours.
_EARLIEST = 720


def birth_days(texts: pa.Array) -> list[int | None] | None:
    """yyyymmdd of each ISO birthdate; None where not that shape."""
    found = birth_array(texts)
    return None if found is None else found.to_pylist()


def birth_array(texts: pa.Array) -> pa.Array | None:
    """`birth_days` as an int64 array (null where not that shape)."""
    column = _Column.of(texts)
    if column is None:
        return None
    rows, digits, shaped = column.rows(_BARE)
    if not shaped.any():
        return None
    date = _Date(digits)
    valid = shaped & date.real & (date.year >= 1)
    return column.result(rows[valid], _yyyymmdd(*date.parts)[valid])


def collection_days(texts: pa.Array, today: int) -> list[Any] | None:
    """yyyymmdd of each collection date, "invalid" for one after `today`
    (yyyymmdd), None where not one of the shapes."""
    found = collection_array(texts, today)
    if found is None:
        return None
    return ["invalid" if value == LATE else value for value in found.to_pylist()]


def collection_array(
    texts: pa.Array, today: int, epochs: bool = False
) -> pa.Array | None:
    """`collection_days` as an int64 array: `LATE` for "invalid", null
    where not one of the shapes. With `epochs`, exactly 10 or 13 ASCII
    digits are epoch seconds or milliseconds too (`collected`, read where
    no collection format is given)."""
    column = _Column.of(texts)
    if column is None:
        return None
    any_shaped = False
    rows: list[Ints] = []
    found: list[Ints] = []
    if epochs:
        at, day = _epochs(column.texts)
        any_shaped = bool(len(at))
        rows.append(at)
        found.append(day)
    for width in (_BARE, _ZULU, _OFFSET):
        at, digits, shaped = column.rows(width)
        if not shaped.any():
            continue
        any_shaped = True
        valid, day = _collected(digits, shaped)
        rows.append(at[valid])
        found.append(day[valid])
    if not any_shaped:
        return None
    day = np.concatenate(found)
    return column.result(np.concatenate(rows), np.where(day > today, LATE, day))


def _epochs(texts: pa.Array) -> tuple[Ints, Ints]:
    """The rows of 10 or 13 digits, and the yyyymmdd at UTC-12 of the epoch
    second or millisecond each writes (years 2001 to 2286)."""
    # Only texts of 10 or 13 bytes can match: the regex reads those alone.
    sizes = pc.binary_length(texts).fill_null(0).to_numpy(zero_copy_only=False)
    sized = np.flatnonzero((sizes == 10) | (sizes == 13))
    if not len(sized):
        return sized.astype(np.int32), np.zeros(0, dtype=np.int64)
    candidates = texts.take(pa.array(sized))
    shaped = pc.match_substring_regex(candidates, r"^(?:[0-9]{10}|[0-9]{13})$")
    found = shaped.fill_null(False).to_numpy(zero_copy_only=False)
    rows = sized[found]
    if not len(rows):
        return rows.astype(np.int32), np.zeros(0, dtype=np.int64)
    picked = candidates.filter(shaped.fill_null(False))
    numbers = pc.cast(picked, pa.int64()).to_numpy(zero_copy_only=False)
    lengths = pc.utf8_length(picked).to_numpy(zero_copy_only=False)
    seconds = np.where(lengths == 13, numbers // 1000, numbers)
    days = ((seconds - _EARLIEST * 60) // 86400).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    return rows.astype(np.int32), _yyyymmdd(year, month, day)


def _collected(digits: Bytes, shaped: Flags) -> tuple[Flags, Ints]:
    """Which values of one shape are decided, and their yyyymmdd at UTC-12."""
    date = _Date(digits)
    if len(digits) == _BARE:
        return shaped & date.real & (date.year >= 1), _yyyymmdd(*date.parts)
    hour, minute = _number(digits, 11, 13), _number(digits, 14, 16)
    shaped = shaped & (hour <= 23) & (minute <= 59) & (_number(digits, 17, 19) <= 59)
    # Minutes past the local midnight of the date at UTC-12: the time less
    # the offset less 12 hours (-2159 to 2158), floored to whole days.
    local = hour * 60 + minute - _EARLIEST
    if len(digits) == _OFFSET:
        hours, minutes = _number(digits, 20, 22), _number(digits, 23, 25)
        shaped &= (hours <= 23) & (minutes <= 59)
        offset = hours * 60 + minutes
        west = digits[19] == _MINUS
        local -= np.where(west, -offset, offset)
    valid = shaped & date.real & (date.year > 1) & (date.year < 9999)
    return valid, _yyyymmdd(*date.moved(local // _DAY_MINUTES))


def _number(digits: Bytes, start: int, stop: int) -> Ints:
    """The decimal number written by the digits from `start` to `stop`."""
    number: Ints = digits[start].astype(np.int32)
    for at in range(start + 1, stop):
        number = number * 10 + digits[at]
    return number


class _Date:
    """Year, month and day of `YYYY-MM-DD` digits (one column a value), and
    whether each is a real date."""

    def __init__(self, digits: Bytes) -> None:
        century, tail = _number(digits, 0, 2), _number(digits, 2, 4)
        self.year = century * 100 + tail
        self.month = _number(digits, 5, 7)
        self.day = _number(digits, 8, 10)
        # Divisible by 4, and not by 100 unless by 400: 100 is a multiple of 4.
        self.leap = ((tail & 3) == 0) & ((tail != 0) | ((century & 3) == 0))
        self.month_days = self._days_of(self.month)
        self.real = (self.day >= 1) & (self.day <= self.month_days)

    def _days_of(self, month: Ints) -> Ints:
        days: Ints = np.take(_MONTH_DAYS, month, mode="clip")
        days += self.leap & (month == 2)
        return days

    @property
    def parts(self) -> tuple[Ints, Ints, Ints]:
        return self.year, self.month, self.day

    def moved(self, shift: Ints) -> tuple[Ints, Ints, Ints]:
        """Year, month and day of the real dates `shift` days (-2 to 1)
        later; years stay within 1-9999 for years 2-9998."""
        day = self.day + shift
        under, over = day < 1, day > self.month_days
        january, december = self.month == 1, self.month == 12
        before = np.where(january, 12, self.month - 1)
        after = np.where(december, 1, self.month + 1)
        year = self.year - (under & january) + (over & december)
        month = np.where(under, before, np.where(over, after, self.month))
        # Back into the previous month: February of the same year, or December.
        day = np.where(under, day + self._days_of(before), np.where(over, 1, day))
        return year, month, day


def _yyyymmdd(year: Ints, month: Ints, day: Ints) -> Ints:
    found: Ints = year * 10000 + month * 100 + day
    return found


class _Column:
    """A string column's byte lengths and bytes, read through numpy."""

    def __init__(self, texts: pa.Array) -> None:
        self.texts = texts
        self.size = len(texts)
        self.lengths = np.diff(_offsets(texts))
        self.valid: Flags | None = (
            texts.is_valid().to_numpy(zero_copy_only=False)
            if texts.null_count
            else None
        )

    @classmethod
    def of(cls, texts: Any) -> _Column | None:
        if texts.type not in _TEXT:
            return None
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        return cls(texts)

    def rows(self, width: int) -> tuple[Ints, Bytes, Flags]:
        """The rows whose text is `width` bytes long; their bytes less each
        position's lowest allowed byte, one column a row; and whether each
        row's bytes are all allowed (see `_PATTERN`)."""
        fits = self.lengths == width
        if self.valid is not None:
            fits &= self.valid
        rows = np.flatnonzero(fits).astype(np.int32)
        if not len(rows):
            return rows, np.zeros((width, 0), dtype=np.uint8), np.zeros(0, np.bool_)
        texts = self.texts
        if len(rows) < self.size:
            # A filtered array holds its values back to back.
            texts = texts.filter(pa.array(fits))
        start = int(_offsets(texts)[0])
        block = np.frombuffer(texts.buffers()[2], dtype=np.uint8)
        block = block[start : start + len(rows) * width].reshape(len(rows), width)
        digits = np.ascontiguousarray(block.T) - _LOW[:width, None]
        shaped: Flags = ~np.any(digits > _SPAN[:width, None], axis=0)
        # _LOW is 0 where a byte may be one of two: `digits` holds the byte.
        if width > _BARE:
            shaped &= (digits[10] == _T) | (digits[10] == _SPACE)
        if width == _ZULU:
            shaped &= digits[19] == _Z
        if width == _OFFSET:
            shaped &= (digits[19] == _PLUS) | (digits[19] == _MINUS)
        return rows, digits, shaped

    def result(self, rows: Ints, values: Ints) -> pa.Array:
        """An int64 array of the column's length: `values` at `rows`, null
        elsewhere."""
        out = np.zeros(self.size, dtype=np.int64)
        out[rows] = values
        if len(rows) == self.size:  # every row decided: no nulls
            return pa.array(out, type=pa.int64())
        missing = np.ones(self.size, dtype=np.bool_)
        missing[rows] = False
        return pa.array(out, mask=missing, type=pa.int64())


def _offsets(texts: pa.Array) -> np.ndarray[Any, Any]:
    kind = np.int64 if texts.type == pa.large_string() else np.int32
    return np.frombuffer(
        texts.buffers()[1],
        dtype=kind,
        count=len(texts) + 1,
        offset=texts.offset * np.dtype(kind).itemsize,
    )
