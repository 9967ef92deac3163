"""The columnar review: a record batch of accounts in, its flags as Arrow arrays out.

It gives the flags `Reviewer` gives, row for row (fingerprints and lines
included), by running Python once per distinct value rather than once per
row. The work is split by what each part knows:

* `columns`: which column holds each field, and birthdate and collected_at
  as yyyymmdd integers (numpy where `dates` reads them, else once per
  distinct text);
* `places`: the place fields and the phone (`phones`, in numpy) as a
  signal: jurisdictions, problems, rules in force today;
* `rule_sets` and `decision_keys`: the rules in force at collection, the
  ages as `decide()` tells them apart, and one decision per distinct key,
  found by `Reviewer` (so by the core's `read()` and `decide()`);
* `flag_columns`: the flags of the rows a decision flags, each with its own
  id, fingerprint and line.

A row with anything unusual (a birthdate `read()` does not take as one exact
date, other birth fields, signals of more than one country, a value that
is not text, a collected_at that raises) is screened by `Reviewer` itself,
exactly as the row-at-a-time run would screen it. The row engine is
otherwise the reference: a differential test holds the two to identical
flags, counts and summaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from ..policy import SCREENED_FIELDS
from ..rules import Rules, load_rules
from . import native
from .batches import AccountBatch
from .columns import Columns, by_field
from .decision_keys import SLOW, Decisions, Template
from .flag_columns import (
    FLAG_SCHEMA,
    FlagBuilder,
    Screened,
    Slow,
    as_batch,
    code_counts,
)
from .flag_columns import flags_of as flags_of
from .readers import Row
from .reviewer import Batch, Reviewer, ReviewSettings, screen_batch

__all__ = [
    "FLAG_SCHEMA",
    "ColumnarReviewer",
    "Screened",
    "as_batch",
    "flags_of",
    "review_batches",
    "screen_record_batch",
]


class ColumnarReviewer:
    """Screens record batches; one per process, holding its caches."""

    def __init__(
        self,
        settings: ReviewSettings,
        rules: Rules | None = None,
        *,
        fingerprints: bool = True,
        keep_clean: bool = True,
    ) -> None:
        """`fingerprints`: sign every flag (a store needs them; without, only
        flags of accounts without an id are signed, for their derived id).
        `keep_clean`: list the ids screened clean (a store clears them)."""
        if settings.assurance is not None:
            # Assurance rows are judged by the row engine (`Reviewer`).
            raise ValueError("an assurance review runs on the row engine")
        self.settings = settings
        self.keep_clean = keep_clean
        self.rules = (
            rules if rules is not None else load_rules(settings.rules_directory)
        )
        self.rows = Reviewer(settings, self.rules)
        fields = settings.fields
        self._keys = {
            f: fields.keys_of(f)
            for f in (*SCREENED_FIELDS, "account_id", "collected_at")
        }
        screened = tuple((f, k) for f in SCREENED_FIELDS for k in fields.keys_of(f))
        every = [k for _, k in screened] + [
            k for f in ("account_id", "collected_at") for k in self._keys[f]
        ]
        self._mapped = frozenset(every)
        # One key per field: a row's fields are its columns (a dotted key
        # too, where no column could hold its path: `columns.by_field`).
        self._plain = len(screened) == len({f for f, _ in screened})
        # The column each dotted key's nested path would start in.
        self._heads = frozenset(k.partition(".")[0] for k in every if "." in k)
        signed = [f for f, _ in screened]
        if self._keys["collected_at"]:
            signed.append("collected_at")
        self._decisions = Decisions(self.rows, self._keys)
        self._flags = FlagBuilder(settings, tuple(signed), fingerprints)

    @property
    def fingerprints(self) -> bool:
        return self._flags.fingerprints

    def screen(self, batch: AccountBatch) -> Screened:
        """The flags and counts of one batch, identical to `Reviewer`'s.
        Mapped columns of native types (dates, timestamps, integers) are
        read as the text a text export holds (`native`)."""
        records = native.batch_as_text(batch.records, self._mapped)
        if records is not batch.records:
            batch = attrs.evolve(batch, records=records)
        columns = self._fast_columns(records)
        decisions: np.ndarray[Any, Any]
        templates: list[Template] = []
        if columns is None:
            decisions = np.full(records.num_rows, SLOW, dtype=np.int64)
        else:
            decisions, templates = self._decisions.decide(columns, records.num_rows)
        slow: Slow = []
        unreadable = list(batch.unreadable)
        slow_rows = np.flatnonzero(decisions == SLOW).tolist()
        if slow_rows:
            self._screen_slowly(batch, slow_rows, slow, unreadable)
        unreadable.sort()
        fast = int(np.count_nonzero(decisions != SLOW))
        flags, clean = self._flags.screened(
            batch, columns or {}, (decisions, templates), slow, self.keep_clean
        )
        return Screened(
            flags, clean, fast + len(slow), tuple(unreadable), code_counts(flags),
            batch.advanced,
        )  # fmt: skip

    def _fast_columns(self, records: pa.RecordBatch) -> Columns | None:
        """The columns by field (None: absent), or None when the batch is
        for `Reviewer`."""
        if not self._plain:
            return None
        return by_field(records, self._keys, self._heads)

    def _screen_slowly(
        self,
        batch: AccountBatch,
        rows: list[int],
        out: Slow,
        unreadable: list[tuple[int, str]],
    ) -> None:
        """Rows for `Reviewer`, one by one as a run retries a failed batch:
        a row it cannot screen is unreadable, as in a run."""
        listed = None
        if batch.rows is None:
            listed = batch.records.take(pa.array(rows, pa.int64())).to_pylist()
        for number, index in enumerate(rows):
            row = _row_of(batch, index, number, listed)
            result: Batch = screen_batch(self.rows, [row])
            if result.unreadable:
                unreadable.extend(result.unreadable)
                continue
            flag = result.flags[0] if result.flags else None
            out.append((index, flag, result.clean[0] if result.clean else None))


def _row_of(
    batch: AccountBatch, index: int, number: int, listed: list[dict[str, Any]] | None
) -> Row:
    if batch.rows is not None:
        return batch.rows[index]
    if listed is None:  # pragma: no cover - the caller lists arrow-only rows
        raise ValueError("rows to list")
    rowid = batch.rowids[index] if batch.rowids is not None else None
    return Row(batch.lines[index], listed[number], rowid)


# -- the function of a batch, and its use by a run ------------------------------


def screen_record_batch(
    batch: AccountBatch | pa.RecordBatch,
    settings: ReviewSettings,
    rules: Rules | None = None,
    *,
    reviewer: ColumnarReviewer | None = None,
    first_line: int = 2,
) -> Screened:
    """Screen one batch of accounts under `settings` (field map, policy,
    screening date) and `rules`. A bare RecordBatch is numbered from
    `first_line`. Pass a `reviewer` to keep its caches across batches."""
    if isinstance(batch, pa.RecordBatch):
        lines = tuple(range(first_line, first_line + batch.num_rows))
        batch = AccountBatch(batch, lines)
    engine = reviewer if reviewer is not None else ColumnarReviewer(settings, rules)
    return engine.screen(batch)


def review_batches(
    batches: Iterable[AccountBatch],
    settings: ReviewSettings,
    rules: Rules | None = None,
) -> Iterator[Batch]:
    """Every batch screened, in input order, as `run` consumes them."""
    engine = ColumnarReviewer(settings, rules)
    for batch in batches:
        yield as_batch(engine.screen(batch))
