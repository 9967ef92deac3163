"""The rules a decision reads, numbered, and ages as a decision tells them
apart.

A rule set is the tuple of rules `decide()` reads for some jurisdictions on
some date (the threshold's, and the service kind's where the policy names
one); two rows with equal rule sets and equal ages as `bucket` gives them
get the same decision. Rules change only on their start days, so a date is
looked up once per interval between two such days.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from ..birthdate import OLDEST_PLAUSIBLE_AGE
from ..rules import Kind, Rule, Rules
from .columns import Cache, yyyymmdd
from .reviewer import ReviewSettings

_KINDS = {
    "majority": Kind.MAJORITY,
    "digital_consent": Kind.DIGITAL_CONSENT,
    "contract": Kind.CONTRACT,
}
_FIRST_DAY = 10101
# Implausible ages, as `bucket` gives them.
BORN_AFTER, TOO_OLD = -1, -2
_MISS = object()
_UNKNOWN = -9


class RuleSets:
    """Numbers the rule sets met; one per engine."""

    def __init__(self, settings: ReviewSettings, rules: Rules) -> None:
        self.settings = settings
        self.rules = rules
        self._kind = _KINDS[settings.policy.threshold]
        self._in_force = Cache()
        self._numbers: dict[tuple[Any, ...], int] = {}
        self.sets: list[tuple[Any, ...]] = []
        # The rules in force change only on these days (yyyymmdd).
        self.starts = np.array(
            sorted({yyyymmdd(r.effective_from or date.min) for r in rules.all()}),
            dtype=np.int64,
        )
        # By interval (the count of change days on or before a day): its
        # first day, or the first day of all before the first change.
        self._first_days = np.concatenate(
            (np.array([_FIRST_DAY], dtype=np.int64), self.starts)
        )
        self._required: dict[int, np.ndarray[Any, Any]] = {}
        self._interval_table = np.empty((0, len(self._first_days)), dtype=np.int64)
        self._reach_table = np.empty((0, OLDEST_PLAUSIBLE_AGE + 1), dtype=np.int64)

    def in_force_on(self, jurisdictions: tuple[str, ...], on: int) -> int:
        """The number of the rules in force for these jurisdictions on that
        day (yyyymmdd)."""
        found = self._in_force.get((jurisdictions, on), _MISS)
        if found is _MISS:
            found = self._in_force.get_or((jurisdictions, on), self._rules_on)
        number: int = found
        return number

    def _rules_on(self, key: tuple[tuple[str, ...], int]) -> int:
        jurisdictions, day = key
        on = date(day // 10000, day // 100 % 100, day % 100)
        found = tuple(r for code in jurisdictions for r in self._rules_read(code, on))
        number = self._numbers.get(found)
        if number is None:
            number = self._numbers[found] = len(self.sets)
            self.sets.append(found)
        return number

    def _rules_read(self, code: str, on: date) -> tuple[Rule | None, ...]:
        """The rules `decide()` reads for one jurisdiction: the threshold's,
        and the service kind's where the policy declares one."""
        rule = self.rules.rule(code, self._kind, on)
        service = self.settings.policy.service
        if service is None:
            return (rule,)
        return (rule, self.rules.service_rule(code, service, on))

    def then(
        self,
        signal: np.ndarray[Any, Any],
        collected: np.ndarray[Any, Any],
        found: list[Any],
    ) -> np.ndarray[Any, Any]:
        """Per row, the number of the rules in force for its jurisdictions
        (`found[signal][0]`) on its collection date, or the date's sentinel
        (ABSENT, INVALID) for a row without one. Each day of an interval
        between rule changes has the rules of its first day, so the answer
        is kept by signal and interval (`_by_interval`), worked out once a
        run for each pair met."""
        interval = np.where(
            collected > 0,
            np.searchsorted(self.starts, collected, side="right"),
            collected,
        )
        dated = interval >= 0
        table = self._by_interval(len(found))
        in_force = interval.copy()
        known = table[signal[dated], interval[dated]]
        missing = known == _UNKNOWN
        if missing.any():
            rows = np.flatnonzero(dated)[missing]
            pairs = np.unique(np.stack([signal[rows], interval[rows]]), axis=1)
            for number, step in pairs.T.tolist():
                jurisdictions = found[number][0]
                day = int(self._first_days[step])
                table[number, step] = self.in_force_on(jurisdictions, day)
            known = table[signal[dated], interval[dated]]
        in_force[dated] = known
        return in_force

    def _by_interval(self, signals: int) -> np.ndarray[Any, Any]:
        """By signal number and interval: the rules in force (_UNKNOWN: not
        worked out yet), with a row for each of `signals`."""
        table = self._interval_table
        if len(table) < signals:
            more = np.full(
                (signals - len(table) + 64, len(self._first_days)),
                _UNKNOWN,
                dtype=np.int64,
            )
            table = self._interval_table = np.vstack([table, more])
        return table

    def forget_signals(self) -> None:
        """Signal numbers start again: what is kept by them goes."""
        self._interval_table = self._interval_table[:0]

    def bucket(
        self, ages: np.ndarray[Any, Any], rule_sets: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, Any]:
        """Per row, its age as `decide()` can tell it apart under its rule
        set: an exact birthdate counts only through plausibility (born after
        the date, or older than OLDEST_PLAUSIBLE_AGE) and through `age <
        required`, and the age required is one of `_ages_required`; so a
        plausible age is replaced by how many of those it reaches."""
        found = np.where(ages < 0, BORN_AFTER, TOO_OLD)
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
            for rule in self.sets[number]:
                if rule is not None:
                    ages |= {a for a in (rule.age, rule.prevailing) if a is not None}
            found = self._required[number] = np.array(sorted(ages), dtype=np.int64)
        return found
