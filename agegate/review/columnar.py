"""The columnar review: a record batch of accounts in, its flags as Arrow arrays out.

It gives the flags `Reviewer` gives, row for row (fingerprints and lines
included), by running Python once per distinct value rather than once per
row:

* birthdate text -> the date `read()` finds, as a yyyymmdd integer, so that
  an age is `(on - born) // 10000` (the 29 February rule included);
* collected_at text -> its collection date (`collection_date`);
* the place fields -> their jurisdictions and problems, from `read()`, and
  the region a phone in national form is read in; the phone itself, whose
  validity depends on every digit, through `phone.jurisdictions`;
* jurisdictions and a date -> the rules in force then;
* what a decision depends on (jurisdictions, problems, rules in force,
  age, on both dates) -> the flag's codes, action, jurisdiction and required
  age, found by `Reviewer.review` on the first row that has them.

A row with anything unusual (a birthdate `read()` does not take as one exact
date, other birth fields, signals of more than one country, a value that
is not text, a collected_at that raises) is screened by `Reviewer` itself,
exactly as the row-at-a-time run would screen it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import codes, phone
from ..birthdate import OLDEST_PLAUSIBLE_AGE, Birth
from ..decision import Problem
from ..errors import InputProblem
from ..flags.model import Flag
from ..policy import SCREENED_FIELDS, FieldMap
from ..rules import Kind, Rule, Rules, load_rules
from ..screen import read
from . import dates, identity, native, phones
from .batches import AccountBatch, is_text
from .readers import Row
from .reviewer import (
    SOURCE,
    Batch,
    CollectedAtInvalid,
    Reviewer,
    ReviewSettings,
    collection_date,
    screen_batch,
)

_IDENTITY = FieldMap()
_PLACE_FIELDS = (
    "country",
    "subdivision",
    "billing_country",
    "billing_subdivision",
    "billing_postal_code",
)
_OTHER_BIRTH_FIELDS = ("birth_year", "birth_month", "birth_day", "age")
_KINDS = {
    "majority": Kind.MAJORITY,
    "digital_consent": Kind.DIGITAL_CONSENT,
    "contract": Kind.CONTRACT,
}
# Caches are cleared past this many entries: memory stays bounded.
_CACHE_LIMIT = 200_000
_UNUSUAL = object()
_MISS = object()
_FLAG_SCHEMA = pa.schema(
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

Template = tuple[tuple[str, ...], str, str | None, int | None] | None
Columns = dict[str, pa.Array | None]
# A row's decision: clean, for `Reviewer`, or (>= 0) its flag's template.
_CLEAN, _SLOW = -1, -2
# Collection dates and birthdates as integers: yyyymmdd, or these.
_ABSENT, _INVALID, _ODD = -1, dates.LATE, -3
# Implausible ages, as `_bucket` gives them.
_BORN_AFTER, _TOO_OLD = -1, -2
_FIRST_DAY = 10101
# The fields of a decision key (`_decision_keys`): 21 + 15 + 12 + 15 bits.
_AGE_BITS, _AGE_OFFSET = 15, 10_000
_RULE_SET_BITS = 12
_MAX_RULE_SETS = (1 << _RULE_SET_BITS) + _INVALID - 1
_MAX_SIGNALS = 1 << (63 - 2 * _AGE_BITS - _RULE_SET_BITS)
# A text starting or ending with a character str.strip() removes.
_WHITESPACE = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\x{1680}\\x{2000}-\\x{200a}"
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
)
_PADDED = f"^[{_WHITESPACE}]|[{_WHITESPACE}]$"


@attrs.frozen
class Screened:
    """What screening one batch gave: the flags (`_FLAG_SCHEMA` columns, in
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


class _Cache(dict[Any, Any]):
    def get_or(self, key: Any, compute: Callable[[Any], Any]) -> Any:
        found = self.get(key, _MISS)
        if found is not _MISS:
            return found
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        value = self[key] = compute(key)
        return value


def ages_on(on: Any, born: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`age.age_on` of yyyymmdd integers, for whole arrays: the year's
    difference less one before the birthday is the difference of the
    integers floored to 10000s (a 29 February birthday is reached on 1 March,
    0229 > 0228), and negative before birth, as `age_on`."""
    found: np.ndarray[Any, Any] = np.floor_divide(
        np.asarray(on, dtype=np.int64) - born, 10000
    )
    return found


def _yyyymmdd(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


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
        self.fingerprints = fingerprints
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
        self._screened = tuple(
            (f, k) for f in SCREENED_FIELDS for k in fields.keys_of(f)
        )
        every = [k for f, k in self._screened] + [
            k for f in ("account_id", "collected_at") for k in self._keys[f]
        ]
        self._mapped = frozenset(every)
        # One key per field and no dotted key: a row's fields are its columns.
        self._plain = len(self._screened) == len(
            {f for f, _ in self._screened}
        ) and not any("." in k for k in every)
        self._today = settings.today
        self._today_int = _yyyymmdd(settings.today)
        self._kind = _KINDS[settings.policy.threshold]
        self._births = _Cache()
        self._collected = _Cache()
        self._places = _Cache()
        self._phones = _Cache()
        self._in_force = _Cache()
        self._signals = _Cache()
        self._canonicals: dict[tuple[str, ...], tuple[str, ...] | None] = {}
        self._joins: dict[Any, tuple[str, ...]] = {}
        self._mixed: dict[tuple[str, ...], bool] = {}
        self._templates: dict[Any, Template] = {}
        self._rule_sets: dict[tuple[Any, ...], int] = {}
        # The rules in force change only on these days (yyyymmdd).
        self._starts = np.array(
            sorted({_yyyymmdd(r.effective_from or date.min) for r in self.rules.all()}),
            dtype=np.int64,
        )
        # Signals read, numbered for the whole run; decision keys (signal
        # number, ages, rules in force at collection: `_decision_keys`) ->
        # template.
        self._signal_list: list[Any] = []
        self._signal_numbers: dict[Any, int] = {}
        self._known: dict[int, Template] = {}
        # By interval (the count of change days on or before a day): its
        # first day, or the first day of all before the first change.
        self._first_days = np.concatenate(
            (np.array([_FIRST_DAY], dtype=np.int64), self._starts)
        )
        # Rule sets by number (`_rules_on`), and the ages each may require.
        self._rule_set_list: list[tuple[Any, ...]] = []
        self._required: dict[int, np.ndarray[Any, Any]] = {}
        self._reach_table = np.empty((0, OLDEST_PLAUSIBLE_AGE + 1), dtype=np.int64)

    # -- the batch ---------------------------------------------------------

    def screen(self, batch: AccountBatch) -> Screened:
        """The flags and counts of one batch, identical to `Reviewer`'s.
        Mapped columns of native types (dates, timestamps, integers) are
        read as the text a text export holds (`native`)."""
        records = native.batch_as_text(batch.records, self._mapped)
        if records is not batch.records:
            batch = attrs.evolve(batch, records=records)
        columns = self._fast_columns(records)
        if columns is None:
            decisions = np.full(records.num_rows, _SLOW, dtype=np.int64)
            templates: list[Any] = []
        else:
            decisions, templates = self._decisions(columns, records.num_rows)
        out: list[tuple[int, Flag | None, str | None]] = []
        unreadable = list(batch.unreadable)
        slow = np.flatnonzero(decisions == _SLOW).tolist()
        if slow:
            self._screen_slowly(batch, slow, out, unreadable)
        unreadable.sort()
        fast = int(np.count_nonzero(decisions != _SLOW))
        return self._assemble(
            batch, columns or {}, (decisions, templates), out, fast, tuple(unreadable)
        )

    def _fast_columns(self, records: pa.RecordBatch) -> Columns | None:
        """The columns by field (None: absent), or None when the batch is
        for `Reviewer`."""
        if not self._plain:
            return None
        names = set(records.schema.names)
        found: Columns = {}
        for field, keys in self._keys.items():
            if not keys or keys[0] not in names:
                found[field] = None
                continue
            column = records.column(keys[0])
            if not is_text(column):
                return None
            found[field] = column
        return found

    def _screen_slowly(
        self,
        batch: AccountBatch,
        slow: list[int],
        out: list[tuple[int, Flag | None, str | None]],
        unreadable: list[tuple[int, str]],
    ) -> None:
        """Rows for `Reviewer`, one by one as a run retries a failed batch:
        a row it cannot screen is unreadable, as in a run."""
        listed = None
        if batch.rows is None:
            listed = batch.records.take(pa.array(slow, pa.int64())).to_pylist()
        for number, index in enumerate(slow):
            row = self._row_of(batch, index, number, listed)
            result: Batch = screen_batch(self.rows, [row])
            if result.unreadable:
                unreadable.extend(result.unreadable)
                continue
            flag = result.flags[0] if result.flags else None
            out.append((index, flag, result.clean[0] if result.clean else None))

    def _row_of(
        self,
        batch: AccountBatch,
        index: int,
        number: int,
        listed: list[dict[str, Any]] | None,
    ) -> Row:
        if batch.rows is not None:
            return batch.rows[index]
        if listed is None:  # pragma: no cover - the caller lists arrow-only rows
            raise ValueError("rows to list")
        rowid = batch.rowids[index] if batch.rowids is not None else None
        return Row(batch.lines[index], listed[number], rowid)

    def _assemble(
        self,
        batch: AccountBatch,
        columns: Columns,
        decided: tuple[np.ndarray[Any, Any], list[Any]],
        out: list[tuple[int, Flag | None, str | None]],
        fast: int,
        unreadable: tuple[tuple[int, str], ...],
    ) -> Screened:
        """The flag columns, built for the flagged rows alone."""
        decisions, templates = decided
        rows = np.flatnonzero(decisions >= 0)
        found = self._fast_flags(columns, rows, decisions[rows], templates)
        slow = [(index, flag) for index, flag, _ in out if flag is not None]
        if slow:
            rows, found = _with_slow_flags(rows, found, slow)
        flags = self._located(batch, rows, found)
        clean = self._clean(columns, decisions, out) if self.keep_clean else ()
        return Screened(
            flags, clean, fast + len(out), unreadable, _code_counts(flags),
            batch.advanced,
        )  # fmt: skip

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
            [found[name] for name in _FLAG_SCHEMA.names], schema=_FLAG_SCHEMA
        )

    def _clean(
        self,
        columns: Columns,
        decisions: np.ndarray[Any, Any],
        out: list[tuple[int, Flag | None, str | None]],
    ) -> tuple[str, ...]:
        """The given ids of the rows screened clean, in input order."""
        rows = np.flatnonzero(decisions == _CLEAN)
        given = columns.get("account_id")
        fast: list[str] = []
        if given is not None and len(rows):
            texts = given.take(pa.array(rows))
            # Ids with no whitespace at either end need no strip().
            padded = pc.fill_null(pc.match_substring_regex(texts, _PADDED), True)
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
        slow = [(i, g) for i, _, g in out if g is not None]
        if not slow:
            return tuple(fast)
        return tuple(_merged(rows, fast, slow))

    # -- the rows the caches decide ---------------------------------------

    def _decisions(
        self, columns: Columns, rows: int
    ) -> tuple[np.ndarray[Any, Any], list[Any]]:
        """Per row, _CLEAN, _SLOW or the index of its flag's template; and
        the templates. Python runs once per distinct decision key."""
        born = self._per_value(
            columns["birthdate"], dates.birth_array, rows, self._births, self._birth
        )
        collected = self._per_value(
            columns["collected_at"], self._collection_array, rows,
            self._collected, self._collection,
        )  # fmt: skip
        signal, signals_found = self._signal_ids(columns, rows)
        odd = (born == _ODD) | (collected == _ODD) | (signal < 0)
        odd |= self._other_births(columns, rows)
        decisions = np.full(rows, _SLOW, dtype=np.int64)
        fast = np.flatnonzero(~odd)
        if not len(fast):
            return decisions, []
        born, collected, signal = born[fast], collected[fast], signal[fast]
        dated = collected > 0
        # Rules change only on these dates: one key per interval between two.
        interval = np.where(
            dated, np.searchsorted(self._starts, collected, side="right"), collected
        )
        in_force = self._rules_then(signal, interval, signals_found)
        today = np.array([found[2] for found in signals_found], dtype=np.int64)
        now = self._bucket(ages_on(self._today_int, born), today[signal])
        then = np.zeros(len(fast), dtype=np.int64)
        then[dated] = self._bucket(
            ages_on(collected[dated], born[dated]), in_force[dated]
        )
        first, inverse = _first_and_inverse(_combined([signal, now, in_force, then]))
        known = self._known
        if int(in_force.max()) < _MAX_RULE_SETS and int(signal.max()) < _MAX_SIGNALS:
            at = first
            values = _decision_keys(signal[at], now[at], in_force[at], then[at])
        else:  # keys that hold for this batch alone
            values, known = first, {}
        templates: list[Any] = []
        codes = np.empty(len(first), dtype=np.int64)
        for number, (value, at) in enumerate(
            zip(values.tolist(), first.tolist(), strict=True)
        ):
            template = known.get(value, _MISS)
            if template is _MISS:
                decision = self._decision(
                    signals_found[int(signal[at])], int(now[at]),
                    int(in_force[at]), int(then[at]),
                )  # fmt: skip
                template = self._template_of(decision, columns, int(fast[at]))
                if len(known) >= _CACHE_LIMIT:
                    known.clear()
                known[value] = template
            codes[number] = _CLEAN if template is None else len(templates)
            if template is not None:
                templates.append(template)
        decisions[fast] = codes[inverse]
        return decisions, templates

    def _decision(
        self, signals: Any, now: int, in_force: int, then: int
    ) -> tuple[Any, ...]:
        """What a template depends on: the place's reading, the age today,
        and the rules in force and age on the collection date (or why there
        is none)."""
        jurisdictions, problems, today = signals
        decision: tuple[Any, ...] = (jurisdictions, problems, today, now)
        if in_force >= 0:
            return (*decision, in_force, then)
        return (*decision, "absent" if in_force == _ABSENT else "invalid")

    def _rules_then(
        self,
        signal: np.ndarray[Any, Any],
        interval: np.ndarray[Any, Any],
        found: list[Any],
    ) -> np.ndarray[Any, Any]:
        """Per row, the number of the rules in force for its jurisdictions on
        its collection date (`_rules_on`), found once per signal and
        interval between rule changes (each day of one has the rules of its
        first day); the interval's sentinel for a row without a date. Most
        changes are elsewhere: many intervals share one set of rules."""
        first, inverse = _first_and_inverse(_combined([signal, interval]))
        each = np.empty(len(first), dtype=np.int64)
        for number, at in enumerate(first.tolist()):
            step = int(interval[at])
            if step < 0:
                each[number] = step
                continue
            jurisdictions = found[int(signal[at])][0]
            each[number] = self._in_force_on(jurisdictions, int(self._first_days[step]))
        found_rules: np.ndarray[Any, Any] = each[inverse]
        return found_rules

    def _bucket(
        self, ages: np.ndarray[Any, Any], rule_sets: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, Any]:
        """Per row, its age as `decide()` can tell it apart under its rules
        in force (`_rules_on` numbers): an exact birthdate counts only
        through plausibility (born after the date, or older than
        OLDEST_PLAUSIBLE_AGE) and through `age < required`, and the age
        required is one of `_ages_required`; so a plausible age is replaced
        by how many of those it reaches (`_reached`)."""
        found = np.where(ages < 0, _BORN_AFTER, _TOO_OLD)
        plausible = (ages >= 0) & (ages <= OLDEST_PLAUSIBLE_AGE)
        if len(rule_sets):
            table = self._reached(int(rule_sets.max()))
            found[plausible] = table[rule_sets[plausible], ages[plausible]]
        return found

    def _reached(self, highest: int) -> np.ndarray[Any, Any]:
        """By rule set number and plausible age: how many of the ages the
        rule set may require the age reaches; rows up to `highest`."""
        table = self._reach_table
        if len(table) <= highest:
            ages = np.arange(OLDEST_PLAUSIBLE_AGE + 1)
            more = [
                np.searchsorted(self._ages_required(n), ages, side="right")
                for n in range(len(table), highest + 1)
            ]
            table = self._reach_table = np.vstack([table, *more])
        return table

    def _ages_required(self, number: int) -> np.ndarray[Any, Any]:
        """Every age `decide()` may require under rule set `number`: the
        policy's floor, its overrides, 0 (no rule), and each rule's ages
        under either reading."""
        found = self._required.get(number)
        if found is None:
            policy = self.settings.policy
            ages = {0, policy.minimum_age, *(age for _, age in policy.overrides)}
            for rule in self._rule_set_list[number]:
                if rule is not None:
                    ages |= {a for a in (rule.age, rule.prevailing) if a is not None}
            found = self._required[number] = np.array(sorted(ages), dtype=np.int64)
        return found

    def _template_of(self, key: tuple[Any, ...], columns: Columns, at: int) -> Any:
        template = self._templates.get(key, _MISS)
        if template is _MISS:
            if len(self._templates) >= _CACHE_LIMIT:
                self._templates.clear()
            values = {
                field: column[at].as_py() if column is not None else None
                for field, column in columns.items()
            }
            template = self._templates[key] = self._template(values)
        return template

    def _collection_array(self, texts: pa.Array) -> pa.Array | None:
        return dates.collection_array(texts, self._today_int)

    def _per_value(
        self,
        texts: pa.Array | None,
        vectorised: Callable[[pa.Array], pa.Array | None],
        rows: int,
        cache: _Cache,
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
        encoded = pc.dictionary_encode(
            texts.take(pa.array(missing)), null_encoding="encode"
        )
        each = np.array(
            [_code(cache.get_or(v, compute)) for v in encoded.dictionary.to_pylist()],
            dtype=np.int64,
        )
        values[missing] = each[encoded.indices.to_numpy(zero_copy_only=False)]
        return values

    def _signal_ids(
        self, columns: Columns, rows: int
    ) -> tuple[np.ndarray[Any, Any], list[Any]]:
        """Per row, the index of its (jurisdictions, problems, rules in force
        today) in the list returned, -1 for a row `Reviewer` screens; read
        once per distinct place fields and phone."""
        parts: list[np.ndarray[Any, Any]] = []
        values: list[list[Any]] = []
        for field in _PLACE_FIELDS:
            codes, dictionary = _encoded(columns[field], rows)
            parts.append(codes)
            values.append(dictionary)
        codes, dictionary = self._phone_ids(columns["phone"], rows)
        parts.append(codes)
        values.append(dictionary)
        first, inverse = _first_and_inverse(_combined(parts))
        if len(self._signal_list) >= _CACHE_LIMIT:
            # Decision keys hold signal numbers: they go with them.
            self._signal_list.clear()
            self._signal_numbers.clear()
            self._known.clear()
        found, numbers = self._signal_list, self._signal_numbers
        each = np.empty(len(first), dtype=np.int64)
        for number, at in enumerate(first.tolist()):
            place = tuple(values[i][parts[i][at]] for i in range(len(_PLACE_FIELDS)))
            phone_value = values[-1][parts[-1][at]]
            read = self._signals.get((place, phone_value), _MISS)
            if read is _MISS:
                read = self._signals.get_or((place, phone_value), self._read_signals)
            if read is _UNUSUAL:
                each[number] = -1
                continue
            if read not in numbers:
                numbers[read] = len(found)
                found.append(read)
            each[number] = numbers[read]
        return each[inverse.reshape(-1)], found

    def _phone_ids(
        self, column: pa.Array | None, rows: int
    ) -> tuple[np.ndarray[Any, Any], list[Any]]:
        """Per row, an index into the list returned: of the outcomes
        `phones` decided, then of the texts of the rows it left (numbers are
        mostly distinct: only those are encoded)."""
        decided = (
            phones.outcome_ids(column, self._canonical) if column is not None else None
        )
        if decided is None:
            return _encoded(column, rows)
        ids, outcomes = decided
        codes = np.asarray(ids, dtype=np.int64).copy()
        left = np.flatnonzero(codes < 0)
        if not len(left):
            return codes, list(outcomes)
        texts = column.take(pa.array(left)) if column is not None else None
        left_codes, left_values = _encoded(texts, len(left))
        codes[left] = len(outcomes) + left_codes
        return codes, [*outcomes, *left_values]

    @staticmethod
    def _other_births(columns: Columns, rows: int) -> np.ndarray[Any, Any]:
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
            found[[i for i, t in zip(at.tolist(), texts, strict=True) if t.strip()]] = (
                True
            )
        return found

    def _fast_flags(
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
        fields = [f for f, _ in self._screened]
        if self._keys["collected_at"]:
            fields.append("collected_at")
        messages = _messages(
            [columns.get(f) for f in fields], pa.array(rows), len(rows)
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

    # -- what the caches compute ------------------------------------------

    def _canonical(self, found: tuple[str, ...]) -> tuple[str, ...] | None:
        """The rules' codes for a phone's jurisdictions; None for a code the
        rules do not know (the row engine says what that makes of the row)."""
        if found in self._canonicals:
            return self._canonicals[found]
        known: tuple[str, ...] | None
        try:
            known = tuple(self.rules.canonical(code) for code in found)
        except LookupError:
            known = None
        self._canonicals[found] = known
        return known

    def _read_signals(self, key: tuple[tuple[Any, ...], Any]) -> Any:
        """(jurisdictions, problems, rules in force today) of the place
        fields and the phone (its text, or its jurisdictions found), or
        _UNUSUAL."""
        place_key, phone_text = key
        place = self._places.get_or(place_key, self._place)
        jurisdictions, problems = self._with_phone(place, phone_text)
        if jurisdictions is _UNUSUAL:
            return _UNUSUAL
        now = self._in_force_on(jurisdictions, self._today_int)
        return jurisdictions, problems, now

    def _in_force_on(self, jurisdictions: tuple[str, ...], on: int) -> Any:
        found = self._in_force.get((jurisdictions, on), _MISS)
        if found is _MISS:
            found = self._in_force.get_or((jurisdictions, on), self._rules_on)
        return found

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
        return _yyyymmdd(birth.born)

    def _collection(self, value: Any) -> Any:
        """A date (yyyymmdd), or "absent", or "invalid", as
        `Reviewer._collection` finds."""
        if value is None:
            return "absent"
        text = value.strip()
        if not text:
            return "absent"
        try:
            return _yyyymmdd(collection_date(text, self._today))
        except CollectedAtInvalid:
            return "invalid"
        except Exception:  # the row engine reports such a row itself
            return _UNUSUAL

    def _place(
        self, key: tuple[Any, ...]
    ) -> tuple[tuple[str, ...], tuple[Problem, ...], str | None]:
        record = {
            f: v for f, v in zip(_PLACE_FIELDS, key, strict=True) if v is not None
        }
        reading = read(
            record, policy=self.settings.policy, fields=_IDENTITY, rules=self.rules
        )
        # The problems `read()` adds for a missing birthdate are none here:
        # a reading without birth fields reports none.
        return reading.jurisdictions, reading.problems, reading.phone_region

    def _with_phone(
        self, place: tuple[tuple[str, ...], tuple[Problem, ...], str | None], text: Any
    ) -> tuple[Any, tuple[Problem, ...]]:
        """The jurisdictions with the phone's; `text` is the phone's text or
        its jurisdictions (a tuple) already decided."""
        jurisdictions, problems, region = place
        number = (
            text if isinstance(text, tuple | phones.Shared) else (text or "").strip()
        )
        if isinstance(number, tuple):
            found: Any = number
        elif isinstance(number, phones.Shared):
            found = self._canonical(number.resolve(region))
            if found is None:
                return _UNUSUAL, problems
        elif number:
            found = self._phones.get_or((number, region), self._phone)
            if found is None:
                return _UNUSUAL, problems
        else:
            found = ()
        if isinstance(found, str):
            if not self.settings.policy.phone_optional:
                problems = (*problems, Problem("phone", found))
        elif found:
            jurisdictions = self._joined(jurisdictions, found)
        mixed = self._mixed.get(jurisdictions)
        if mixed is None:
            countries = {codes.country_of(code) for code in jurisdictions}
            mixed = self._mixed[jurisdictions] = len(countries) > 1
        return (_UNUSUAL if mixed else jurisdictions), problems

    def _joined(
        self, jurisdictions: tuple[str, ...], found: tuple[str, ...]
    ) -> tuple[str, ...]:
        key = (jurisdictions, found)
        joined = self._joins.get(key)
        if joined is None:
            if len(self._joins) >= _CACHE_LIMIT:
                self._joins.clear()
            joined = self._joins[key] = tuple(dict.fromkeys((*jurisdictions, *found)))
        return joined

    def _phone(self, key: tuple[str, str | None]) -> tuple[str, ...] | str | None:
        number, region = key
        try:
            found = phone.jurisdictions(number, region)
        except InputProblem as problem:
            return problem.reason
        return self._canonical(found)

    def _rules_on(self, key: tuple[tuple[str, ...], int]) -> int:
        """The rules in force for these jurisdictions on that date (yyyymmdd),
        as a number that is equal exactly when the rules are."""
        jurisdictions, day = key
        on = date(day // 10000, day // 100 % 100, day % 100)
        found = tuple(r for code in jurisdictions for r in self._rules_read(code, on))
        number = self._rule_sets.get(found)
        if number is None:
            number = self._rule_sets[found] = len(self._rule_set_list)
            self._rule_set_list.append(found)
        return number

    def _rules_read(self, code: str, on: date) -> tuple[Rule | None, ...]:
        """The rules `decide()` reads for one jurisdiction: the threshold's,
        and the service kind's where the policy declares one."""
        rule = self.rules.rule(code, self._kind, on)
        service = self.settings.policy.service
        if service is None:
            return (rule,)
        return (rule, self.rules.service_rule(code, service, on))

    def _template(self, values: dict[str, Any]) -> Template:
        record = {k: v for f, v in values.items() if (k := self._key(f)) is not None}
        flag = self.rows.review(record)
        if flag is None:
            return None
        return flag.codes, flag.action, flag.jurisdiction, flag.required_age

    def _key(self, field: str) -> str | None:
        keys = self._keys.get(field, ())
        return keys[0] if keys else None


def _code(value: Any) -> int:
    """A birthdate or collection date found by the caches, as an integer."""
    if value is _UNUSUAL:
        return _ODD
    if value == "absent":
        return _ABSENT
    if value == "invalid":
        return _INVALID
    return int(value)


def _encoded(
    column: pa.Array | None, rows: int
) -> tuple[np.ndarray[Any, Any], list[Any]]:
    """Per row, the index of its value in the list of distinct values."""
    if column is None:
        return np.zeros(rows, dtype=np.int64), [None]
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _lines_at(lines: Sequence[int], rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if isinstance(lines, range):  # no array of every line needed
        return np.asarray(lines.start + rows * lines.step, dtype=np.int64)
    found: np.ndarray[Any, Any] = np.asarray(lines, dtype=np.int64)[rows]
    return found


def _first_and_inverse(
    key: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """`np.unique(key, return_index=True, return_inverse=True)` less the
    values: per distinct value in increasing order, the row it first
    stands on, and per row the number of its value. Keys spanning few
    values (most here: the parts are small codes) are counted in a table
    instead of sorted, many times faster."""
    rows = len(key)
    low = int(key.min()) if rows else 0
    span = (int(key.max()) - low + 1) if rows else 0
    if span > 4 * rows + 4096:
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1)
    shifted = key - low
    first_at = np.full(span, rows, dtype=np.int64)
    np.minimum.at(first_at, shifted, np.arange(rows))
    present = first_at < rows
    numbers = np.cumsum(present) - 1
    return first_at[present], numbers[shifted]


def _combined(parts: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """One int64 per row, equal exactly where every part is: the parts in
    mixed radix, renumbered densely when the product would overflow."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    size = 1
    for part in parts:
        low = int(part.min()) if len(part) else 0
        span = (int(part.max()) - low + 1) if len(part) else 1
        if size * span >= 1 << 62:
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1).astype(np.int64)
            size = int(key.max()) + 1 if len(key) else 1
        key = key * span + (part - low)
        size *= span
    return key


def _as_mask(values: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


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


def _decision_keys(
    signal: np.ndarray[Any, Any],
    now: np.ndarray[Any, Any],
    in_force: np.ndarray[Any, Any],
    then: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """One int64 per row, the same for the same signal number, age today,
    rules in force at collection (or collection sentinel) and age at
    collection: ages of yyyymmdd dates lie within +-10000 years, rule numbers
    below _MAX_RULE_SETS, signal numbers below _MAX_SIGNALS."""
    key = signal << _AGE_BITS | (now + _AGE_OFFSET)
    key = key << _RULE_SET_BITS | (in_force - _INVALID)
    found: np.ndarray[Any, Any] = key << _AGE_BITS | (then + _AGE_OFFSET)
    return found


def _messages(found: list[pa.Array | None], at: pa.Array, rows: int) -> list[str]:
    """Per row taken, what its fingerprint signs: the fields, stripped,
    joined by the unit separator (a missing value is empty). pyarrow joins
    them where no value has whitespace at either end for strip() to take."""
    parts = [
        column.take(at) if column is not None else pa.nulls(rows, pa.string())
        for column in found
    ]
    if not parts:
        return [""] * rows
    padded = any(
        pc.any(pc.match_substring_regex(part, _PADDED)).as_py() for part in parts
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
    padded = pc.fill_null(pc.match_substring_regex(texts, _PADDED), False)
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


def _code_counts(flags: pa.RecordBatch) -> collections.Counter[str]:
    """How many flags carry each code."""
    return _counts(pc.list_flatten(flags.column("codes")))


def _counts(values: pa.Array) -> collections.Counter[str]:
    found: collections.Counter[str] = collections.Counter()
    if len(values):
        for item in pc.value_counts(values).to_pylist():
            found[item["values"]] = item["counts"]
    return found


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
            *(columns[name] for name in _FLAG_SCHEMA.names), strict=True
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


def review_batches(
    batches: Iterable[AccountBatch],
    settings: ReviewSettings,
    rules: Rules | None = None,
) -> Iterator[Batch]:
    """Every batch screened, in input order, as `run` consumes them."""
    engine = ColumnarReviewer(settings, rules)
    for batch in batches:
        yield as_batch(engine.screen(batch))
