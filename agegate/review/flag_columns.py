"""The flags of a screened batch, built as Arrow columns for the flagged
rows alone: each row's template (codes, action, jurisdiction, age), its own
id and fingerprint (`identity`, as the row engine names an account), where
it stands (line or rowid); and the ids of the accounts screened clean.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..flags.model import Flag
from . import identity
from .batches import AccountBatch
from .columns import Columns
from .decision_keys import CLEAN, Template
from .reviewer import SOURCE, Batch, ReviewSettings

FLAG_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("codes", pa.list_(pa.string())),
        ("action", pa.string()),
        ("jurisdiction", pa.string()),
        ("required_age", pa.int32()),
        ("source", pa.string()),
        ("fingerprint", pa.string()),
        ("line", pa.int64()),
        ("rowid", pa.int64()),
    ]
)
_CODES = pa.list_(pa.string())
# A text starting or ending with a character str.strip() removes.
_WHITESPACE = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\x{1680}\\x{2000}-\\x{200a}"
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
)
PADDED = f"^[{_WHITESPACE}]|[{_WHITESPACE}]$"
# What the row engine made of a row: (index, its flag, its given id if clean).
Slow = list[tuple[int, Flag | None, str | None]]


@attrs.frozen
class Screened:
    """What screening one batch gave: the flags (`FLAG_SCHEMA` columns, in
    input order), the ids of accounts screened clean, and the counts."""

    flags: pa.RecordBatch
    clean: tuple[str, ...]
    rows_screened: int
    unreadable: tuple[tuple[int, str], ...]
    by_code: collections.Counter[str]
    # How far the batch moved a progress bar (see AccountBatch.advanced).
    advanced: int = 0

    @property
    def rows_read(self) -> int:
        return self.rows_screened + len(self.unreadable)

    @property
    def rows_unreadable(self) -> int:
        return len(self.unreadable)

    def by_action(self) -> collections.Counter[str]:
        return _counts(self.flags.column("action"))

    def by_jurisdiction(self) -> collections.Counter[str]:
        """Flags by jurisdiction; "unknown" for flags without one."""
        return _counts(pc.fill_null(self.flags.column("jurisdiction"), "unknown"))


@attrs.frozen
class FlagBuilder:
    """Builds the flag columns of a batch under one review's settings."""

    settings: ReviewSettings
    # The fields a fingerprint signs, in order (the row engine's order).
    signed: tuple[str, ...]
    # Sign every flag (a store needs them), or only those of accounts
    # without an id (for their derived id).
    fingerprints: bool = True

    def screened(
        self,
        batch: AccountBatch,
        columns: Columns,
        decided: tuple[np.ndarray[Any, Any], list[Template]],
        slow: Slow,
        keep_clean: bool,
    ) -> tuple[pa.RecordBatch, tuple[str, ...]]:
        """The flag columns (template flags and the row engine's, in row
        order, located) and the ids of the rows screened clean."""
        decisions, templates = decided
        rows = np.flatnonzero(decisions >= 0)
        found = self._template_flags(columns, rows, decisions[rows], templates)
        raised = [(index, flag) for index, flag, _ in slow if flag is not None]
        if raised:
            rows, found = _with_slow_flags(rows, found, raised)
        flags = self._located(batch, rows, found)
        clean = _clean(columns, decisions, slow) if keep_clean else ()
        return flags, clean

    def _template_flags(
        self,
        columns: Columns,
        rows: np.ndarray[Any, Any],
        chosen: np.ndarray[Any, Any],
        templates: list[Any],
    ) -> Columns:
        """The flag columns of the rows a template flags: the template's
        codes, action, jurisdiction and age; the id and the fingerprint are
        each row's own (a fingerprint is signed only where a store keeps it
        or an account has no id to go by)."""
        count = len(rows)
        at = pa.array(rows, pa.int64())
        pick = pa.array(chosen, pa.int64())
        found: Columns = {
            "codes": pa.array([t[0] for t in templates], _CODES).take(pick),
            "action": pa.array([t[1] for t in templates], pa.string()).take(pick),
            "jurisdiction": pa.array([t[2] for t in templates], pa.string()).take(pick),
            "required_age": pa.array([t[3] for t in templates], pa.int32()).take(pick),
        }
        given = _given_ids(columns.get("account_id"), at, count)
        anonymous = np.flatnonzero(given.is_null().to_numpy(zero_copy_only=False))
        signed = np.arange(count) if self.fingerprints else anonymous
        prints = self._fingerprints(columns, rows[signed])
        fingerprints: list[str | None] = [None] * count
        for number, text in zip(signed.tolist(), prints, strict=True):
            fingerprints[number] = text
        found["fingerprint"] = pa.array(fingerprints, pa.string())
        found["account_id"] = self._named(given, anonymous, fingerprints)
        return found

    def _fingerprints(self, columns: Columns, rows: np.ndarray[Any, Any]) -> list[str]:
        """The fingerprint of each row: a keyed hash of its screened fields."""
        if not len(rows):
            return []
        messages = _messages(
            [columns.get(f) for f in self.signed], pa.array(rows), len(rows)
        )
        secret = self.settings.secret
        return [identity.fingerprint(secret, m) for m in messages]

    def _named(
        self,
        given: pa.Array,
        anonymous: np.ndarray[Any, Any],
        fingerprints: list[str | None],
    ) -> pa.Array:
        """The ids, with an id derived from the fingerprint where none is
        given."""
        if not len(anonymous):
            return given
        ids = given.to_pylist()
        secret = self.settings.secret
        for number in anonymous.tolist():
            ids[number] = identity.derived_id(secret, str(fingerprints[number]))
        return pa.array(ids, pa.string())

    def _located(
        self, batch: AccountBatch, rows: np.ndarray[Any, Any], found: Columns
    ) -> pa.RecordBatch:
        """The flag columns with where each row stands: its line, or its
        rowid when flags point at rowids."""
        count = len(rows)
        nothing = pa.nulls(count, pa.int64())
        if self.settings.locator == "rowid":
            rowids = batch.rowids or (None,) * batch.records.num_rows
            found["line"] = nothing
            found["rowid"] = pa.array([rowids[i] for i in rows.tolist()], pa.int64())
        else:
            found["line"] = pa.array(_lines_at(batch.lines, rows))
            found["rowid"] = nothing
        found["source"] = pa.array([SOURCE] * count, pa.string())
        return pa.RecordBatch.from_arrays(
            [found[name] for name in FLAG_SCHEMA.names], schema=FLAG_SCHEMA
        )


