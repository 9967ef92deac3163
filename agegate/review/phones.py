"""The jurisdictions of a column of phone numbers, decided where that gives
`phone.jurisdictions`' answer, exactly.

A phone's validity depends on every digit, so a cache per distinct number
rarely hits. Every question `phone` asks of a national number (does the
national prefix match its start, which region's leading digits or plan
takes it, is it valid in a region's plan) is a regular pattern over its
digits: for each country code they are read together as one deterministic
automaton (`automaton.py`), built the first time the code is met, and numpy
runs the automata of all codes over a batch in one pass of table look-ups.
The state a number ends in answers every question at once; the answer is
worked out in Python once per (state, length). This module takes the narrow
road of `phone`'s own fast path and nothing else:

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

Every other number (national form, invalid, a shared code elsewhere, a
country code whose patterns the automaton cannot read) is left to
`phone.jurisdictions`: its answer is None here.
"""

from __future__ import annotations

import functools
import pickle
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from .. import numbering, phone, rules_cache
from .automaton import Automaton, Question, Unsupported, build

# The texts read here (`phone._PHONE_TEXT` in international form).
_SHAPE = r"^\+[0-9 ().\-/]{1,38}[0-9]$"
_MIN_TEXT, _MAX_TEXT = 3, 40
# Rows read at once.
_CHUNK = 16_384
_PLUS = ord("+")
_IS_DIGIT = np.zeros(256, dtype=bool)
_IS_DIGIT[list(b"0123456789")] = True
_SEPARATOR_CHARS = " ().-/"
_IS_SEPARATOR = np.zeros(256, dtype=bool)
_IS_SEPARATOR[list(_SEPARATOR_CHARS.encode())] = True
_IS_KEPT = ~_IS_SEPARATOR
# Neither a digit nor a separator (the `+` is one).
_IS_OTHER = ~(_IS_DIGIT | _IS_SEPARATOR)
_NANP = 1
# The pattern `phone._national_prefix` gives a country without one.
_NO_PREFIX = "(?!)"
_MIN_NSN, _MAX_NSN = 2, 17
_LONGEST_CODE = 3
_ZERO = ord("0")
# Columns of an automaton's table: one per digit, then the padding after a
# number (unread here: numbers of one length are walked together).
_COLUMNS = 11
# In the table of labels: not worked out yet.
_UNKNOWN = -2

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


@attrs.frozen
class _Region:
    """A valid number of a code with one region."""

    region: str


@attrs.frozen
class _NorthAmerican:
    """A valid number of the North American plan: its places depend on the
    area code too."""

    region: str


# What a number's final state and length say, before the rules' codes.
_Label = tuple[()] | _Region | _NorthAmerican | Shared


def outcome_ids(
    texts: pa.Array, canonical: Canonical
) -> tuple[np.ndarray[Any, Any], list[Decided]] | None:
    """Per row, an index into the list of outcomes decided (canonical
    jurisdictions, or a `Shared` number to resolve with the declared
    country), -1 where this module does not decide; None for all."""
    if texts.type not in (pa.string(), pa.large_string()) or not len(texts):
        return None
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    found = _Found(len(texts))
    decided = False
    # Numpy's passes over a batch run fastest while their arrays stay in
    # the processor's cache.
    for start in range(0, len(texts), _CHUNK):
        numbers = _Nationals.of(texts.slice(start, _CHUNK))
        if numbers is not None:
            _decide(numbers, found, canonical, start)
            decided = True
    return (found.ids, found.outcomes) if decided else None


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

    def number(self, outcome: Decided | None) -> int:
        if outcome is None:
            return -1
        number = self._numbers.get(outcome)
        if number is None:
            number = self._numbers[outcome] = len(self.outcomes)
            self.outcomes.append(outcome)
        return number


