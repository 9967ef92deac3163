"""The jurisdiction tables: load, validate, and answer "which age applies".

The tables are plain text (see jurisdictions/README.md). They are read lazily,
once, under a lock, and every code is checked against pycountry, so a broken
or duplicate entry fails at load with its file and line, never silently.
"""

from __future__ import annotations

import bisect
import enum
import functools
import importlib.resources
import shlex
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from importlib.resources.abc import Traversable
from pathlib import Path

import attrs

from . import codes
from .age import live_today
from .errors import TableError, UnknownJurisdiction

ALIASES_FILE = "aliases.txt"
MAX_TABLE_AGE = 30


class Kind(enum.Enum):
    """What a rule's age means."""

    MAJORITY = "majority"
    DIGITAL_CONSENT = "digital_consent"


@attrs.frozen
class Rule:
    """One line of a table: an age in force in one place from one date."""

    code: str
    kind: Kind
    age: int | None
    effective_from: date | None
    sources: tuple[str, ...]
    note: str | None
    file: str
    line: int

    @classmethod
    def from_record(cls, record: str, *, file: str, line: int) -> Rule:
        """Parse one table line: `CODE KIND AGE FROM source="..." [note="..."]`."""
        try:
            tokens = shlex.split(record, comments=True)
        except ValueError:
            raise TableError("unbalanced quotes", file=file, line=line) from None
        if len(tokens) < 5:
            raise TableError(
                'expected: CODE KIND AGE FROM source="..." [note="..."]',
                file=file,
                line=line,
            )
        code, kind_text, age_text, from_text, *attributes = tokens
        if not codes.is_known(code):
            raise TableError(f"unknown ISO 3166 code {code!r}", file=file, line=line)
        try:
            kind = Kind(kind_text)
        except ValueError:
            raise TableError(
                f"kind must be majority or digital_consent, not {kind_text!r}",
                file=file,
                line=line,
            ) from None
        return cls(
            code=code,
            kind=kind,
            age=_parse_age(age_text, kind, file=file, line=line),
            effective_from=_parse_from(from_text, file=file, line=line),
            sources=tuple(
                _attribute_values(attributes, "source", file=file, line=line)
            ),
            note=_single_note(attributes, file=file, line=line),
            file=file,
            line=line,
        )


def _parse_age(text: str, kind: Kind, *, file: str, line: int) -> int | None:
    if text == "none":
        if kind is Kind.MAJORITY:
            raise TableError("a majority age cannot be none", file=file, line=line)
        return None
    if not (text.isascii() and text.isdigit()):
        raise TableError("age must be whole years or none", file=file, line=line)
    age = int(text)
    if not 1 <= age <= MAX_TABLE_AGE:
        raise TableError(
            f"age {age} is outside 1..{MAX_TABLE_AGE}", file=file, line=line
        )
    return age


def _parse_from(text: str, *, file: str, line: int) -> date | None:
    if text == "-":
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise TableError("from must be YYYY-MM-DD or -", file=file, line=line) from None


_ATTRIBUTES = ("source", "note")


def _attribute_values(
    attributes: Sequence[str], name: str, *, file: str, line: int
) -> Iterator[str]:
    found = False
    for attribute in attributes:
        key, equals, value = attribute.partition("=")
        if not equals or key not in _ATTRIBUTES:
            raise TableError(
                'after FROM only source="..." and note="..." may follow',
                file=file,
                line=line,
            )
        if key != name:
            continue
        if not value.strip():
            raise TableError(f"{name} is empty", file=file, line=line)
        if name == "source" and "<http" not in value:
            raise TableError(
                "a source needs a public address in <https://...>",
                file=file,
                line=line,
            )
        found = True
        yield value.strip()
    if name == "source" and not found:
        raise TableError("every rule needs a source", file=file, line=line)


def _single_note(attributes: Sequence[str], *, file: str, line: int) -> str | None:
    notes = list(_attribute_values(attributes, "note", file=file, line=line))
    if len(notes) > 1:
        raise TableError("at most one note per rule", file=file, line=line)
    return notes[0] if notes else None


