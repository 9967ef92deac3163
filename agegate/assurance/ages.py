"""From verified age claims to what they prove about a required age.

`age_over_M` counts only as the boolean: True proves at least M, False
proves younger than M. A string "True", a number or a null proves nothing.
Exact ages and birthdates are read only when the operator enables them;
the date is gone once the arithmetic is done.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import attrs

from ..age import age_on
from .model import AssuranceError, AssuranceReason

_AGE_OVER = re.compile(r"age_over_([0-9]{1,3})")
_DIGITS = re.compile(r"[0-9]{1,3}")


@attrs.frozen
class Reading:
    """Which claims the operator lets a proof speak through."""

    age_in_years: bool = False
    birth_date: bool = False


def thresholds(claims: Mapping[str, Any]) -> dict[int, bool]:
    """`age_over_NN` booleans of an mdoc namespace or an SD-JWT's top level,
    and the PID rulebook's `age_equal_or_over: {"NN": bool}`."""
    found: dict[int, bool] = {}
    for name, value in claims.items():
        match = _AGE_OVER.fullmatch(name) if isinstance(name, str) else None
        if match and type(value) is bool:
            found[int(match.group(1))] = value
    nested = claims.get("age_equal_or_over")
    if not isinstance(nested, Mapping):
        return found
    for key, value in nested.items():
        if (
            not (isinstance(key, str) and _DIGITS.fullmatch(key))
            or type(value) is not bool
        ):
            continue
        if found.setdefault(int(key), value) is not value:
            raise AssuranceError(AssuranceReason.INCONCLUSIVE, "age claims disagree")
    return found


def prove(
    claims: Mapping[str, Any], required_age: int, reading: Reading, today: date
) -> tuple[int | None, int | None]:
    """(over, under) proving `required_age` either way, else INCONCLUSIVE."""
    found = thresholds(claims)
    lows = [age for age, holds in found.items() if holds]
    highs = [age for age, holds in found.items() if not holds]
    exact = _exact_age(claims, reading, today)
    if exact is not None:
        lows.append(exact)
        highs.append(exact + 1)
    over, under = max(lows, default=None), min(highs, default=None)
    if over is not None and under is not None and over >= under:
        raise AssuranceError(AssuranceReason.INCONCLUSIVE, "age claims disagree")
    if over is not None and over >= required_age:
        return over, under
    if under is not None and under <= required_age:
        return None, under
    raise AssuranceError(AssuranceReason.INCONCLUSIVE, "age claims")


def _exact_age(claims: Mapping[str, Any], reading: Reading, today: date) -> int | None:
    ages: list[int] = []
    years = claims.get("age_in_years")
    if reading.age_in_years and type(years) is int and 0 <= years <= 150:
        ages.append(years)
    birth = claims.get("birth_date", claims.get("birthdate"))
    if reading.birth_date:
        born = _date(birth)
        if born is not None and born <= today:
            ages.append(age_on(born, today))
    if len(set(ages)) > 1:
        raise AssuranceError(AssuranceReason.INCONCLUSIVE, "age claims disagree")
    return ages[0] if ages else None


def _date(value: Any) -> date | None:
    if type(value) is date:
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
