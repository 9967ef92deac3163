"""The Spark door: review a DataFrame of accounts where it lives.

`review()` screens every partition with the columnar engine
(`screen_record_batch`) through `DataFrame.mapInArrow`: Spark hands each
Python worker Arrow record batches of the mapped columns, and gets the flags
back as Arrow record batches, so no per-row Python object crosses the JVM
boundary. Any source Spark reads (Parquet, Delta, JDBC, a warehouse) can be
reviewed this way.

pyspark is an optional extra (`agegate[spark]`): only this package imports
it, and nothing in the core or the other doors imports this package.
"""

from __future__ import annotations

import collections
import functools
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from ..policy import FIELDS, FieldMap, Policy
from ..review.batches import AccountBatch
from ..review.columnar import ColumnarReviewer, Screened
from ..review.reviewer import ReviewSettings
from ..rules import Rules

__all__ = ["FLAG_SCHEMA", "TALLY_SCHEMA", "Tally", "review", "tally"]

# The columns of `--flags-out`, typed for Spark.
FLAG_SCHEMA = T.StructType(
    [
        T.StructField("account_id", T.StringType(), False),
        T.StructField("codes", T.ArrayType(T.StringType(), False), False),
        T.StructField("action", T.StringType(), False),
        T.StructField("jurisdiction", T.StringType(), True),
        T.StructField("required_age", T.IntegerType(), True),
        T.StructField("source", T.StringType(), False),
        T.StructField("raised_at", T.TimestampType(), False),
        T.StructField("line", T.LongType(), True),
        T.StructField("rowid", T.LongType(), True),
        T.StructField("report_id", T.StringType(), True),
    ]
)
# One row per partition: what `tally()` adds up.
TALLY_SCHEMA = T.StructType(
    [
        T.StructField("rows_screened", T.LongType(), False),
        T.StructField("rows_unreadable", T.LongType(), False),
        T.StructField("by_code", T.MapType(T.StringType(), T.LongType()), False),
    ]
)
_ARROW_FLAGS = pa.schema(
    [
        ("account_id", pa.string()),
        ("codes", pa.list_(pa.string())),
        ("action", pa.string()),
        ("jurisdiction", pa.string()),
        ("required_age", pa.int32()),
        ("source", pa.string()),
        ("raised_at", pa.timestamp("us", tz="UTC")),
        ("line", pa.int64()),
        ("rowid", pa.int64()),
        ("report_id", pa.string()),
    ]
)
_ARROW_TALLY = pa.schema(
    [
        ("rows_screened", pa.int64()),
        ("rows_unreadable", pa.int64()),
        ("by_code", pa.map_(pa.string(), pa.int64())),
    ]
)
_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
# The key column travels under this name, apart from any mapped column.
_ROWID = "__agegate_rowid__"
# Column names listed in an error about the column map.
_COLUMNS_LISTED = 20


@attrs.frozen
class Tally:
    """The rows of a review: read = screened + unreadable."""

    rows_screened: int
    rows_unreadable: int
    by_code: dict[str, int]

    @property
    def rows_read(self) -> int:
        return self.rows_screened + self.rows_unreadable


@attrs.frozen
class _Shipment:
    """What every task needs, pickled into the task once: the settings
    (screening date, key, field map, policy) and either nothing more (each
    Python worker loads the packaged tables once) or a Spark broadcast of
    the caller's Rules, sent to each executor once, not with every task."""

    settings: ReviewSettings
    raised_at: datetime
    key: str | None
    rules: Any  # pyspark Broadcast[Rules] | None
    # Names this review: a reused Python worker keeps its engine (and its
    # caches) from one task of the review to the next.
    token: str = attrs.field(factory=lambda: uuid.uuid4().hex)


_ENGINES: dict[str, ColumnarReviewer] = {}


def _engine(shipment: _Shipment) -> ColumnarReviewer:
    found = _ENGINES.get(shipment.token)
    if found is None:
        _ENGINES.clear()  # one review at a time per worker: memory stays bounded
        rules = shipment.rules.value if shipment.rules is not None else None
        # Spark's flags carry no fingerprint, and nothing is cleared.
        found = _ENGINES[shipment.token] = ColumnarReviewer(
            shipment.settings, rules, fingerprints=False, keep_clean=False
        )
    return found


def _screen(shipment: _Shipment, records: pa.RecordBatch) -> Screened:
    rowids: tuple[int | None, ...] | None = None
    if shipment.key is not None:
        rowids = tuple(records.column(_ROWID).to_pylist())
        records = records.drop_columns([_ROWID])
    # A DataFrame has no lines: rows are numbered within the batch only, for
    # the engine's bookkeeping; no flag carries these numbers.
    lines = tuple(range(1, records.num_rows + 1))
    return _engine(shipment).screen(AccountBatch(records, lines, rowids))


def _flags(shipment: _Shipment, batches: Iterator[pa.RecordBatch]) -> Iterator[Any]:
    for records in batches:
        found = _screen(shipment, records).flags
        count = found.num_rows
        rowids = (
            found.column("rowid")
            if shipment.key is not None
            else pa.nulls(count, pa.int64())
        )
        yield pa.RecordBatch.from_arrays(
            [
                found.column("account_id"),
                found.column("codes"),
                found.column("action"),
                found.column("jurisdiction"),
                found.column("required_age"),
                found.column("source"),
                pa.array([shipment.raised_at] * count, pa.timestamp("us", tz="UTC")),
                pa.nulls(count, pa.int64()),
                rowids,
                pa.nulls(count, pa.string()),
            ],
            schema=_ARROW_FLAGS,
        )


