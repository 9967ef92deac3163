"""Numbering-plan patterns read as one automaton over digits.

A numbering plan's patterns are regular expressions over digits: literals,
classes, alternation, groups and bounded repeats. Read as a Glushkov
automaton (one state per character position, no empty moves) and made
deterministic, many patterns become one transition table that numpy runs
over a whole column of numbers at once: no regex engine, nothing compiled
per call, and every pattern answered in the same pass.

The input is digits only, so a class is the set of digits it takes and a
construct that cannot take a digit takes nothing. A pattern is tested as
`re.fullmatch` (`full`) or as `re.match` (a match of any prefix, the empty
one included). A `$` is read only at the end of a top-level alternative of a
`re.match` pattern (that alternative must then take the whole number);
anything else (look-arounds, back-references, other anchors, possessive
repeats, other classes) raises `Unsupported`, and the caller leaves those
numbers to the plain reading.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

# The standard library's own regex parser: the tree `re` itself compiles.
_parser: Any = importlib.import_module("re._parser")

_ALL = (1 << 10) - 1
# A longer expansion of a bounded repeat is not worth its states.
_MAX_REPEAT = 64


class Unsupported(ValueError):
    """A pattern uses a construct this reading does not cover."""


@attrs.frozen
class Question:
    """One question asked of each number: does `pattern` take it, whole
    (`full`) or from its start (`re.match`)?"""

    pattern: str
    full: bool


# (nullable, first positions, last positions) of a sub-expression.
_Fragment = tuple[bool, int, int]
_EMPTY: _Fragment = (True, 0, 0)


@attrs.define
class _Positions:
    """The positions of the Glushkov automaton of several patterns: the
    digits each takes and the positions that may follow it."""

    digits: list[int] = attrs.field(factory=list)
    follow: list[int] = attrs.field(factory=list)

    def add(self, digits: int) -> int:
        self.digits.append(digits)
        self.follow.append(0)
        return 1 << (len(self.digits) - 1)

    def link(self, last: int, first: int) -> None:
        for at in _bits(last):
            self.follow[at] |= first

    def concat(self, a: _Fragment, b: _Fragment) -> _Fragment:
        self.link(a[2], b[1])
        return (
            a[0] and b[0],
            a[1] | b[1] if a[0] else a[1],
            b[2] | a[2] if b[0] else b[2],
        )

    def sequence(self, items: Iterable[tuple[Any, Any]]) -> _Fragment:
        found = _EMPTY
        for op, av in items:
            found = self.concat(found, self.item(str(op), av))
        return found

    def item(self, op: str, av: Any) -> _Fragment:
        if op in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
            at = self.add(_digits_of(op, av))
            return (False, at, at)
        if op == "BRANCH":
            parts = [self.sequence(branch) for branch in av[1]]
            return (
                any(p[0] for p in parts),
                _union(p[1] for p in parts),
                _union(p[2] for p in parts),
            )
        if op == "SUBPATTERN":
            return self.sequence(av[-1])
        if op in ("MAX_REPEAT", "MIN_REPEAT"):
            return self.repeat(*av)
        raise Unsupported(op)

    def repeat(self, low: int, high: int, sub: Any) -> _Fragment:
        unbounded = high == _parser.MAXREPEAT
        if low > _MAX_REPEAT or (not unbounded and high > _MAX_REPEAT):
            raise Unsupported("repeat")
        found = _EMPTY
        for _ in range(low):
            found = self.concat(found, self.sequence(sub))
        if unbounded:
            _, first, last = self.sequence(sub)
            self.link(last, first)
            return self.concat(found, (True, first, last))
        for _ in range(high - low):
            _, first, last = self.sequence(sub)
            found = self.concat(found, (True, first, last))
        return found


def _digits_of(op: str, av: Any) -> int:
    """The digits a single-character construct takes, as a bit mask."""
    if op == "LITERAL":
        return _digit(av)
    if op == "NOT_LITERAL":
        return _ALL & ~_digit(av)
    if op == "ANY":
        return _ALL
    found, negate = 0, False
    for kind, value in av:
        kind = str(kind)
        if kind == "NEGATE":
            negate = True
        elif kind == "LITERAL":
            found |= _digit(value)
        elif kind == "RANGE":
            found |= _union(_digit(c) for c in range(value[0], value[1] + 1))
        elif kind == "CATEGORY" and str(value) == "CATEGORY_DIGIT":
            found |= _ALL
        else:
            raise Unsupported(kind)
    return _ALL & ~found if negate else found


def _digit(code: int) -> int:
    return 1 << (code - 48) if 48 <= code <= 57 else 0


def _union(masks: Iterable[int]) -> int:
    found = 0
    for mask in masks:
        found |= mask
    return found


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _parts(question: Question) -> list[tuple[Any, bool]]:
    """The alternatives a question is read as, each (items, whole number): a
    `re.match` pattern whose top-level alternatives end in `$` is the union
    of those taking the whole number and those taking a prefix."""
    try:
        tree = _parser.parse(question.pattern)
    except Exception as problem:
        raise Unsupported("pattern") from problem
    if question.full:
        return [(tree, True)]
    items = list(tree)
    branches = (
        items[0][1][1] if len(items) == 1 and str(items[0][0]) == "BRANCH" else [items]
    )
    found = []
    for branch in branches:
        branch = list(branch)
        whole = bool(branch) and branch[-1] == (_parser.AT, _parser.AT_END)
        found.append((branch[:-1] if whole else branch, whole))
    return found


@attrs.frozen
class Automaton:
    """A deterministic automaton over digits for several questions at once.

    `table[state, digit]` is the next state; column 10 is the padding after
    a number's last digit and keeps the state. State 0 is the start.
    `passes(state, question)` says whether the digits read so far (at least
    one) pass the question."""

    table: list[list[int]]
    states: list[int]
    accepts: dict[Question, int]

    def passes(self, state: int, question: Question) -> bool:
        return bool(self.states[state] & self.accepts[question])


def build(questions: Sequence[Question], depth: int, limit: int = 50_000) -> Automaton:
    """The automaton of `questions` for numbers of up to `depth` digits; raises
    Unsupported for a pattern it cannot read or past `limit` states."""
    positions = _Positions()
    start = positions.add(0)
    accepts: dict[Question, int] = {}
    for question in questions:
        if question in accepts:
            continue
        accepts[question] = 0
        for items, whole in _parts(question):
            nullable, first, last = positions.sequence(items)
            if whole or question.full:
                positions.link(start, first)
                accepts[question] |= last
                continue
            # A prefix match stays a match whatever follows: a position that
            # takes every digit and follows itself.
            sticky = positions.add(_ALL)
            positions.link(sticky | last, sticky)
            positions.link(start, first | (sticky if nullable else 0))
            accepts[question] |= last | sticky
    return _determinize(positions, start, accepts, depth, limit)


def _determinize(
    positions: _Positions,
    start: int,
    accepts: dict[Question, int],
    depth: int,
    limit: int,
) -> Automaton:
    by_digit = [
        _union(1 << at for at, d in enumerate(positions.digits) if d >> digit & 1)
        for digit in range(10)
    ]
    states, numbers, depths = [start], {start: 0}, [0]
    table: list[list[int]] = []
    for number, state in enumerate(states):
        if len(states) > limit:
            raise Unsupported("states")
        if depths[number] >= depth:
            # Never read from: only numbers longer than `depth` get here.
            table.append([number] * 11)
            continue
        reach = _union(positions.follow[at] for at in _bits(state))
        row = []
        for mask in by_digit:
            following = reach & mask
            if following not in numbers:
                numbers[following] = len(states)
                states.append(following)
                depths.append(depths[number] + 1)
            row.append(numbers[following])
        table.append([*row, number])
    return Automaton(table, states, accepts)
