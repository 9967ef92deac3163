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
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

import attrs
import pyarrow as pa

from .. import codes, phone, signals
from ..birthdate import OLDEST_PLAUSIBLE_AGE, Birth
from ..decision import Problem
from ..errors import InputProblem
from ..flags.model import Flag
from ..policy import SCREENED_FIELDS, FieldMap
from ..rules import MAX_TABLE_AGE, Kind, Rules, load_rules
from ..screen import read
from . import dates, phones
from .batches import AccountBatch, is_text
from .readers import Row
from .reviewer import (
    SOURCE,
    Batch,
    CollectedAtInvalid,
    Reviewer,
    ReviewSettings,
    collection_date,
)
from .run import screen_batch

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

Template = tuple[tuple[str, ...], str, str | None, int | None] | None


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


class _Cache(dict[Any, Any]):
    def get_or(self, key: Any, compute: Callable[[Any], Any]) -> Any:
        found = self.get(key, _MISS)
        if found is not _MISS:
            return found
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        value = self[key] = compute(key)
        return value


def _yyyymmdd(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


class ColumnarReviewer:
    """Screens record batches; one per process, holding its caches."""

    def __init__(self, settings: ReviewSettings, rules: Rules | None = None) -> None:
        self.settings = settings
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
        # No age a decision requires exceeds this: the tables stop at
        # MAX_TABLE_AGE, overrides and the policy's floor at their own ages.
        policy = settings.policy
        self._adult = max(
            MAX_TABLE_AGE, policy.minimum_age, *(age for _, age in policy.overrides)
        )

    # -- the batch ---------------------------------------------------------

    def screen(self, batch: AccountBatch) -> Screened:
        """The flags and counts of one batch, identical to `Reviewer`'s."""
        records = batch.records
        fast = self._fast_columns(records)
        out: list[tuple[int, Any, str | None]] = []
        slow: list[int] = []
        if fast is None:
            slow = list(range(records.num_rows))
        else:
            decided = (
                self._phone_outcomes(records),
                self._column_of(records, "birthdate", dates.birth_days),
                self._column_of(records, "collected_at", self._collection_days),
            )
            self._screen_fast(fast, decided, out, slow)
        unreadable = list(batch.unreadable)
        if slow:
            self._screen_slowly(batch, slow, out, unreadable)
            out.sort(key=lambda entry: entry[0])
        unreadable.sort()
        return self._assemble(batch, fast, out, tuple(unreadable))

    def _fast_columns(self, records: pa.RecordBatch) -> dict[str, list[Any]] | None:
        """The row values by field, or None when the batch is for `Reviewer`."""
        if not self._plain:
            return None
        names = set(records.schema.names)
        found: dict[str, list[Any]] = {}
        for field, keys in self._keys.items():
            if not keys or keys[0] not in names:
                found[field] = [None] * records.num_rows
                continue
            column = records.column(keys[0])
            if not is_text(column):
                return None
            found[field] = column.to_pylist()
        return found

    def _screen_slowly(
        self,
        batch: AccountBatch,
        slow: list[int],
        out: list[tuple[int, Any, str | None]],
        unreadable: list[tuple[int, str]],
    ) -> None:
        """Rows for `Reviewer`, one by one as a run retries a failed batch:
        a row it cannot screen is unreadable, as in a run."""
        listed = batch.records.to_pylist() if batch.rows is None else None
        for index in slow:
            row = self._row_of(batch, index, listed)
            result: Batch = screen_batch(self.rows, [row])
            if result.unreadable:
                unreadable.extend(result.unreadable)
                continue
            flag = result.flags[0] if result.flags else None
            out.append((index, flag, result.clean[0] if result.clean else None))

    def _row_of(
        self, batch: AccountBatch, index: int, listed: list[dict[str, Any]] | None
    ) -> Row:
        if batch.rows is not None:
            return batch.rows[index]
        if listed is None:  # pragma: no cover - the caller lists arrow-only rows
            raise ValueError("rows to list")
        rowid = batch.rowids[index] if batch.rowids is not None else None
        return Row(batch.lines[index], listed[index], rowid)

    def _assemble(
        self,
        batch: AccountBatch,
        fast: dict[str, list[Any]] | None,
        out: list[tuple[int, Any, str | None]],
        unreadable: tuple[tuple[int, str], ...],
    ) -> Screened:
        """The flag columns, built for the flagged rows alone."""
        columns: dict[str, list[Any]] = {name: [] for name in _FLAG_SCHEMA.names}
        clean: list[str] = []
        by_code: collections.Counter[str] = collections.Counter()
        by_rowid = self.settings.locator == "rowid"
        for index, found, given in out:
            if found is None:
                if given is not None:
                    clean.append(given)
                continue
            if isinstance(found, Flag):
                flag = found
            else:  # a template; the fingerprint and the id are the row's own
                flag = self._flag(fast or {}, index, found, given)
            by_code.update(flag.codes)
            columns["account_id"].append(flag.account_id)
            columns["codes"].append(flag.codes)
            columns["action"].append(flag.action)
            columns["jurisdiction"].append(flag.jurisdiction)
            columns["required_age"].append(flag.required_age)
            columns["fingerprint"].append(flag.fingerprint)
            columns["line"].append(None if by_rowid else batch.lines[index])
            rowid = batch.rowids[index] if batch.rowids is not None else None
            columns["rowid"].append(rowid if by_rowid else None)
        columns["source"] = [SOURCE] * len(columns["account_id"])
        flags = pa.RecordBatch.from_pydict(columns, schema=_FLAG_SCHEMA)
        return Screened(
            flags, tuple(clean), len(out), unreadable, by_code, batch.advanced
        )

    # -- one row, from the caches -----------------------------------------

    def _column_of(
        self,
        records: pa.RecordBatch,
        field: str,
        decide: Callable[[pa.Array], list[Any] | None],
    ) -> list[Any]:
        """Per row, what `decide` finds in the field's column, else None."""
        keys = self._keys[field]
        found = None
        if keys and keys[0] in records.schema.names:
            found = decide(records.column(keys[0]))
        return found if found is not None else [None] * records.num_rows

    def _collection_days(self, texts: pa.Array) -> list[Any] | None:
        return dates.collection_days(texts, self._today_int)

    def _phone_outcomes(self, records: pa.RecordBatch) -> list[Any]:
        """Per row, the phone's jurisdictions where pyarrow decides them
        (`phones`), else None."""
        keys = self._keys["phone"]
        names = records.schema.names
        found = None
        if keys and keys[0] in names:
            found = phones.outcomes(records.column(keys[0]), self._canonical)
        return found if found is not None else [None] * records.num_rows

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

    def _screen_fast(
        self,
        fast: dict[str, list[Any]],
        decided: tuple[list[Any], list[Any], list[Any]],
        out: list[tuple[int, Any, str | None]],
        slow: list[int],
    ) -> None:
        """Rows from the caches: (index, template or None, given id) into
        `out`; the index of an unusual row into `slow`. `decided` holds the
        phones, birthdates and collection dates found for the whole batch
        (None where the caches are to find them)."""
        other = self._other_births(fast)
        places = zip(*(fast[f] for f in _PLACE_FIELDS), strict=True)
        rows = zip(
            fast["birthdate"], fast["collected_at"], places, fast["phone"],
            fast["account_id"], *decided, strict=True,
        )  # fmt: skip
        births, collections = self._births, self._collected
        for index, (
            birth, collected_at, place_key, phone_text, given, phone_of, born,
            collected,
        ) in enumerate(rows):  # fmt: skip
            if phone_of is None:
                phone_of = phone_text
            if born is None:
                born = births.get(birth, _MISS)
                if born is _MISS:
                    born = births.get_or(birth, self._birth)
            if collected is None:
                collected = collections.get(collected_at, _MISS)
                if collected is _MISS:
                    collected = collections.get_or(collected_at, self._collection)
            template = (
                _UNUSUAL
                if born is _UNUSUAL or collected is _UNUSUAL or index in other
                else self._decided(born, collected, place_key, phone_of, fast, index)
            )
            if template is _UNUSUAL:
                slow.append(index)
            else:
                out.append((index, template, self._given(given)))

    @staticmethod
    def _other_births(fast: dict[str, list[Any]]) -> set[int]:
        """Rows with a birth field besides birthdate (a blank value is no
        value, to read() as to the fingerprint)."""
        found: set[int] = set()
        for field in _OTHER_BIRTH_FIELDS:
            values = fast[field]
            if values and (values[0] is not None or any(values)):
                found.update(i for i, v in enumerate(values) if v and v.strip())
        return found

    def _decided(
        self,
        born: int,
        collected: Any,
        place_key: tuple[Any, ...],
        phone_text: Any,
        fast: dict[str, list[Any]],
        index: int,
    ) -> Any:
        """The row's template (None: no flag), or _UNUSUAL."""
        signals = self._signals.get((place_key, phone_text), _MISS)
        if signals is _MISS:
            signals = self._signals.get_or((place_key, phone_text), self._read_signals)
        if signals is _UNUSUAL:
            return _UNUSUAL
        jurisdictions, problems, now = signals
        key: tuple[Any, ...] = (
            jurisdictions,
            problems,
            now,
            (self._today_int - born) // 10000,
        )
        if isinstance(collected, int):
            then = self._in_force_on(jurisdictions, collected)
            key += (then, self._bucket((collected - born) // 10000))
        else:
            key += (collected,)
        template = self._templates.get(key, _MISS)
        if template is _MISS:
            if len(self._templates) >= _CACHE_LIMIT:
                self._templates.clear()
            values = {field: column[index] for field, column in fast.items()}
            template = self._templates[key] = self._template(values)
        return template

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

    def _bucket(self, age: int) -> int:
        """The age, or one age for every plausible age no rule can require:
        decide() tells those apart only by plausibility."""
        if self._adult <= age <= OLDEST_PLAUSIBLE_AGE:
            return self._adult
        return age

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
        return reading.jurisdictions, reading.problems, _phone_region(key)

    def _with_phone(
        self, place: tuple[tuple[str, ...], tuple[Problem, ...], str | None], text: Any
    ) -> tuple[Any, tuple[Problem, ...]]:
        """The jurisdictions with the phone's; `text` is the phone's text or
        its jurisdictions (a tuple) already decided."""
        jurisdictions, problems, region = place
        number = text if isinstance(text, tuple) else (text or "").strip()
        if isinstance(number, tuple):
            found: Any = number
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
        found = tuple(self.rules.rule(code, self._kind, on) for code in jurisdictions)
        return self._rule_sets.setdefault(found, len(self._rule_sets))

    def _template(self, values: dict[str, Any]) -> Template:
        record = {k: v for f, v in values.items() if (k := self._key(f)) is not None}
        flag = self.rows.review(record)
        if flag is None:
            return None
        return flag.codes, flag.action, flag.jurisdiction, flag.required_age

    def _key(self, field: str) -> str | None:
        keys = self._keys.get(field, ())
        return keys[0] if keys else None

    @staticmethod
    def _given(value: Any) -> str | None:
        if value is None:
            return None
        text: str = value.strip()
        return text or None

    def _flag(
        self, fast: dict[str, list[Any]], index: int, template: Any, given: str | None
    ) -> Flag:
        parts = [(fast[field][index] or "").strip() for field, _ in self._screened]
        if self._keys["collected_at"]:
            parts.append((fast["collected_at"][index] or "").strip())
        secret = self.settings.secret
        message = "\x1f".join(parts).encode("utf-8", "surrogatepass")
        fingerprint = hmac.new(secret, message, hashlib.sha256).hexdigest()
        if given is None:
            digest = hmac.new(
                secret, b"account\x00" + fingerprint.encode(), hashlib.sha256
            )
            given = "anon-" + digest.hexdigest()[:24]
        found_codes, action, jurisdiction, required_age = template
        return Flag(
            account_id=given,
            codes=found_codes,
            action=action,
            jurisdiction=jurisdiction,
            required_age=required_age,
            source=SOURCE,
            fingerprint=fingerprint,
        )


def _phone_region(key: tuple[Any, ...]) -> str | None:
    """The region a phone in national form is read in: the declared country,
    else the billing one, each found as `read()` finds it (withdrawn codes,
    and a country taken from a full subdivision code, included)."""
    country, subdivision, billing_country, billing_subdivision, _ = key
    return _country(country, subdivision) or _country(
        billing_country, billing_subdivision
    )


def _text(value: Any) -> str | None:
    return (value.strip() or None) if value is not None else None


def _country(country_value: Any, subdivision_value: Any) -> str | None:
    country_text = _text(country_value)
    subdivision_text = _text(subdivision_value)
    if (
        country_text is not None
        and subdivision_text is None
        and codes.successors(country_text)
    ):
        return None
    country: str | None = None
    if country_text is not None:
        try:
            country = signals.country_code(country_text)
        except InputProblem:
            country = None
    if (
        country is None
        and subdivision_text is not None
        and (country_text is None or "-" in subdivision_text)
    ):
        try:
            country = codes.country_of(signals.subdivision_code(subdivision_text, None))
        except InputProblem:
            country = None
    return country


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
    return [
        Flag(
            account_id=row["account_id"],
            codes=tuple(row["codes"]),
            action=row["action"],
            jurisdiction=row["jurisdiction"],
            required_age=row["required_age"],
            source=row["source"],
            fingerprint=row["fingerprint"],
            line=row["line"],
            rowid=row["rowid"],
        )
        for row in screened.flags.to_pylist()
    ]


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
