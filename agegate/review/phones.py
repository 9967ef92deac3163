"""The jurisdictions of a column of phone numbers, decided by pyarrow's regex
engine where that gives `phone.jurisdictions`' answer, exactly.

A phone's validity depends on every digit, so a cache per distinct number
rarely hits; the patterns of a numbering plan are regular expressions
without look-arounds or back-references, which RE2 (pyarrow's engine) reads
as Python's `re` does. This module takes the narrow road of `phone`'s own
fast path and nothing else:

* the text is `+`, then digits and the separators `phone` allows, ending in
  a digit (so `strip()` changes nothing), 3 to 40 characters, no `0` after
  the `+`;
* the country code is the shortest known prefix (codes are prefix-free); the
  national number has 2 to 17 digits, does not start with 0 (no Italian
  leading zero) and does not start with the country's national prefix for
  parsing (then `phone` hands the number to `phonenumbers.parse`);
* the country code is one region's, or the North American plan's, whose
  answer depends on the area code and the region alone;
* the number is valid for the region found as `numbering.region_for`
  finds it (candidates in order: leading digits, else the whole plan).

Every other number (national form, invalid, a shared code elsewhere) is
left to `phone.jurisdictions`: its answer is None here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from .. import numbering, phone

_SHAPE = r"^\+[0-9 ().\-/]{1,38}[0-9]$"
_SEPARATORS = r"[ ().\-/+]"
_NANP = 1
# The pattern `phone._national_prefix` gives a country without one.
_NO_PREFIX = "(?!)"
_MIN_NSN, _MAX_NSN = 2, 17
_CODES: dict[int, list[str]] = {}
for _code in COUNTRY_CODE_TO_REGION_CODE:
    _CODES.setdefault(len(str(_code)), []).append(str(_code))

Outcome = tuple[str, ...] | None
# The rules' codes for the codes a number gives; None when they have none.
Canonical = Callable[[tuple[str, ...]], tuple[str, ...] | None]


def outcomes(texts: pa.Array, canonical: Canonical) -> list[Outcome] | None:
    """Per row, the (canonical) jurisdictions `phone.jurisdictions` gives
    the text, or None where this module does not decide; None for all."""
    if texts.type not in (pa.string(), pa.large_string()) or not len(texts):
        return None
    shaped = pc.fill_null(pc.match_substring_regex(texts, _SHAPE), False)
    if not pc.any(shaped).as_py():
        return None
    body = pc.replace_substring_regex(texts, _SEPARATORS, "")
    found: list[Outcome] = [None] * len(texts)
    for length, codes in sorted(_CODES.items()):
        prefix = pc.utf8_slice_codeunits(body, 0, length)
        hit = pc.and_(shaped, pc.is_in(prefix, value_set=pa.array(codes)))
        if not pc.any(hit).as_py():
            continue
        rows = pc.indices_nonzero(hit)
        picked = pc.take(prefix, rows).to_pylist()
        nationals = pc.utf8_slice_codeunits(pc.take(body, rows), length)
        for code in set(picked):
            mine = pc.equal(pc.take(prefix, rows), code)
            _decide(
                int(code),
                pc.filter(rows, mine),
                pc.filter(nationals, mine),
                found,
                canonical,
            )
    return found


def _decide(
    code: int,
    rows: pa.Array,
    nationals: pa.Array,
    found: list[Outcome],
    canonical: Canonical,
) -> None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    prefix = phone._national_prefix(code)
    if prefix is None or (len(regions) > 1 and code != _NANP):
        return
    length = pc.utf8_length(nationals)
    usable = pc.and_(
        pc.and_(pc.greater_equal(length, _MIN_NSN), pc.less_equal(length, _MAX_NSN)),
        pc.invert(pc.starts_with(nationals, "0")),
    )
    if prefix.pattern != _NO_PREFIX:
        prefixed = _matches(nationals, prefix.pattern, whole=False)
        if prefixed is None:
            return
        usable = pc.and_(usable, pc.invert(prefixed))
    region_of = _regions(code, nationals, usable)
    if region_of is None:
        return
    for region, chosen in region_of:
        plan = numbering._plan_for(code, region)
        valid = _valid(plan, nationals) if plan is not None else None
        if valid is None:
            continue
        chosen = pc.and_(chosen, valid)
        indices = pc.filter(rows, chosen).to_pylist()
        if region == numbering.NON_GEOGRAPHIC:
            for index in indices:
                found[index] = ()
        elif code == _NANP:
            areas = pc.utf8_slice_codeunits(pc.filter(nationals, chosen), 0, 3)
            for index, area in zip(indices, areas.to_pylist(), strict=True):
                found[index] = canonical(_north_american(area, region))
        else:
            decided = canonical((region,))
            for index in indices:
                found[index] = decided


def _regions(
    code: int, nationals: pa.Array, usable: pa.Array
) -> list[tuple[str, pa.Array]] | None:
    """(region, rows it is found for) as `numbering.region_for` finds them."""
    regions = COUNTRY_CODE_TO_REGION_CODE[code]
    if len(regions) == 1:
        return [(str(regions[0]), usable)]
    left = usable
    chosen: list[tuple[str, pa.Array]] = []
    for region, leading, plan in numbering._candidates(code):
        if leading is not None:
            hit = _matches(nationals, leading.pattern, whole=False)
        elif plan is not None:
            hit = _valid(plan, nationals)
        else:  # pragma: no cover - a candidate has one or the other
            hit = None
        if hit is None:
            return None
        mine = pc.and_(left, hit)
        chosen.append((region, mine))
        left = pc.and_(left, pc.invert(hit))
    return chosen


def _valid(plan: Any, nationals: pa.Array) -> pa.Array | None:
    """`plan.valid(n)` for each national number; None if RE2 cannot say."""
    if plan.general is None:
        return pc.is_in(nationals, value_set=pa.array([], pa.string()))
    general = _desc(plan.general, nationals)
    if general is None:
        return None
    some = None
    for desc in plan.types:
        matched = _desc(desc, nationals)
        if matched is None:
            return None
        some = matched if some is None else pc.or_(some, matched)
    if some is None:
        return pc.and_(general, pc.invert(general))
    return pc.and_(general, some)


def _desc(desc: Any, nationals: pa.Array) -> pa.Array | None:
    matched = _matches(nationals, desc.pattern.pattern, whole=True)
    if matched is None or not desc.lengths:
        return matched
    lengths = pa.array(sorted(desc.lengths), pa.int32())
    return pc.and_(matched, pc.is_in(pc.utf8_length(nationals), value_set=lengths))


def _matches(nationals: pa.Array, pattern: str, *, whole: bool) -> pa.Array | None:
    """`re.fullmatch` (whole) or `re.match` of `pattern` on each number."""
    anchored = f"^(?:{pattern})$" if whole else f"^(?:{pattern})"
    if not _re2_reads(anchored):
        return None
    return pc.fill_null(pc.match_substring_regex(nationals, anchored), False)


@functools.cache
def _re2_reads(pattern: str) -> bool:
    try:
        pc.match_substring_regex(pa.array([""]), pattern)
    except pa.ArrowInvalid:
        return False
    return True


@functools.cache
def _north_american(area: str, region: str) -> tuple[str, ...]:
    return phone._north_american_places(area, region)
