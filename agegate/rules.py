"""The jurisdiction tables: load, validate, and answer "which age applies".

The tables are plain text (see jurisdictions/README.md). They are read lazily,
once, under a lock, and every code is checked against pycountry, so a broken
or duplicate entry fails at load with its file and line, never silently.
"""

from __future__ import annotations

import bisect
import enum
import functools
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import attrs

from . import codes
from .age import live_today
from .errors import TableError, UnknownJurisdiction
from .services import SERVICE_KINDS
from .tables_version import bundled_directory

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

ALIASES_FILE = "aliases.txt"
MAX_TABLE_AGE = 30


class Kind(enum.Enum):
    """What a rule's age means."""

    MAJORITY = "majority"
    DIGITAL_CONSENT = "digital_consent"
    CONTRACT = "contract"
    # The minimum age for an account on one kind of service (a rule's
    # `service=`), applied only to a policy that declares that kind.
    SERVICE_MINIMUM = "service_minimum"


class Confidence(enum.Enum):
    """How sure the tables are of a rule, so counsel knows where to look first.

    `high`: the statute text was read at its official address; `medium`: a
    reliable secondary source cites the article; `low`: an inference.
    """

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


ReadingChoice = Literal["strict", "prevailing"]
READINGS: tuple[ReadingChoice, ...] = get_args(ReadingChoice)

_FORMAT = (
    'expected: CODE KIND AGE FROM confidence=... source="..." '
    '[note="..."] [prevailing=AGE prevailing_source="..."]'
)


@attrs.frozen
class Rule:
    """One line of a table: an age in force in one place from one date.

    `age` is the strict reading. Where authorities conflict, `prevailing` is
    the (lower) age most of them apply, with its own source.
    """

    code: str
    kind: Kind
    age: int | None
    effective_from: date | None
    sources: tuple[str, ...]
    note: str | None
    file: str
    line: int
    confidence: Confidence
    prevailing: int | None = None
    prevailing_source: str | None = None
    # The kind of service a SERVICE_MINIMUM rule applies to (SERVICE_KINDS).
    service: str | None = None
    # When the rule is next expected to change (a compliance deadline, a
    # bill's vote): the suite fails once it has passed, so it is re-read.
    review_by: date | None = None

    @classmethod
    def from_record(cls, record: str, *, file: str, line: int) -> Rule:
        """Parse one table line (see jurisdictions/README.md for the format)."""
        try:
            tokens = split_record(record)
        except ValueError:
            raise TableError("unbalanced quotes", file=file, line=line) from None
        if len(tokens) < 5:
            raise TableError(_FORMAT, file=file, line=line)
        code, kind_text, age_text, from_text, *attributes = tokens
        if not codes.is_known(code):
            raise TableError(f"unknown ISO 3166 code {code!r}", file=file, line=line)
        try:
            kind = Kind(kind_text)
        except ValueError:
            raise TableError(
                f"kind must be one of {', '.join(k.value for k in Kind)},"
                f" not {kind_text!r}",
                file=file,
                line=line,
            ) from None
        age = _parse_age(age_text, kind, file=file, line=line)
        found = _attributes(attributes, file=file, line=line)
        prevailing, prevailing_source = _prevailing(found, age, file=file, line=line)
        return cls(
            code=code,
            kind=kind,
            age=age,
            effective_from=_parse_from(from_text, file=file, line=line),
            sources=tuple(found.get("source", ())),
            note=_single(found, "note", file=file, line=line),
            file=file,
            line=line,
            confidence=_confidence(found, file=file, line=line),
            prevailing=prevailing,
            prevailing_source=prevailing_source,
            service=_service(found, kind, file=file, line=line),
            review_by=_review_by(found, file=file, line=line),
        )

    def age_for(self, reading: ReadingChoice) -> int | None:
        """The age under the strict reading, or the prevailing one if recorded."""
        if reading == "prevailing" and self.prevailing is not None:
            return self.prevailing
        return self.age

    @property
    def contested(self) -> bool:
        return self.prevailing is not None