def parse_table(text: str, *, file: str) -> Iterator[Rule]:
    """Every rule in one country file, in order."""
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            yield Rule.from_record(stripped, file=file, line=number)


@attrs.frozen
class Alias:
    """A subdivision code answered by another code's rules (aliases.txt)."""

    code: str
    target: str
    line: int


def parse_aliases(text: str, *, file: str) -> dict[str, Alias]:
    """`SUBDIVISION COUNTRY` pairs: the subdivision is answered by the country."""
    aliases: dict[str, Alias] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        if len(tokens) != 2:
            raise TableError("expected: SUBDIVISION TARGET", file=file, line=number)
        alias, target = tokens
        if not codes.is_subdivision(alias):
            raise TableError(f"unknown subdivision {alias!r}", file=file, line=number)
        if not codes.is_known(target):
            raise TableError(f"unknown code {target!r}", file=file, line=number)
        if alias in aliases:
            raise TableError(f"{alias} is listed twice", file=file, line=number)
        aliases[alias] = Alias(alias, target, number)
    return aliases


def check_country_file(rules: Sequence[Rule], *, file: str, country: str) -> None:
    """The checks that need a whole file: ownership, order, a rule for all dates."""
    seen: dict[tuple[str, Kind], date | None] = {}
    for rule in rules:
        if codes.country_of(rule.code) != country:
            raise TableError(
                f"{rule.code} belongs in {codes.country_of(rule.code)}.txt",
                file=file,
                line=rule.line,
            )
        key = (rule.code, rule.kind)
        if key in seen:
            previous = seen[key]
            if rule.effective_from is None or (
                previous is not None and rule.effective_from <= previous
            ):
                raise TableError(
                    f"{rule.code} {rule.kind.value}: dates must increase, "
                    "and only the first rule may start from -",
                    file=file,
                    line=rule.line,
                )
        seen[key] = rule.effective_from
    first_majority = next(
        (r for r in rules if r.code == country and r.kind is Kind.MAJORITY), None
    )
    if first_majority is None or first_majority.effective_from is not None:
        raise TableError(
            f"{country} needs a majority rule from -, so every date has an answer",
            file=file,
            line=first_majority.line if first_majority else 1,
        )


@attrs.frozen
class _Timeline:
    """The rules of one code and kind, ordered by the date they took effect."""

    starts: tuple[date, ...]
    rules: tuple[Rule, ...]

    def in_force(self, on: date) -> Rule | None:
        index = bisect.bisect_right(self.starts, on) - 1
        return self.rules[index] if index >= 0 else None


def _timeline(rules: Sequence[Rule]) -> _Timeline:
    return _Timeline(
        starts=tuple(r.effective_from or date.min for r in rules), rules=tuple(rules)
    )