def _clean(
    columns: Columns, decisions: np.ndarray[Any, Any], slow: Slow
) -> tuple[str, ...]:
    """The given ids of the rows screened clean, in input order."""
    rows = np.flatnonzero(decisions == CLEAN)
    given = columns.get("account_id")
    fast: list[str] = []
    if given is not None and len(rows):
        texts = given.take(pa.array(rows))
        # Ids with no whitespace at either end need no strip().
        padded = pc.fill_null(pc.match_substring_regex(texts, PADDED), True)
        if not pc.any(padded).as_py():
            kept = pc.greater(pc.binary_length(texts), 0)
            rows = rows[_as_mask(kept)]
            fast = texts.filter(kept).to_pylist()
        else:
            listed = texts.to_pylist()
            keep = [i for i, t in enumerate(listed) if t and t.strip()]
            rows = rows[keep]
            fast = [listed[i].strip() for i in keep]
    else:
        rows = rows[:0]
    others = [(i, g) for i, _, g in slow if g is not None]
    if not others:
        return tuple(fast)
    return tuple(_merged(rows, fast, others))


def _merged(
    rows: np.ndarray[Any, Any], fast: list[str], slow: list[tuple[int, str]]
) -> list[str]:
    """The ids of `fast` (at `rows`) and of `slow` (index, id), in row order."""
    found: list[str] = []
    start = 0
    for index, text in slow:
        stop = int(np.searchsorted(rows, index))
        found.extend(fast[start:stop])
        found.append(text)
        start = stop
    found.extend(fast[start:])
    return [text for text in found if text]


