"""Where each row's account is, read once per distinct place: the place
fields and the phone number become a signal, numbered for the whole run.

A signal is what a decision takes from the place: the jurisdictions (the
rules' codes), the problems `read()` reports, and the number of the rules in
force there today. The place fields are read by `read()` itself, which also
gives the region a national phone number is read in
(`Reading.phone_region`); phones are decided by `phones` in numpy where it
can, else by `phone.jurisdictions`. A place whose signals name more than one
country, or whose phone's code the rules do not know, is `UNUSUAL`: the row
engine screens such a row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from .. import codes, phone
from ..decision import Problem
from ..errors import InputProblem
from ..policy import FieldMap
from ..rules import Rules
from ..screen import read
from . import phones
from .columns import CACHE_LIMIT, Cache, Columns, encoded, yyyymmdd
from .distinct import combined, first_and_inverse
from .reviewer import ReviewSettings
from .rule_sets import RuleSets

PLACE_FIELDS = (
    "country",
    "subdivision",
    "billing_country",
    "billing_subdivision",
    "billing_postal_code",
)
UNUSUAL = object()
_IDENTITY = FieldMap()
_MISS = object()
Place = tuple[tuple[str, ...], tuple[Problem, ...], str | None]


class Places:
    """Numbers the signals met; one per engine, with its caches."""

    def __init__(
        self, settings: ReviewSettings, rules: Rules, rule_sets: RuleSets
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.rule_sets = rule_sets
        self._today = yyyymmdd(settings.today)
        self._places = Cache()
        self._phones = Cache()
        self._signals = Cache()
        self._canonicals: dict[tuple[str, ...], tuple[str, ...] | None] = {}
        self._joins: dict[Any, tuple[str, ...]] = {}
        self._mixed: dict[tuple[str, ...], bool] = {}
        # The signals met, by number: (jurisdictions, problems, rules today).
        self.found: list[Any] = []
        self._numbers: dict[Any, int] = {}

    def numbers(self, columns: Columns, rows: int) -> tuple[np.ndarray[Any, Any], bool]:
        """Per row, the number of its signal in `found`, -1 for a row the
        row engine screens; and whether the numbers started again (past
        CACHE_LIMIT signals: what holds old numbers must forget them)."""
        parts: list[np.ndarray[Any, Any]] = []
        values: list[list[Any]] = []
        for field in PLACE_FIELDS:
            field_codes, dictionary = encoded(columns[field], rows)
            parts.append(field_codes)
            values.append(dictionary)
        phone_codes, dictionary = self._phone_ids(columns["phone"], rows)
        parts.append(phone_codes)
        values.append(dictionary)
        first, inverse = first_and_inverse(combined(parts))
        renumbered = len(self.found) >= CACHE_LIMIT
        if renumbered:
            self.found.clear()
            self._numbers.clear()
        each = np.empty(len(first), dtype=np.int64)
        for number, at in enumerate(first.tolist()):
            place = tuple(values[i][parts[i][at]] for i in range(len(PLACE_FIELDS)))
            key = (place, values[-1][parts[-1][at]])
            signal = self._signals.get(key, _MISS)
            if signal is _MISS:
                signal = self._signals.get_or(key, self._read)
            each[number] = self._number(signal)
        return each[inverse.reshape(-1)], renumbered

    def _number(self, signal: Any) -> int:
        if signal is UNUSUAL:
            return -1
        number = self._numbers.get(signal)
        if number is None:
            number = self._numbers[signal] = len(self.found)
            self.found.append(signal)
        return number

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
            return encoded(column, rows)
        ids, outcomes = decided
        found = np.asarray(ids, dtype=np.int64).copy()
        left = np.flatnonzero(found < 0)
        if not len(left):
            return found, list(outcomes)
        texts = column.take(pa.array(left)) if column is not None else None
        left_codes, left_values = encoded(texts, len(left))
        found[left] = len(outcomes) + left_codes
        return found, [*outcomes, *left_values]

    def _read(self, key: tuple[tuple[Any, ...], Any]) -> Any:
        """The signal of the place fields and the phone (its text, or its
        jurisdictions found), or UNUSUAL."""
        place_key, phone_text = key
        place = self._places.get_or(place_key, self._place)
        jurisdictions, problems = self._with_phone(place, phone_text)
        if jurisdictions is UNUSUAL:
            return UNUSUAL
        return (
            jurisdictions,
            problems,
            self.rule_sets.in_force_on(jurisdictions, self._today),
        )

    def _place(self, key: tuple[Any, ...]) -> Place:
        record = {f: v for f, v in zip(PLACE_FIELDS, key, strict=True) if v is not None}
        reading = read(
            record, policy=self.settings.policy, fields=_IDENTITY, rules=self.rules
        )
        # The problems `read()` adds for a missing birthdate are none here:
        # a reading without birth fields reports none.
        return reading.jurisdictions, reading.problems, reading.phone_region

    def _with_phone(self, place: Place, text: Any) -> tuple[Any, tuple[Problem, ...]]:
        """The jurisdictions with the phone's; `text` is the phone's text or
        its jurisdictions (a tuple) already decided."""
        jurisdictions, problems, region = place
        found = self._phone_of(text, region)
        if found is UNUSUAL:
            return UNUSUAL, problems
        if isinstance(found, str):
            if not self.settings.policy.phone_optional:
                problems = (*problems, Problem("phone", found))
        elif found:
            jurisdictions = self._joined(jurisdictions, found)
        mixed = self._mixed.get(jurisdictions)
        if mixed is None:
            countries = {codes.country_of(code) for code in jurisdictions}
            mixed = self._mixed[jurisdictions] = len(countries) > 1
        return (UNUSUAL if mixed else jurisdictions), problems

    def _phone_of(self, text: Any, region: str | None) -> Any:
        """A phone's jurisdictions, or the reason it is refused, or UNUSUAL."""
        if isinstance(text, tuple):
            return text
        if isinstance(text, phones.Shared):
            found = self._canonical(text.resolve(region))
            return UNUSUAL if found is None else found
        number = (text or "").strip()
        if not number:
            return ()
        found = self._phones.get_or((number, region), self._phone)
        return UNUSUAL if found is None else found

    def _joined(
        self, jurisdictions: tuple[str, ...], found: tuple[str, ...]
    ) -> tuple[str, ...]:
        key = (jurisdictions, found)
        joined = self._joins.get(key)
        if joined is None:
            if len(self._joins) >= CACHE_LIMIT:
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