class Rules:
    """The loaded tables: which age applies where, on which date."""

    def __init__(self, rules: Iterable[Rule], aliases: Mapping[str, Alias]) -> None:
        grouped: dict[tuple[str, Kind], list[Rule]] = {}
        for rule in rules:
            if rule.code in aliases:
                raise TableError(
                    f"{rule.code} is answered by {aliases[rule.code].target} "
                    f"(see {ALIASES_FILE}); write its rules there",
                    file=rule.file,
                    line=rule.line,
                )
            grouped.setdefault((rule.code, rule.kind), []).append(rule)
        self._timelines = {key: _timeline(group) for key, group in grouped.items()}
        self._aliases = {code: alias.target for code, alias in aliases.items()}
        self._countries = frozenset(
            code
            for code, kind in self._timelines
            if kind is Kind.MAJORITY and "-" not in code
        )
        for alias in aliases.values():
            if codes.country_of(alias.target) not in self._countries:
                raise TableError(
                    f"{alias.code} points to {alias.target}, which has no rules",
                    file=ALIASES_FILE,
                    line=alias.line,
                )
        self._chains: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_directory(cls, directory: Traversable | Path) -> Rules:
        """Load every `XX.txt` table and `aliases.txt` under `directory`."""
        rules: list[Rule] = []
        aliases: dict[str, Alias] = {}
        for entry in sorted(directory.iterdir(), key=lambda e: e.name):
            if entry.name == ALIASES_FILE:
                aliases = parse_aliases(entry.read_text("utf-8"), file=entry.name)
            elif entry.name.endswith(".txt"):
                rules.extend(load_country_file(entry))
        return cls(rules, aliases)

    # -- codes -------------------------------------------------------------

    def canonical(self, code: str) -> str:
        """The code whose rules answer for `code` (aliases followed).

        Raises UnknownJurisdiction for a code that is not a current ISO 3166
        country or subdivision code.
        """
        normalised = code.strip().upper()
        if not codes.is_known(normalised):
            raise UnknownJurisdiction(code)
        return self._aliases.get(normalised, normalised)

    def get(self, code: str) -> str | None:
        """Like `canonical`, but None for an unknown code."""
        try:
            return self.canonical(code)
        except UnknownJurisdiction:
            return None

    @property
    def countries(self) -> frozenset[str]:
        return self._countries

    @property
    def aliases(self) -> Mapping[str, str]:
        return dict(self._aliases)

    def _chain(self, canonical: str) -> tuple[str, ...]:
        chain = self._chains.get(canonical)
        if chain is None:
            links = [canonical]
            while (parent := codes.parent_of(links[-1])) is not None:
                links.append(self._aliases.get(parent, parent))
            chain = self._chains[canonical] = tuple(links)
        return chain

    # -- answers -----------------------------------------------------------

    def rule(self, code: str, kind: Kind, on: date | None = None) -> Rule | None:
        """The rule in force for `code` on `on` (default: today at UTC-12).

        A subdivision without a rule of its own follows its parent subdivision,
        then its country. None where no law sets an age of this kind.
        """
        when = on if on is not None else live_today()
        for link in self._chain(self.canonical(code)):
            timeline = self._timelines.get((link, kind))
            if timeline is not None and (found := timeline.in_force(when)) is not None:
                return found
        return None

    def age(self, code: str, kind: Kind, on: date | None = None) -> int | None:
        found = self.rule(code, kind, on)
        return found.age if found is not None else None

    def majority_age(self, code: str, on: date | None = None) -> int:
        """The age of majority for `code` on `on` (default: today at UTC-12)."""
        found = self.rule(code, Kind.MAJORITY, on)
        if found is None or found.age is None:  # pragma: no cover - load forbids it
            raise UnknownJurisdiction(code)
        return found.age

    def digital_consent_age(self, code: str, on: date | None = None) -> int | None:
        """The digital age of consent, or None where no law sets one."""
        return self.age(code, Kind.DIGITAL_CONSENT, on)

    def history(self, code: str) -> tuple[Rule, ...]:
        """Every rule that can answer for `code`, most specific first."""
        found: list[Rule] = []
        for link in self._chain(self.canonical(code)):
            for kind in Kind:
                timeline = self._timelines.get((link, kind))
                if timeline is not None:
                    found.extend(timeline.rules)
        return tuple(found)


def load_country_file(entry: Traversable | Path) -> list[Rule]:
    """Parse and check one `XX.txt` table."""
    country = entry.name.removesuffix(".txt")
    if not codes.is_country(country):
        raise TableError(
            "a table is named by an ISO 3166-1 alpha-2 code", file=entry.name, line=0
        )
    try:
        text = entry.read_text("utf-8")
    except UnicodeDecodeError:
        raise TableError("not UTF-8 text", file=entry.name, line=0) from None
    rules = list(parse_table(text, file=entry.name))
    check_country_file(rules, file=entry.name, country=country)
    return rules


def bundled_directory() -> Traversable:
    """The tables shipped with agegate (inside the wheel, or in a checkout)."""
    packaged = importlib.resources.files("agegate") / "jurisdictions"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "jurisdictions"


_lock = threading.Lock()


@functools.cache
def _load_bundled() -> Rules:
    return Rules.from_directory(bundled_directory())


def load_rules(directory: str | Path | None = None) -> Rules:
    """The bundled tables (loaded once), or the tables in `directory`."""
    if directory is not None:
        return Rules.from_directory(Path(directory))
    with _lock:
        return _load_bundled()
