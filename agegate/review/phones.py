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
* the country code is one region's; or the North American plan's, whose
  answer depends on the area code and the region alone (once per area
  code); or shared by several regions (+44, +7, +590...), whose answer
  depends on the region found and on the declared country: the number's
  validity in each region of the code is found here, and `Shared.resolve`
  gives the answer once the declared country is known;
* the number is valid for the region found as `numbering.region_for`
  finds it (candidates in order: leading digits, else the whole plan).

Every other number (national form, invalid, a shared code elsewhere) is
left to `phone.jurisdictions`: its answer is None here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
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
# The longest text `_SHAPE` takes.
_MAX_TEXT = 40
_CODES: dict[int, list[str]] = {}
for _code in COUNTRY_CODE_TO_REGION_CODE:
    _CODES.setdefault(len(str(_code)), []).append(str(_code))

Outcome = tuple[str, ...] | None
# The rules' codes for the codes a number gives; None when they have none.
Canonical = Callable[[tuple[str, ...]], tuple[str, ...] | None]


@attrs.frozen
class Shared:
    """A number under a code several regions share (+44, +7, +590...): the
    region phonenumbers finds for it, and every region of the code it is
    valid in. Its jurisdiction depends on the declared country (`resolve`)."""

    region: str
    valid_in: frozenset[str]

    def resolve(self, default_region: str | None) -> tuple[str, ...]:
        """What `phone.jurisdictions` answers with this default region: a
        number valid in the declared country too fits the declaration."""
        if (
            default_region is not None
            and default_region != self.region
            and default_region in self.valid_in
        ):
            return (default_region,)
        return (self.region,)


Decided = tuple[str, ...] | Shared


def outcome_ids(
    texts: pa.Array, canonical: Canonical
) -> tuple[np.ndarray[Any, Any], list[Decided]] | None:
    """Per row, an index into the list of outcomes decided (canonical
    jurisdictions, or a `Shared` number to resolve with the declared
    country), -1 where this module does not decide; None for all."""
    if texts.type not in (pa.string(), pa.large_string()) or not len(texts):
        return None
    shaped = pc.fill_null(pc.match_substring_regex(texts, _SHAPE), False)
    if not pc.any(shaped).as_py():
        return None
    body = pc.replace_substring_regex(texts, _SEPARATORS, "")
    found = _Found(len(texts))
    for length, codes in sorted(_CODES.items()):
        prefix = pc.utf8_slice_codeunits(body, 0, length)
        hit = pc.and_(shaped, pc.is_in(prefix, value_set=pa.array(codes)))
        if not pc.any(hit).as_py():
            continue
        rows = pc.indices_nonzero(hit)
        picked = pc.take(prefix, rows)
        nationals = pc.utf8_slice_codeunits(pc.take(body, rows), length)
        for code in pc.unique(picked).to_pylist():
            mine = pc.equal(picked, code)
            _decide(
                int(code),
                pc.filter(rows, mine).to_numpy(),
                pc.filter(nationals, mine),
                found,
                canonical,
            )
    return found.ids, found.outcomes


def outcomes(
    texts: pa.Array, canonical: Canonical, region: str | None = None
) -> list[Outcome] | None:
    """Per row, the (canonical) jurisdictions `phone.jurisdictions` gives
    the text with `region` as the default region, or None where this module
    does not decide; None for all."""
    decided = outcome_ids(texts, canonical)
    if decided is None:
        return None
    ids, values = decided
    resolved = [
        canonical(value.resolve(region)) if isinstance(value, Shared) else value
        for value in values
    ]
    return [resolved[i] if i >= 0 else None for i in ids.tolist()]


class _Found:
    """The outcome of each row, numbered as they are first met."""

    def __init__(self, rows: int) -> None:
        self.ids = np.full(rows, -1, dtype=np.int64)
        self.outcomes: list[Decided] = []
        self._numbers: dict[Decided, int] = {}

    def put(self, rows: np.ndarray[Any, Any], outcome: Decided | None) -> None:
        if outcome is None or not len(rows):
            return
        number = self._numbers.get(outcome)
        if number is None:
            number = self._numbers[outcome] = len(self.outcomes)
            self.outcomes.append(outcome)
        self.ids[rows] = number


def _decide(
    code: int,
    rows: np.ndarray[Any, Any],
    nationals: pa.Array,
    found: _Found,
    canonical: Canonical,
) -> None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    prefix = phone._national_prefix(code)
    if prefix is None:
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
    region_of = _regions(code, nationals, _mask(usable))
    if region_of is None:
        return
    shared = None
    if len(regions) > 1 and code != _NANP:
        shared = _valid_in(code, nationals)
        if shared is None:
            return
    for region, chosen in region_of:
        plan = numbering._plan_for(code, region)
        if plan is None or not chosen.any():
            continue
        # Each region's plan is read for the numbers found for it alone.
        at = np.flatnonzero(chosen)
        mine = nationals.take(pa.array(at))
        valid = _valid(plan, mine)
        if valid is None:
            continue
        kept = _mask(valid)
        if region == numbering.NON_GEOGRAPHIC:
            found.put(rows[at[kept]], ())
        elif code == _NANP:
            _north_american_rows(
                rows[at[kept]], mine.filter(valid), region, found, canonical
            )
        elif shared is not None:
            mask = np.zeros(len(nationals), dtype=bool)
            mask[at[kept]] = True
            _shared_rows(rows, mask, region, shared, found)
        else:
            found.put(rows[at[kept]], canonical((region,)))