def _parse_age(text: str, kind: Kind, *, file: str, line: int) -> int | None:
    if text == "none":
        if kind not in (Kind.DIGITAL_CONSENT, Kind.SERVICE_MINIMUM):
            raise TableError(f"a {kind.value} age cannot be none", file=file, line=line)
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


_ATTRIBUTES = (
    "confidence",
    "source",
    "note",
    "prevailing",
    "prevailing_source",
    "service",
    "review_by",
)
_ADDRESSED = ("source", "prevailing_source")


def _attributes(
    attributes: Sequence[str], *, file: str, line: int
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for attribute in attributes:
        key, equals, value = attribute.partition("=")
        if not equals or key not in _ATTRIBUTES:
            raise TableError(
                f"after FROM only {', '.join(_ATTRIBUTES)} may follow",
                file=file,
                line=line,
            )
        if not value.strip():
            raise TableError(f"{key} is empty", file=file, line=line)
        if key in _ADDRESSED and "<http" not in value:
            raise TableError(
                f"a {key} needs a public address in <https://...>",
                file=file,
                line=line,
            )
        found.setdefault(key, []).append(value.strip())
    if "source" not in found:
        raise TableError("every rule needs a source", file=file, line=line)
    return found


def _single(
    found: Mapping[str, Sequence[str]], name: str, *, file: str, line: int
) -> str | None:
    values = found.get(name, ())
    if len(values) > 1:
        raise TableError(f"at most one {name} per rule", file=file, line=line)
    return values[0] if values else None


def _confidence(
    found: Mapping[str, Sequence[str]], *, file: str, line: int
) -> Confidence:
    text = _single(found, "confidence", file=file, line=line)
    if text is None:
        raise TableError(
            "every rule needs confidence=high|medium|low", file=file, line=line
        )
    try:
        return Confidence(text)
    except ValueError:
        raise TableError(
            "confidence must be high, medium or low", file=file, line=line
        ) from None


def _service(
    found: Mapping[str, Sequence[str]], kind: Kind, *, file: str, line: int
) -> str | None:
    service = _single(found, "service", file=file, line=line)
    if (service is None) != (kind is not Kind.SERVICE_MINIMUM):
        raise TableError(
            "a service_minimum rule names its service=, and only it does",
            file=file,
            line=line,
        )
    if service is not None and service not in SERVICE_KINDS:
        raise TableError(
            f"service must be one of {', '.join(SERVICE_KINDS)}", file=file, line=line
        )
    return service


def _review_by(
    found: Mapping[str, Sequence[str]], *, file: str, line: int
) -> date | None:
    text = _single(found, "review_by", file=file, line=line)
    if text is None:
        return None
    when = _parse_from(text, file=file, line=line)
    if when is None:
        raise TableError("review_by must be YYYY-MM-DD", file=file, line=line)
    return when


def _prevailing(
    found: Mapping[str, Sequence[str]], age: int | None, *, file: str, line: int
) -> tuple[int | None, str | None]:
    text = _single(found, "prevailing", file=file, line=line)
    source = _single(found, "prevailing_source", file=file, line=line)
    if text is None and source is None:
        return None, None
    if text is None or source is None:
        raise TableError(
            "prevailing and prevailing_source go together", file=file, line=line
        )
    prevailing = _parse_age(text, Kind.MAJORITY, file=file, line=line)
    # The line's own age is the strict reading: a prevailing age only lowers it.
    if age is None or prevailing is None or prevailing >= age:
        raise TableError(
            "a prevailing age must be lower than the rule's age", file=file, line=line
        )
    return prevailing, source


# A record's words as `shlex.split(record, comments=True)` finds them, for
# records of one line without a backslash: runs of plain characters and
# quoted strings.
_SPACE = re.compile(r"[ \t\r\n]*")
_WORD = re.compile(r"""(?:[^ \t\r\n"'#]+|"[^"]*"|'[^']*')+""")
_PIECE = re.compile(r"""[^"']+|"[^"]*"|'[^']*'""")


def split_record(record: str) -> list[str]:
    """The words of a table record, as `shlex.split(record, comments=True)`
    gives them (ValueError for an unclosed quote); shlex reads a character
    at a time, which made it half the cost of loading the tables (and is
    imported only for the records it is needed for)."""
    import shlex

    if "\\" in record or "\n" in record or "\r" in record:
        return shlex.split(record, comments=True)
    words: list[str] = []
    at = 0
    while True:
        at = _SPACE.match(record, at).end()  # type: ignore[union-attr]
        if at == len(record) or record[at] == "#":
            return words
        found = _WORD.match(record, at)
        if found is None or record[found.end() : found.end() + 1] not in _ENDS:
            return shlex.split(record, comments=True)
        words.append("".join(_unquoted(p) for p in _PIECE.findall(found.group())))
        at = found.end()


_ENDS = ("", " ", "\t", "\r", "\n", "#")


def _unquoted(piece: str) -> str:
    return piece[1:-1] if piece[0] in "\"'" else piece


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
    seen: dict[tuple[str, Kind, str | None], date | None] = {}
    for rule in rules:
        if codes.country_of(rule.code) != country:
            raise TableError(
                f"{rule.code} belongs in {codes.country_of(rule.code)}.txt",
                file=file,
                line=rule.line,
            )
        key = (rule.code, rule.kind, rule.service)
        if key in seen:
            previous = seen[key]
            if rule.effective_from is None or (
                previous is not None and rule.effective_from <= previous
            ):
                raise TableError(
                    f"{rule.code} {_kind_name(rule)}: dates must increase, "
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


def _kind_name(rule: Rule) -> str:
    if rule.service is None:
        return rule.kind.value
    return f"{rule.kind.value} ({rule.service})"


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
        services: dict[tuple[str, str], list[Rule]] = {}
        for rule in rules:
            if rule.code in aliases:
                raise TableError(
                    f"{rule.code} is answered by {aliases[rule.code].target} "
                    f"(see {ALIASES_FILE}); write its rules there",
                    file=rule.file,
                    line=rule.line,
                )
            if rule.service is not None:
                services.setdefault((rule.code, rule.service), []).append(rule)
            else:
                grouped.setdefault((rule.code, rule.kind), []).append(rule)
        self._timelines = {key: _timeline(group) for key, group in grouped.items()}
        self._services = {key: _timeline(group) for key, group in services.items()}
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
        then its country. None where no law sets an age of this kind. For
        `Kind.CONTRACT`, a place without a contract rule in force is answered
        by its majority rule (the returned rule's kind says which).
        """
        when = on if on is not None else live_today()
        for link in self._chain(self.canonical(code)):
            if (found := self._in_force(link, kind, when)) is not None:
                return found
            if kind is Kind.CONTRACT and (
                (found := self._in_force(link, Kind.MAJORITY, when)) is not None
            ):
                return found
        return None

    def service_rule(
        self, code: str, service: str, on: date | None = None
    ) -> Rule | None:
        """The service_minimum rule in force for `code` and this kind of
        service on `on`, following subdivision to country; None where no law
        sets one."""
        if service not in SERVICE_KINDS:
            raise ValueError(f"service must be one of {', '.join(SERVICE_KINDS)}")
        when = on if on is not None else live_today()
        for link in self._chain(self.canonical(code)):
            timeline = self._services.get((link, service))
            if timeline is not None and (found := timeline.in_force(when)):
                return found
        return None

    def service_age(
        self,
        code: str,
        service: str,
        on: date | None = None,
        *,
        reading: ReadingChoice = "strict",
    ) -> int | None:
        """The minimum age for an account on this kind of service, or None."""
        if reading not in READINGS:
            raise ValueError("reading must be 'strict' or 'prevailing'")
        found = self.service_rule(code, service, on)
        return found.age_for(reading) if found is not None else None

    def _in_force(self, code: str, kind: Kind, on: date) -> Rule | None:
        timeline = self._timelines.get((code, kind))
        return timeline.in_force(on) if timeline is not None else None

    def age(
        self,
        code: str,
        kind: Kind,
        on: date | None = None,
        *,
        reading: ReadingChoice = "strict",
    ) -> int | None:
        """The age of `kind` for `code` on `on` under `reading`.

        "strict" (the default) is each line's own, higher age; "prevailing" is
        the lower age recorded where authorities conflict, else the same.
        """
        if reading not in READINGS:
            raise ValueError("reading must be 'strict' or 'prevailing'")
        found = self.rule(code, kind, on)
        return found.age_for(reading) if found is not None else None

    def majority_age(
        self, code: str, on: date | None = None, *, reading: ReadingChoice = "strict"
    ) -> int:
        """The age of majority for `code` on `on` (default: today at UTC-12)."""
        found = self.age(code, Kind.MAJORITY, on, reading=reading)
        if found is None:  # pragma: no cover - load forbids it
            raise UnknownJurisdiction(code)
        return found

    def digital_consent_age(
        self, code: str, on: date | None = None, *, reading: ReadingChoice = "strict"
    ) -> int | None:
        """The digital age of consent, or None where no law sets one."""
        return self.age(code, Kind.DIGITAL_CONSENT, on, reading=reading)

    def contract_age(
        self, code: str, on: date | None = None, *, reading: ReadingChoice = "strict"
    ) -> int:
        """The age of contractual capacity; the age of majority where no rule
        of its own is in force."""
        found = self.age(code, Kind.CONTRACT, on, reading=reading)
        if found is None:  # pragma: no cover - load forbids it
            raise UnknownJurisdiction(code)
        return found

    def all(self) -> Iterator[Rule]:
        """Every loaded rule, by code, kind (service rules last) and date."""
        keyed = [((c, k.value, ""), t) for (c, k), t in self._timelines.items()]
        keyed += [
            ((c, Kind.SERVICE_MINIMUM.value, s), t)
            for (c, s), t in self._services.items()
        ]
        for _, timeline in sorted(keyed, key=lambda item: item[0]):
            yield from timeline.rules

    def history(self, code: str) -> tuple[Rule, ...]:
        """Every rule that can answer for `code`, most specific first."""
        found: list[Rule] = []
        for link in self._chain(self.canonical(code)):
            for kind in Kind:
                timeline = self._timelines.get((link, kind))
                if timeline is not None:
                    found.extend(timeline.rules)
            for service in SERVICE_KINDS:
                timeline = self._services.get((link, service))
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


_lock = threading.Lock()


@attrs.frozen
class _Bundle:
    """What the cache keeps of the bundled tables: the rules, and the codes
    of the pycountry they were checked against."""

    rules: Rules
    codes: codes.Snapshot


@functools.cache
def _load_bundled() -> Rules:
    from . import rules_cache

    directory = bundled_directory()
    key = "\0".join(
        (
            rules_cache.files_of(directory),
            rules_cache.installed("pycountry"),
            rules_cache.source_of("rules", "codes", "age", "services"),
        )
    )
    bundle = rules_cache.cached(
        "tables",
        key,
        _Bundle,
        lambda: _Bundle(Rules.from_directory(directory), codes.take_snapshot()),
    )
    codes.use_snapshot(bundle.codes)
    return bundle.rules


def load_rules(directory: str | Path | None = None) -> Rules:
    """The bundled tables (loaded once), or the tables in `directory`."""
    if directory is not None:
        return Rules.from_directory(Path(directory))
    with _lock:
        return _load_bundled()