def _mask(values: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _country_codes() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Per first three digits of a number, the length of its country code
    and the code (0: none), as `phone._split_international` finds it."""
    lengths = np.zeros(1000, dtype=np.int64)
    codes = np.zeros(1000, dtype=np.int64)
    for first in range(100, 1000):
        text = str(first)
        for length in range(1, _LONGEST_CODE + 1):
            if int(text[:length]) in COUNTRY_CODE_TO_REGION_CODE:
                lengths[first], codes[first] = length, int(text[:length])
                break
    return lengths, codes


_CODE_LENGTHS, _CODES = _country_codes()


@attrs.frozen
class _Nationals:
    """The rows in international form with a usable national number: their
    country code, the number's length and where it starts in `digits` (the
    digits of every row end to end, as numbers 0-9, with spare ones after
    the last so three can be read from any number)."""

    rows: np.ndarray[Any, Any]
    codes: np.ndarray[Any, Any]
    lengths: np.ndarray[Any, Any]
    starts: np.ndarray[Any, Any]
    digits: np.ndarray[Any, Any]

    @classmethod
    def of(cls, texts: pa.Array) -> _Nationals | None:
        found = _shaped_digits(texts)
        if found is None:
            return None
        rows, digits, at, lengths = found
        first = _three(digits, at)
        code_length = _CODE_LENGTHS[first]
        national = lengths - code_length
        at = at + code_length
        usable = (
            (code_length > 0)
            & (national >= _MIN_NSN)
            & (national <= _MAX_NSN)
            & (digits[at] != 0)
        )
        if not usable.any():
            return None
        return cls(
            rows[usable],
            _CODES[first[usable]],
            national[usable],
            at[usable],
            digits,
        )


def _three(
    digits: np.ndarray[Any, Any], at: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """The number the three digits from each place make."""
    found: np.ndarray[Any, Any] = digits[at].astype(np.int64) * 100
    found += digits[at + 1].astype(np.int64) * 10
    found += digits[at + 2]
    return found


def _shaped_digits(
    texts: pa.Array,
) -> (
    tuple[
        np.ndarray[Any, Any],
        np.ndarray[Any, Any],
        np.ndarray[Any, Any],
        np.ndarray[Any, Any],
    ]
    | None
):
    """The rows `_SHAPE` takes with at least the digits of a country code,
    and their digits: bytes holding them (ASCII digits), each row's first
    digit's place in them and its number of digits.

    `_SHAPE` is checked without a regex: the text has 3 to 40 bytes, starts
    with `+` and ends with a digit, and once the separators are removed
    what follows its one `+` is ASCII digits alone (so every character is
    one byte, and the text has 3 to 40 characters)."""
    data, starts, sizes = _bytes(texts)
    shaped = (sizes >= _MIN_TEXT) & (sizes <= _MAX_TEXT)
    if texts.null_count:
        shaped &= _mask(texts.is_valid())
    ends = np.where(shaped, starts + sizes - 1, 0)
    firsts = np.where(shaped, starts, 0)
    if len(data):
        shaped &= (data[firsts] == _PLUS) & _IS_DIGIT[data[ends]]
    if not shaped.any():
        return None
    digits, starts, sizes = _digits_after_plus(data, starts, sizes)
    rows = np.flatnonzero(
        shaped & (sizes >= _LONGEST_CODE) & (sizes <= _LONGEST_CODE + _MAX_NSN)
    )
    if not len(rows):
        return None
    return rows, digits, starts[rows], sizes[rows]


def _digits_after_plus(
    data: np.ndarray[Any, Any],
    starts: np.ndarray[Any, Any],
    sizes: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each row's text less the separators `_SHAPE` takes, read as one `+`
    then digits: the digits (0-9, with three spare after the last), where
    each row's digits start, and how many it has (-1 where anything but
    separators and digits follows the `+`). A cumulative count of the bytes
    kept, and the rows of the few bytes that are neither, do for every row
    at once what a replacement per separator did per text."""
    kept = _IS_KEPT[data]
    counts = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum(kept, out=counts[1:])
    body_starts = counts[starts].astype(np.int64)
    body_sizes = counts[starts + sizes] - body_starts
    # The `+` (the shape made it each row's first byte) is the one other.
    others = np.flatnonzero(_IS_OTHER[data])
    rows = np.searchsorted(starts, others, side="right") - 1
    alone = np.bincount(rows, minlength=len(starts)) == 1
    digit_sizes = np.where(alone & (body_sizes > 1), body_sizes - 1, -1)
    digits = np.concatenate([data[kept] - _ZERO, np.zeros(3, dtype=np.uint8)])
    return digits, body_starts + 1, digit_sizes


def _bytes(
    texts: pa.Array,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The bytes of a string array, and each row's start and size in them."""
    _, offsets_buffer, data_buffer = texts.buffers()
    offset_type = np.int64 if texts.type == pa.large_string() else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)
    offsets = offsets[texts.offset : texts.offset + len(texts) + 1].astype(np.int64)
    if data_buffer is None:
        data = np.empty(0, dtype=np.uint8)
    else:
        data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    return data, offsets[:-1], np.diff(offsets)