def _mask(values: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _north_american_rows(
    rows: np.ndarray[Any, Any],
    nationals: pa.Array,
    region: str,
    found: _Found,
    canonical: Canonical,
) -> None:
    """The places of a North American number: once per area code."""
    encoded = pc.utf8_slice_codeunits(nationals, 0, 3).dictionary_encode()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    for number, area in enumerate(encoded.dictionary.to_pylist()):
        found.put(rows[indices == number], canonical(_north_american(area, region)))


def _valid_in(
    code: int, nationals: pa.Array
) -> tuple[tuple[str, ...], np.ndarray[Any, Any]] | None:
    """The regions of a shared code and, per number, a bit mask of those it
    is valid in (`numbering.is_valid_for_region`); None if RE2 cannot say."""
    regions = tuple(str(r) for r in COUNTRY_CODE_TO_REGION_CODE[code])
    bits = np.zeros(len(nationals), dtype=np.int64)
    for bit, region in enumerate(regions):
        plan = numbering._plan_for(code, region)
        if plan is None:
            continue
        valid = _valid(plan, nationals)
        if valid is None:
            return None
        bits |= valid.to_numpy(zero_copy_only=False).astype(np.int64) << bit
    return regions, bits


def _shared_rows(
    rows: np.ndarray[Any, Any],
    mask: np.ndarray[Any, Any],
    region: str,
    shared: tuple[tuple[str, ...], np.ndarray[Any, Any]],
    found: _Found,
) -> None:
    """Numbers of a shared code found for `region`: one outcome per set of
    regions they are valid in."""
    regions, bits = shared
    mine = bits[mask]
    for value in np.unique(mine).tolist():
        valid_in = frozenset(r for i, r in enumerate(regions) if value >> i & 1)
        found.put(rows[mask][mine == value], Shared(region, valid_in))


def _regions(
    code: int, nationals: pa.Array, usable: np.ndarray[Any, Any]
) -> list[tuple[str, np.ndarray[Any, Any]]] | None:
    """(region, rows it is found for) as `numbering.region_for` finds them:
    the first candidate whose leading digits (else plan) takes the number,
    each candidate tried on the numbers no earlier one took."""
    regions = COUNTRY_CODE_TO_REGION_CODE[code]
    if len(regions) == 1:
        return [(str(regions[0]), usable)]
    left = np.flatnonzero(usable)
    chosen: list[tuple[str, np.ndarray[Any, Any]]] = []
    for region, leading, plan in numbering._candidates(code):
        if not len(left):
            break
        rest = nationals.take(pa.array(left))
        if leading is not None:
            hit = _matches(rest, leading.pattern, whole=False)
        elif plan is not None:
            hit = _valid(plan, rest)
        else:  # pragma: no cover - a candidate has one or the other
            hit = None
        if hit is None:
            return None
        taken = _mask(hit)
        mine = np.zeros(len(nationals), dtype=bool)
        mine[left[taken]] = True
        chosen.append((region, mine))
        left = left[~taken]
    return chosen


def _valid(plan: Any, nationals: pa.Array) -> pa.Array | None:
    """`plan.valid(n)` for each national number; None if RE2 cannot say.

    A number is valid when the general pattern matches and some type's
    pattern matches with a length that type allows: the types that allow a
    length are tried as one alternation over the numbers of that length
    (RE2 compiles a pattern on every call, so fewer calls matter)."""
    if plan.general is None or not plan.types:
        return pc.is_in(nationals, value_set=pa.array([], pa.string()))
    general = _desc(plan.general, nationals)
    if general is None:
        return None
    lengths = pc.utf8_length(nationals)
    present = set(pc.unique(lengths).to_pylist())
    some = pc.is_in(lengths, value_set=pa.array([], pa.int32()))
    for group, pattern in _type_groups(plan):
        if not present.intersection(group):
            continue
        matched = _matches(nationals, pattern, whole=True)
        if matched is None:
            return None
        allowed = pc.is_in(lengths, value_set=pa.array(sorted(group), pa.int32()))
        some = pc.or_(some, pc.and_(allowed, matched))
    return pc.and_(general, some)


@functools.cache
def _type_groups(plan: Any) -> tuple[tuple[frozenset[int], str], ...]:
    """The lengths a national number can have, grouped by the types that
    allow them (a type without lengths allows any), each group with the
    alternation of those types' patterns, in the plan's order."""
    by_types: dict[tuple[int, ...], set[int]] = {}
    for length in range(_MAX_TEXT + 1):
        allowing = tuple(
            i for i, desc in enumerate(plan.types)
            if not desc.lengths or length in desc.lengths
        )  # fmt: skip
        if allowing:
            by_types.setdefault(allowing, set()).add(length)
    return tuple(
        (
            frozenset(group),
            "|".join(f"(?:{plan.types[i].pattern.pattern})" for i in allowing),
        )
        for allowing, group in by_types.items()
    )


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