def _counts(shipment: _Shipment, batches: Iterator[pa.RecordBatch]) -> Iterator[Any]:
    screened = unreadable = 0
    by_code: collections.Counter[str] = collections.Counter()
    for records in batches:
        done = _screen(shipment, records)
        screened += done.rows_screened
        unreadable += done.rows_unreadable
        by_code.update(done.by_code)
    yield pa.RecordBatch.from_pylist(
        [
            {
                "rows_screened": screened,
                "rows_unreadable": unreadable,
                "by_code": sorted(by_code.items()),
            }
        ],
        schema=_ARROW_TALLY,
    )


def review(
    df: DataFrame,
    *,
    today: date,
    fields: FieldMap | None = None,
    policy: Policy | None = None,
    secret: str | bytes | None = None,
    rules: Rules | None = None,
    key: str | None = None,
    collected_formats: Sequence[str] = (),
) -> DataFrame:
    """The flags of every account in `df`, as a DataFrame with the columns
    of `agegate review --flags-out` (`FLAG_SCHEMA`); lazy, like any
    transformation.

    Each partition is screened by the columnar engine in Arrow record
    batches (`mapInArrow`): only the mapped columns leave the JVM, and only
    flags come back. The settings (date, key, field map, policy) travel as
    one small picklable object with each task; custom `rules` are sent with
    an explicit Spark broadcast, once per executor, and without them each
    Python worker loads the packaged tables once.

    `secret` keys the hashes that name accounts without an id (give the
    flag store's to match its ids); without it a fresh key is drawn once
    for this review. A DataFrame has no lines: `key` names an integer column
    (a primary key) whose value becomes each flag's `rowid`; without it
    flags carry neither. Every flag has the review's start as `raised_at`.
    A column the field map names explicitly but `df` lacks is a ValueError.
    `collected_formats` are `agegate review --collected-format`'s.
    """
    shipment, columns = _prepare(
        df, today, fields, policy, secret, rules, key, collected_formats
    )
    task = functools.partial(_flags, shipment)
    return df.select(*columns).mapInArrow(task, FLAG_SCHEMA)


def tally(
    df: DataFrame,
    *,
    today: date,
    fields: FieldMap | None = None,
    policy: Policy | None = None,
    secret: str | bytes | None = None,
    rules: Rules | None = None,
    collected_formats: Sequence[str] = (),
) -> Tally:
    """Count the rows of `df` as `review()` screens them (read, screened,
    unreadable) and the flags by code. This is an action: it screens `df`
    once more, and counts each row exactly once whatever tasks Spark
    retries, which an accumulator updated inside `review()` would not."""
    shipment, columns = _prepare(
        df, today, fields, policy, secret, rules, None, collected_formats
    )
    task = functools.partial(_counts, shipment)
    screened = unreadable = 0
    by_code: collections.Counter[str] = collections.Counter()
    for row in df.select(*columns).mapInArrow(task, TALLY_SCHEMA).collect():
        screened += row["rows_screened"]
        unreadable += row["rows_unreadable"]
        by_code.update(row["by_code"])
    return Tally(screened, unreadable, dict(sorted(by_code.items())))


def _prepare(
    df: DataFrame,
    today: date,
    fields: FieldMap | None,
    policy: Policy | None,
    secret: str | bytes | None,
    rules: Rules | None,
    key: str | None,
    collected_formats: Sequence[str],
) -> tuple[_Shipment, list[Any]]:
    fields = fields if fields is not None else FieldMap()
    settings = ReviewSettings(
        today=today,
        secret=secret if secret is not None else os.urandom(32),
        fields=fields,
        policy=policy if policy is not None else Policy(),
        locator="rowid" if key is not None else "line",
        collected_formats=tuple(collected_formats),
    )
    columns = _columns(df, fields, key)
    shipped = None
    if rules is not None:
        shipped = df.sparkSession.sparkContext.broadcast(rules)
    shipment = _Shipment(settings, datetime.now(UTC), key, shipped)
    return shipment, columns


def _columns(df: DataFrame, fields: FieldMap, key: str | None) -> list[Any]:
    """The columns the engine reads (a dotted key's top-level struct), the
    key cast to a long; a ValueError for a column named but missing."""
    present = set(df.columns)
    wanted: dict[str, None] = {}
    for field in FIELDS:
        for name in fields.keys_of(field):
            top = name if name in present else name.split(".")[0]
            if top in present:
                wanted[top] = None
            elif name != field:
                raise ValueError(
                    f"{field}={name}: no such column; columns: {_listed(df.columns)}"
                )
    if not wanted:
        raise ValueError(
            f"no column of the field map is in the DataFrame; columns: "
            f"{_listed(df.columns)}"
        )
    columns: list[Any] = [df[f"`{name}`"] for name in wanted]
    if key is not None:
        columns.append(_key_column(df, key))
    return columns


def _key_column(df: DataFrame, key: str) -> Any:
    if key not in df.columns:
        raise ValueError(f"key {key}: no such column; columns: {_listed(df.columns)}")
    if not isinstance(df.schema[key].dataType, _INTEGRAL):
        raise ValueError(f"key {key}: not an integer column")
    return df[f"`{key}`"].cast(T.LongType()).alias(_ROWID)


def _listed(columns: list[str]) -> str:
    shown = ", ".join(columns[:_COLUMNS_LISTED])
    if len(columns) > _COLUMNS_LISTED:
        shown += f", ... ({len(columns)} in all)"
    return shown
