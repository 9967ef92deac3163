"""Each row's decision, found once per decision key.

A decision key holds all a decision depends on: the row's signal (`places`),
its age today, and the rules in force and its age on the collection date
(or why there is none), each age as `decide()` can tell it apart
(`RuleSets.bucket`). The flag of a key (its codes, action, jurisdiction and
required age: a template) is what `Reviewer.review`, and so the core's
`read()` and `decide()`, give the first row that has it: there is no second
copy of the decision logic here. On 1M benchmark rows that is a few dozen
decisions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import (
    ABSENT,
    CACHE_LIMIT,
    INVALID,
    ODD,
    Columns,
    DateColumns,
    ages_on,
    other_births,
    yyyymmdd,
)
from .distinct import combined, first_and_inverse
from .places import Places
from .reviewer import Reviewer
from .rule_sets import RuleSets

Template = tuple[tuple[str, ...], str, str | None, int | None] | None
# A row's decision: clean, for `Reviewer`, or (>= 0) its flag's template.
CLEAN, SLOW = -1, -2
# The fields of a decision key (`_packed`): 21 + 15 + 12 + 15 bits.
_AGE_BITS, _AGE_OFFSET = 15, 10_000
_RULE_SET_BITS = 12
_MAX_RULE_SETS = (1 << _RULE_SET_BITS) + INVALID - 1
_MAX_SIGNALS = 1 << (63 - 2 * _AGE_BITS - _RULE_SET_BITS)
_MISS = object()


class Decisions:
    """Decides batches by key; one per engine, with the keys it has met."""

    def __init__(self, reviewer: Reviewer, keys: dict[str, tuple[str, ...]]) -> None:
        self.reviewer = reviewer
        self._keys = keys
        settings, rules = reviewer.settings, reviewer.rules
        self._today = yyyymmdd(settings.today)
        self.dates = DateColumns(settings, rules)
        self.rule_sets = RuleSets(settings, rules)
        self.places = Places(settings, rules, self.rule_sets)
        # Decision keys (`_packed`) -> template, for the whole run.
        self._known: dict[int, Template] = {}
        self._templates: dict[Any, Template] = {}

    def decide(
        self, columns: Columns, rows: int
    ) -> tuple[np.ndarray[Any, Any], list[Template]]:
        """Per row, CLEAN, SLOW or the index of its flag's template; and
        the templates. Python runs once per distinct decision key."""
        born = self.dates.births(columns["birthdate"], rows)
        collected = self.dates.collections(columns["collected_at"], rows)
        signal, renumbered = self.places.numbers(columns, rows)
        if renumbered:  # keys hold signal numbers: they go with them
            self._known.clear()
            self.rule_sets.forget_signals()
        odd = (born == ODD) | (collected == ODD) | (signal < 0)
        odd |= other_births(columns, rows)
        decisions = np.full(rows, SLOW, dtype=np.int64)
        fast = np.flatnonzero(~odd)
        if not len(fast):
            return decisions, []
        parts = self._parts(born[fast], collected[fast], signal[fast])
        first, inverse = first_and_inverse(combined(list(parts)))
        codes, templates = self._templates_of(parts, first, columns, fast)
        decisions[fast] = codes[inverse]
        return decisions, templates

    def _parts(
        self,
        born: np.ndarray[Any, Any],
        collected: np.ndarray[Any, Any],
        signal: np.ndarray[Any, Any],
    ) -> tuple[np.ndarray[Any, Any], ...]:
        """Per row, the parts of its key: signal, age today, rules in force
        at collection (or the date's sentinel), age at collection."""
        found = self.places.found
        in_force = self.rule_sets.then(signal, collected, found)
        today = np.array([each[2] for each in found], dtype=np.int64)
        now = self.rule_sets.bucket(ages_on(self._today, born), today[signal])
        dated = collected > 0
        then = np.zeros(len(signal), dtype=np.int64)
        then[dated] = self.rule_sets.bucket(
            ages_on(collected[dated], born[dated]), in_force[dated]
        )
        return signal, now, in_force, then

    def _templates_of(
        self,
        parts: tuple[np.ndarray[Any, Any], ...],
        first: np.ndarray[Any, Any],
        columns: Columns,
        fast: np.ndarray[Any, Any],
    ) -> tuple[np.ndarray[Any, Any], list[Template]]:
        """Per distinct key, CLEAN or the index of its template."""
        signal, now, in_force, then = parts
        known = self._known
        if int(in_force.max()) < _MAX_RULE_SETS and int(signal.max()) < _MAX_SIGNALS:
            at = first
            values = _packed(signal[at], now[at], in_force[at], then[at])
        else:  # keys that hold for this batch alone
            values, known = first, {}
        templates: list[Template] = []
        found = np.empty(len(first), dtype=np.int64)
        for number, (value, at) in enumerate(
            zip(values.tolist(), first.tolist(), strict=True)
        ):
            template: Any = known.get(value, _MISS)
            if template is _MISS:
                key = self._key(
                    int(signal[at]), int(now[at]), int(in_force[at]), int(then[at])
                )
                template = self._template_of(key, columns, int(fast[at]))
                if len(known) >= CACHE_LIMIT:
                    known.clear()
                known[value] = template
            found[number] = CLEAN if template is None else len(templates)
            if template is not None:
                templates.append(template)
        return found, templates

    def _key(self, signal: int, now: int, in_force: int, then: int) -> tuple[Any, ...]:
        """What a template depends on: the place's reading, the age today,
        and the rules in force and age on the collection date (or why there
        is none)."""
        jurisdictions, problems, today = self.places.found[signal]
        key: tuple[Any, ...] = (jurisdictions, problems, today, now)
        if in_force >= 0:
            return (*key, in_force, then)
        return (*key, "absent" if in_force == ABSENT else "invalid")

    def _template_of(self, key: tuple[Any, ...], columns: Columns, at: int) -> Any:
        """The template of `key`, from `Reviewer` on row `at`, which has it."""
        template = self._templates.get(key, _MISS)
        if template is _MISS:
            if len(self._templates) >= CACHE_LIMIT:
                self._templates.clear()
            record = {
                field_keys[0]: column[at].as_py() if column is not None else None
                for field, column in columns.items()
                if (field_keys := self._keys.get(field, ()))
            }
            flag = self.reviewer.review(record)
            template = self._templates[key] = (
                None
                if flag is None
                else (flag.codes, flag.action, flag.jurisdiction, flag.required_age)
            )
        return template


def _packed(
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
    key = key << _RULE_SET_BITS | (in_force - INVALID)
    found: np.ndarray[Any, Any] = key << _AGE_BITS | (then + _AGE_OFFSET)
    return found
