"""Phone number validity and region, decided exactly as phonenumbers does.

`phonenumbers.is_valid_number_for_region` and `region_code_for_number`
recompile each pattern of a numbering plan on every call and test the number
types one by one in a fixed order; validity only needs to know whether any
type matches. Here each plan's patterns are compiled once and the common
types (fixed line, mobile) are tried first. The logic mirrors phonenumbers'
(`_number_type_helper`, `_is_number_matching_desc`,
`_region_code_for_number_from_list`); tests compare the two on numbers of
every region.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import attrs
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumber,
    country_code_for_valid_region,
    national_significant_number,
)

NON_GEOGRAPHIC = "001"
# Every number type phonenumbers knows except mobile, most common first.
_TYPES = (
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


@attrs.frozen
class _Desc:
    lengths: frozenset[int]
    pattern: re.Pattern[str]

    def matches(self, national: str) -> bool:
        if self.lengths and len(national) not in self.lengths:
            return False
        return self.pattern.fullmatch(national) is not None


def _desc(desc: Any) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return _Desc(
        frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)
    )


@attrs.frozen
class _Plan:
    general: _Desc | None
    types: tuple[_Desc, ...]

    def valid(self, national: str) -> bool:
        return (
            self.general is not None
            and self.general.matches(national)
            and any(desc.matches(national) for desc in self.types)
        )


def _plan(metadata: Any) -> _Plan:
    names = list(_TYPES)
    # phonenumbers skips the mobile pattern when it is the fixed-line one.
    if not metadata.same_mobile_and_fixed_line_pattern:
        names.insert(1, "mobile")
    types = (_desc(getattr(metadata, name, None)) for name in names)
    return _Plan(_desc(metadata.general_desc), tuple(d for d in types if d))


@functools.cache
def _plan_for(country_code: int, region: str) -> _Plan | None:
    """The plan `is_valid_number_for_region(n, region)` reads, or None when
    it answers False for every number of this country code."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, region.upper()
    )
    if metadata is None or (
        region != NON_GEOGRAPHIC
        and country_code != country_code_for_valid_region(region)
    ):
        return None
    return _plan(metadata)


@functools.cache
def _candidates(
    country_code: int,
) -> tuple[tuple[str, re.Pattern[str] | None, _Plan | None], ...]:
    """The regions sharing a country code, each with its leading-digits
    pattern (which decides alone where present) or its plan."""
    found = []
    for region in COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        leading = (
            re.compile(metadata.leading_digits) if metadata.leading_digits else None
        )
        found.append((region, leading, None if leading else _plan(metadata)))
    return tuple(found)


def is_valid_for_region(number: PhoneNumber, region: str) -> bool:
    """`phonenumbers.is_valid_number_for_region(number, region)`."""
    plan = _plan_for(number.country_code or 0, region)
    return plan is not None and plan.valid(national_significant_number(number))


def region_for(number: PhoneNumber) -> str | None:
    """`phonenumbers.region_code_for_number(number)`."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(number.country_code or 0)
    if regions is None:
        return None
    if len(regions) == 1:
        return str(regions[0])
    national = national_significant_number(number)
    for region, leading, plan in _candidates(number.country_code or 0):
        if leading is not None:
            if leading.match(national):
                return region
        elif plan is not None and plan.valid(national):
            return region
    return None