def _as_mask(values: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _lines_at(lines: Sequence[int], rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if isinstance(lines, range):  # no array of every line needed
        return np.asarray(lines.start + rows * lines.step, dtype=np.int64)
    found: np.ndarray[Any, Any] = np.asarray(lines, dtype=np.int64)[rows]
    return found


def _messages(found: list[pa.Array | None], at: pa.Array, rows: int) -> list[str]:
    """Per row taken, what its fingerprint signs (`identity.message_of`):
    the fields, stripped, joined by the separator (a missing value is
    empty). pyarrow joins them where no value has whitespace at either end
    for strip() to take."""
    parts = [
        column.take(at) if column is not None else pa.nulls(rows, pa.string())
        for column in found
    ]
    if not parts:
        return [""] * rows
    padded = any(
        pc.any(pc.match_substring_regex(part, PADDED)).as_py() for part in parts
    )
    if not padded:
        joined = pc.binary_join_element_wise(
            *parts, identity.SEPARATOR, null_handling="replace", null_replacement=""
        )
        texts: list[str] = joined.to_pylist()
        return texts
    listed = [part.to_pylist() for part in parts]
    return [identity.message_of(list(values)) for values in zip(*listed, strict=True)]


def _given_ids(column: pa.Array | None, at: pa.Array, rows: int) -> pa.Array:
    """Per row taken, its id as `str.strip()` leaves it; null where it is
    missing or blank. pyarrow keeps an id no whitespace pads."""
    if column is None:
        return pa.nulls(rows, pa.string())
    texts = column.take(at).cast(pa.string())
    padded = pc.fill_null(pc.match_substring_regex(texts, PADDED), False)
    if pc.any(padded).as_py():
        listed = [(t.strip() or None) if t else None for t in texts.to_pylist()]
        return pa.array(listed, pa.string())
    blank = pc.equal(pc.binary_length(texts), 0)
    return pc.if_else(blank, pa.scalar(None, pa.string()), texts)


def _with_slow_flags(
    rows: np.ndarray[Any, Any], found: Columns, slow: list[tuple[int, Flag]]
) -> tuple[np.ndarray[Any, Any], Columns]:
    """The template flags and the flags `Reviewer` raised, in row order."""
    flags = [flag for _, flag in slow]
    extra = {
        "codes": pa.array([list(f.codes) for f in flags], _CODES),
        "action": pa.array([f.action for f in flags], pa.string()),
        "jurisdiction": pa.array([f.jurisdiction for f in flags], pa.string()),
        "required_age": pa.array([f.required_age for f in flags], pa.int32()),
        "fingerprint": pa.array([f.fingerprint for f in flags], pa.string()),
        "account_id": pa.array([f.account_id for f in flags], pa.string()),
    }
    indexes = np.concatenate((rows, np.array([i for i, _ in slow], dtype=np.int64)))
    order = np.argsort(indexes, kind="stable")
    taken = pa.array(order)
    merged: Columns = {
        name: pa.concat_arrays([found[name], column]).take(taken)
        for name, column in extra.items()
    }
    return indexes[order], merged


def code_counts(flags: pa.RecordBatch) -> collections.Counter[str]:
    """How many flags carry each code."""
    return _counts(pc.list_flatten(flags.column("codes")))


def _counts(values: pa.Array) -> collections.Counter[str]:
    found: collections.Counter[str] = collections.Counter()
    if len(values):
        for item in pc.value_counts(values).to_pylist():
            found[item["values"]] = item["counts"]
    return found


def flags_of(screened: Screened) -> list[Flag]:
    """The flags of a screened batch as `Flag` values, for the writers."""
    columns = screened.flags.to_pydict()
    return [
        Flag(
            account_id=account_id, codes=tuple(found_codes), action=action,
            jurisdiction=jurisdiction, required_age=required_age, source=source,
            fingerprint=fingerprint, line=line, rowid=rowid,
        )
        for account_id, found_codes, action, jurisdiction, required_age, source,
        fingerprint, line, rowid in zip(
            *(columns[name] for name in FLAG_SCHEMA.names), strict=True
        )
    ]  # fmt: skip


def as_batch(screened: Screened) -> Batch:
    """A screened batch in the form `run` writes and counts."""
    return Batch(
        screened.rows_screened,
        tuple(flags_of(screened)),
        screened.unreadable,
        screened.clean,
    )
