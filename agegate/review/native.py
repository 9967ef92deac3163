"""Arrow columns of native types read as the text a text export holds, so
that a Parquet file (or any record batch) is screened as its CSV export is.

What pandas, Spark and database exports write:

* dates (`date32`, `date64`): `YYYY-MM-DD`;
* timestamps of any unit, floored to the second: with a time zone, the UTC
  instant `YYYY-MM-DDTHH:MM:SSZ` (a collection time then counts as its date
  at UTC-12, as its text does); without one, the wall time as written,
  `YYYY-MM-DDTHH:MM:SS`, or the bare date `YYYY-MM-DD` at midnight (what a
  date becomes in a pandas `datetime64` column: one calendar date, whichever
  field reads it). These are the texts the PostgreSQL reader gives;
* integers of any width: decimal text, as `str()` writes them (a declared
  age or a birth year);
* `string_view` and dictionary-encoded text (a pandas category): plain text;
  `large_string` and a column of nulls only stay as they are.

Any other type (floating point, booleans, decimals, bytes, times,
durations, nested values) is not read: `unsupported` names it, and a review
refuses an input whose mapped column has one before the first row.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

_TEXT_KEPT = (pa.string(), pa.large_string())
# `YYYY-MM-DD HH:MM:SS`, as pyarrow casts a timestamp in seconds to text.
_WALL_TIME = 19
# What a timestamp outside years 0-9999 reads as: no date, so invalid.
_OUT_OF_RANGE = "out of range"


def readable(kind: pa.DataType) -> bool:
    """Whether a column of this type is read (as text, by `as_text`)."""
    if pa.types.is_dictionary(kind):
        return readable(kind.value_type)
    return bool(
        kind in _TEXT_KEPT
        or pa.types.is_string_view(kind)
        or pa.types.is_null(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_date(kind)
        or pa.types.is_timestamp(kind)
    )


def unsupported(schema: pa.Schema, keys: Iterable[str]) -> tuple[str, str] | None:
    """The first of `keys` that names a column no review reads, and its
    type as Arrow writes it; None when every such column is read."""
    names = set(schema.names)
    for key in keys:
        if key in names:
            kind = schema.field(key).type
            if not readable(kind):
                return key, str(kind)
    return None


def as_text(column: pa.Array) -> pa.Array:
    """The column as text, where its type is `readable`; else unchanged."""
    kind = column.type
    # A column of nulls stays one: a batch gathered from a reader's rows
    # holds one where its values are not all text (JSON numbers), and the
    # row engine then reads them from the rows.
    if kind in _TEXT_KEPT or pa.types.is_null(kind) or not readable(kind):
        return column
    if pa.types.is_dictionary(kind):
        return as_text(column.dictionary_decode())
    if pa.types.is_timestamp(kind):
        return _timestamps(column)
    return column.cast(pa.string())


def batch_as_text(
    records: pa.RecordBatch, names: Iterable[str] | None = None
) -> pa.RecordBatch:
    """The batch with its columns (those of `names` only, when given) as
    text; the same batch when none needs converting."""
    wanted = set(records.schema.names if names is None else names)
    columns = list(records.columns)
    changed = False
    for index, name in enumerate(records.schema.names):
        if name in wanted and columns[index].type not in _TEXT_KEPT:
            converted = as_text(columns[index])
            changed = changed or converted is not columns[index]
            columns[index] = converted
    if not changed:
        return records
    return pa.RecordBatch.from_arrays(columns, names=records.schema.names)


def _timestamps(column: pa.Array) -> pa.Array:
    """Timestamps as text (see the module's doc): the instant in UTC, or
    the wall time, floored to the second (never into the next day)."""
    kind = column.type
    # A cast to no zone keeps the UTC instant a zoned timestamp stores.
    wall = column.cast(pa.timestamp(kind.unit)) if kind.tz is not None else column
    seconds = pc.floor_temporal(wall, unit="second").cast(pa.timestamp("s"))
    text = seconds.cast(pa.string())
    shaped = pc.equal(pc.utf8_length(text), _WALL_TIME)
    iso = pc.utf8_replace_slice(text, start=10, stop=11, replacement="T")
    if kind.tz is not None:
        iso = pc.binary_join_element_wise(iso, pa.scalar("Z"), "")
    else:
        midnight = pc.equal(wall, pc.floor_temporal(wall, unit="day"))
        iso = pc.if_else(midnight, pc.utf8_slice_codeunits(text, 0, 10), iso)
    return pc.if_else(shaped, iso, pa.scalar(_OUT_OF_RANGE, pa.string()))