def _decide(
    numbers: _Nationals, found: _Found, canonical: Canonical, first_row: int
) -> None:
    labels = _AUTOMATA.decide(numbers)
    # A North American number's places depend on its area code too.
    north_american = _AUTOMATA.north_american[labels + 1]
    area = _three(numbers.digits, numbers.starts)
    labels[north_american & (numbers.lengths < 3)] = -1
    kept = labels >= 0
    keys = labels[kept] * 1000 + np.where(north_american, area, 0)[kept]
    distinct, inverse = np.unique(keys, return_inverse=True)
    each = np.array(
        [
            found.number(_outcome(_AUTOMATA.values[key // 1000], key % 1000, canonical))
            for key in distinct.tolist()
        ],
        dtype=np.int64,
    )
    found.ids[first_row + numbers.rows[kept]] = each[inverse.reshape(-1)]


def _outcome(label: _Label, area: int, canonical: Canonical) -> Decided | None:
    if isinstance(label, _NorthAmerican):
        return canonical(_north_american(f"{area:03d}", label.region))
    if isinstance(label, _Region):
        return canonical((label.region,))
    return label


def _north_american(area: str, region: str) -> tuple[str, ...]:
    return phone._north_american_places(area, region)


class _Automata:
    """The automata of the country codes met so far, as one table of
    states: `steps[state * 11 + digit]` is the next state times 11 (the
    padding column keeps the state), and `labels[state, length]` the index of a
    number's label in `values` (-1: not decided here), worked out the first
    time it is needed."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.steps = np.zeros(0, dtype=np.int64)
        self.labels = np.zeros((0, _MAX_NSN + 1), dtype=np.int64)
        # Per country code, its start state; -1: not decided here; -2: not
        # built yet.
        self.starts = np.full(1000, _UNKNOWN, dtype=np.int64)
        self._owners: list[tuple[int, int, Automaton]] = []
        self.values: list[_Label] = []
        self._numbers: dict[_Label, int] = {}
        # Per label index + 1 (index 0 for -1): a North American number?
        self.north_american = np.zeros(1, dtype=bool)

    def decide(self, numbers: _Nationals) -> np.ndarray[Any, Any]:
        """Per number, the index of its label; -1 where it is not decided
        here."""
        with self._lock:
            unknown = self.starts[numbers.codes] == _UNKNOWN
            if unknown.any():
                self._add(np.unique(numbers.codes[unknown]).tolist())
            states = self.starts[numbers.codes]
            known = states >= 0
            if not known.any():
                return np.full(len(states), -1, dtype=np.int64)
            at = self._run(np.where(known, states, 0), numbers)
            labels = self.labels[at, numbers.lengths]
            missing = known & (labels == _UNKNOWN)
            if missing.any():
                self._fill(at[missing], numbers.lengths[missing])
                labels = self.labels[at, numbers.lengths]
            return np.where(known, labels, -1)

    def _run(
        self, states: np.ndarray[Any, Any], numbers: _Nationals
    ) -> np.ndarray[Any, Any]:
        """The state each number ends in, numbers of each length together
        (no padding to read)."""
        ends = states * _COLUMNS
        steps, digits = self.steps, numbers.digits
        for length in np.flatnonzero(np.bincount(numbers.lengths)).tolist():
            mine = np.flatnonzero(numbers.lengths == length)
            at, state = numbers.starts[mine], ends[mine]
            for offset in range(length):
                state = steps[state + digits[at + offset]]
            ends[mine] = state
        return ends // _COLUMNS

    def _fill(
        self, states: np.ndarray[Any, Any], lengths: np.ndarray[Any, Any]
    ) -> None:
        for state, length in np.unique(np.stack([states, lengths]), axis=1).T.tolist():
            self.labels[state, length] = self._label(state, length)

    def _add(self, codes: list[int]) -> None:
        with self._lock:
            for code in codes:
                if self.starts[code] != _UNKNOWN:
                    continue
                automaton = _automaton(code)
                if automaton is None:
                    self.starts[code] = -1
                    continue
                start = len(self.labels)
                self._owners.append((start, code, automaton))
                table = np.array(automaton.table, dtype=np.int64) + start
                self.steps = np.concatenate([self.steps, table.reshape(-1) * _COLUMNS])
                unknown = np.full((len(table), _MAX_NSN + 1), _UNKNOWN, dtype=np.int64)
                self.labels = np.concatenate([self.labels, unknown])
                self.starts[code] = start

    def _label(self, state: int, length: int) -> int:
        start, code, automaton = max(o for o in self._owners if o[0] <= state)
        label = _label(code, _Passes(automaton, state - start, length))
        if label is None:
            return -1
        number = self._numbers.get(label)
        if number is None:
            number = self._numbers[label] = len(self.values)
            self.values.append(label)
            self.north_american = np.append(
                self.north_american, isinstance(label, _NorthAmerican)
            )
        return number


_AUTOMATA = _Automata()


def _automaton(code: int) -> Automaton | None:
    """The automaton of a country code's questions; None for a code whose
    patterns it cannot read. Every code's is built at once and cached
    (`rules_cache`): one start-up pays for all, no later one pays. Each is
    kept pickled on its own, so a run unpickles only the codes it meets."""
    every = _every_automaton()
    if code not in every:
        return _built(code)
    # From the cache file, which only this user could have written.
    found: Automaton | None = pickle.loads(every[code])  # noqa: S301
    return found


def _built(code: int) -> Automaton | None:
    try:
        return build(_questions(code), _MAX_NSN)
    except Unsupported:
        return None


@functools.cache
def _every_automaton() -> dict[int, bytes]:
    key = "\0".join(
        (
            rules_cache.installed("phonenumbers"),
            rules_cache.source_of(
                "review.automaton", "review.phones", "numbering", "phone"
            ),
        )
    )
    return rules_cache.cached(
        "phone-automata",
        key,
        dict,
        lambda: {
            int(code): pickle.dumps(_built(int(code)), pickle.HIGHEST_PROTOCOL)
            for code in COUNTRY_CODE_TO_REGION_CODE
        },
    )


@attrs.frozen
class _Passes:
    """The answers of a national number's final state, for its length."""

    automaton: Automaton
    state: int
    length: int

    def answer(self, question: Question) -> bool:
        return self.automaton.passes(self.state, question)

    def valid(self, plan: Any) -> bool:
        """`plan.valid(national)`."""
        return (
            plan.general is not None
            and self.matches(plan.general)
            and any(self.matches(desc) for desc in plan.types)
        )

    def matches(self, desc: Any) -> bool:
        if desc.lengths and self.length not in desc.lengths:
            return False
        return self.answer(Question(desc.pattern.pattern, full=True))


def _questions(code: int) -> list[Question]:
    """Every question `_label` may ask of a number of this code."""
    prefix = phone._national_prefix(code)
    if prefix is None:
        raise Unsupported("no metadata")
    found = (
        [] if prefix.pattern == _NO_PREFIX else [Question(prefix.pattern, full=False)]
    )
    if len(COUNTRY_CODE_TO_REGION_CODE[code]) > 1:
        for _, leading, plan in numbering._candidates(code):
            if leading is not None:
                found.append(Question(leading.pattern, full=False))
            elif plan is not None:
                found.extend(_plan_questions(plan))
    for region in COUNTRY_CODE_TO_REGION_CODE[code]:
        found.extend(_plan_questions(numbering._plan_for(code, str(region))))
    return found


def _plan_questions(plan: Any) -> Iterator[Question]:
    if plan is None:
        return
    for desc in (plan.general, *plan.types):
        if desc is not None:
            yield Question(desc.pattern.pattern, full=True)


def _label(code: int, passes: _Passes) -> _Label | None:
    """What `phone.jurisdictions` makes of a number with these answers,
    before the rules' codes (its `_split_international`, `region_for`,
    `is_valid_for_region` and `_places`)."""
    prefix = phone._national_prefix(code)
    if prefix is None or (
        prefix.pattern != _NO_PREFIX
        and passes.answer(Question(prefix.pattern, full=False))
    ):
        return None
    region = _region(code, passes)
    if region is None:
        return None
    plan = numbering._plan_for(code, region)
    if plan is None or not passes.valid(plan):
        return None
    regions = [str(r) for r in COUNTRY_CODE_TO_REGION_CODE[code]]
    if region == numbering.NON_GEOGRAPHIC:
        return ()
    if code == _NANP:
        return _NorthAmerican(region)
    if len(regions) > 1:
        valid_in = frozenset(
            other
            for other in regions
            if (mine := numbering._plan_for(code, other)) is not None
            and passes.valid(mine)
        )
        return Shared(region, valid_in)
    return _Region(region)


def _region(code: int, passes: _Passes) -> str | None:
    """`numbering.region_for`: the first candidate whose leading digits
    (else plan) takes the number."""
    regions = COUNTRY_CODE_TO_REGION_CODE[code]
    if len(regions) == 1:
        return str(regions[0])
    for region, leading, plan in numbering._candidates(code):
        if leading is not None:
            if passes.answer(Question(leading.pattern, full=False)):
                return region
        elif plan is not None and passes.valid(plan):
            return region
    return None
