"""Whether a review read its input as meant: a mapped column most of whose
values it cannot read, or a share of rows it cannot read at all, is a run
whose clean report would be wrong.

Two checks, each naming the likely fix and never a value:

* **At the start**, on the first rows (`readers.SAMPLE`): a birthdate,
  collected_at or phone column of which more than half of the values present
  cannot be read (at least `MIN_VALUES` of them; phones: of the first
  `PHONES_READ`, each read as screening reads its record), with the shapes of those
  values (`NN/NN/NNNN`: digits as N, letters as A) and the formats that
  would read them.
* **At the end**, on the counts: more than `UNREADABLE_SHARE` of the rows
  read were unreadable, or more than half of the rows screened were flagged
  BIRTHDATE_INVALID or COLLECTED_AT_INVALID.
"""

from __future__ import annotations

import codecs
import collections
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..birthdate import parse_date
from ..errors import InputProblem
from ..reasons import FlagCode, Reason
from ..rules import Rules, load_rules
from ..screen import MISSING, lookup, read
from .collected import EPOCH_MILLISECONDS, EPOCH_SECONDS, other_date
from .reviewer import CollectedAtInvalid, Reviewer, ReviewSettings, collection_date

# More than this share of the rows read unreadable: the run is not clean.
UNREADABLE_SHARE = 0.01
# More than this share of a column's values unreadable: the column is misread.
INVALID_SHARE = 0.5
# Fewer values present than this in the first rows: too few to tell.
MIN_VALUES = 10
# Phones read in the first rows (each read as screening reads a record).
PHONES_READ = 200
SHAPES_SHOWN = 3
_SHAPE_LENGTH = 24

BIRTH_GUESSES = (
    "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y",
    "%Y-%m-%d", "%Y%m%d", "%d %b %Y", "%b %d, %Y", "%d/%m/%y", "%m/%d/%y",
)  # fmt: skip
COLLECTED_GUESSES = (
    EPOCH_MILLISECONDS, EPOCH_SECONDS, "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y", "%d/%m/%Y",
    "%Y/%m/%d %H:%M:%S", "%a, %d %b %Y %H:%M:%S %z", "%a %b %d %H:%M:%S %Y",
)  # fmt: skip
_CSV_REASONS = frozenset({"malformed CSV", "NUL byte in row", "field too large"})
_PHONE_UNREAD = frozenset({Reason.PHONE_MALFORMED, Reason.PHONE_INVALID})


@attrs.frozen
class Finding:
    """One reason the run's result cannot be taken as it is: `field` is a
    mapped field, or "rows"; `message` names the fix and no value."""

    field: str
    message: str


def shape(text: str) -> str:
    """The shape of a value: digits as N, letters as A, the rest kept where
    it is ASCII punctuation or a space (else `?`)."""
    out = []
    for char in text[:_SHAPE_LENGTH]:
        if char.isdigit():
            out.append("N")
        elif char.isalpha():
            out.append("A")
        elif (
            char.isascii()
            and (char == " " or not char.isalnum())
            and char.isprintable()
        ):
            out.append(char)
        else:
            out.append("?")
    return "".join(out) + ("..." if len(text) > _SHAPE_LENGTH else "")


@attrs.define
class _Column:
    """What the first rows hold in one mapped column."""

    field: str
    key: str
    present: int = 0
    unread: list[str] = attrs.field(factory=list)
    # Values unread in rows that name no country (phones in national form).
    countryless: int = 0

    def misread(self) -> bool:
        unread = len(self.unread)
        return self.present >= MIN_VALUES and unread > INVALID_SHARE * self.present

    def shapes(self) -> str:
        counts = collections.Counter(shape(text) for text in self.unread)
        return ", ".join(s for s, _ in counts.most_common(SHAPES_SHOWN))

    def head(self) -> str:
        return (
            f"--map {self.field}={self.key}: {len(self.unread)} of the {self.present}"
            f" values in the first rows cannot be read (shapes: {self.shapes()})"
        )


def sample_findings(
    rows: Iterable[Mapping[str, Any]], settings: ReviewSettings
) -> list[Finding]:
    """The mapped columns most of whose values in `rows` cannot be read."""
    fields, policy = settings.fields, settings.policy
    rules = load_rules(settings.rules_directory)
    columns = {
        f: _Column(f, keys[0])
        for f in ("birthdate", "collected_at", "phone")
        if (keys := fields.keys_of(f))
    }
    reviewer = Reviewer(settings, rules)
    births: dict[str, bool] = {}
    for row in rows:
        record = reviewer.unquoted(row)
        _count_collected(columns.get("collected_at"), record, settings)
        birth = columns.get("birthdate")
        text = _text(record, birth.key) if birth is not None else None
        if birth is not None and text is not None:
            birth.present += 1
            if text not in births:
                births[text] = _birth(text, policy.birthdate_formats)
            if not births[text]:
                birth.unread.append(text)
        phone = columns.get("phone")
        if phone is not None and phone.present < PHONES_READ:
            _count_phone(phone, record, settings, rules)
    return [_finding(column) for column in columns.values() if column.misread()]


def _text(record: Mapping[str, Any], key: str) -> str | None:
    try:
        value = lookup(record, key)
    except InputProblem:
        return None
    if value is MISSING or not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def _count_phone(
    column: _Column, record: Mapping[str, Any], settings: ReviewSettings, rules: Rules
) -> None:
    """A phone read as screening reads it, in the row's country."""
    text = _text(record, column.key)
    if text is None:
        return
    column.present += 1
    fields = settings.fields
    reading = read(record, policy=settings.policy, fields=fields, rules=rules)
    key = column.key
    if any(p.field == key and p.reason in _PHONE_UNREAD for p in reading.problems):
        column.unread.append(text)
        countries = fields.keys_of("country")
        column.countryless += not any(_text(record, k) for k in countries)


def _count_collected(
    column: _Column | None, record: Mapping[str, Any], settings: ReviewSettings
) -> None:
    text = _text(record, column.key) if column is not None else None
    if column is None or text is None:
        return
    column.present += 1
    try:
        collection_date(text, settings.today, settings.collected_formats)
    except CollectedAtInvalid:
        column.unread.append(text)


def _finding(column: _Column) -> Finding:
    if column.field == "birthdate":
        fix = _fix(
            "--date-format", _guesses(column.unread, BIRTH_GUESSES, _birth_guess)
        )
    elif column.field == "collected_at":
        fix = _fix(
            "--collected-format", _guesses(column.unread, COLLECTED_GUESSES, _collected)
        )
    else:
        fix = (
            "numbers without their country code are read in the row's country:"
            " give --map country=COLUMN"
            if column.countryless > len(column.unread) // 2
            else "check the column; --phone-optional ignores unusable numbers"
        )
    return Finding(column.field, f"{column.head()}; {fix}")


def _birth(text: str, formats: Sequence[str]) -> bool:
    try:
        parse_date(text, formats)
    except InputProblem:
        return False
    return True


def _birth_guess(text: str, fmt: str) -> bool:
    return _birth(text, (fmt,))


def _collected(text: str, fmt: str) -> bool:
    return other_date(text, (fmt,)) is not None


def _guesses(texts: Sequence[str], candidates: Sequence[str], reads: Any) -> list[str]:
    """The candidate formats that read the most of `texts` (all ties)."""
    counts = {fmt: sum(1 for text in texts if reads(text, fmt)) for fmt in candidates}
    best = max(counts.values(), default=0)
    return [fmt for fmt, count in counts.items() if count == best] if best else []


def _fix(option: str, guesses: list[str]) -> str:
    if not guesses:
        return f"give {option} with the format they are written in"
    if len(guesses) == 1:
        return f"give {option} '{guesses[0]}'"
    shown = " or ".join(f"'{g}'" for g in guesses)
    return f"give {option} {shown} (the values do not tell which: check the source)"


def run_findings(
    rows_read: int,
    rows_unreadable: int,
    reasons: Iterable[str],
    by_code: Mapping[str, int],
    rows_screened: int,
) -> list[Finding]:
    """What the counts of a whole run say was misread."""
    found = []
    if rows_read and rows_unreadable > UNREADABLE_SHARE * rows_read:
        found.append(
            Finding("rows", _rows_message(rows_read, rows_unreadable, reasons))
        )
    checked = (
        ("birthdate", FlagCode.BIRTHDATE_INVALID, "--date-format"),
        ("collected_at", FlagCode.COLLECTED_AT_INVALID, "--collected-format"),
    )
    for field, code, option in checked:
        count = by_code.get(code, 0)
        if rows_screened >= MIN_VALUES and count > INVALID_SHARE * rows_screened:
            found.append(
                Finding(
                    field,
                    f"{count} of the {rows_screened} rows screened were flagged {code};"
                    f" give {option} with the format the {field} column is written in",
                )
            )
    return found


def _rows_message(rows_read: int, unreadable: int, reasons: Iterable[str]) -> str:
    counts = collections.Counter(reasons)
    listed = ", ".join(f"{reason}: {count}" for reason, count in counts.most_common(3))
    share = 100 * unreadable / rows_read
    message = (
        f"{unreadable} of the {rows_read} rows read ({share:.1f}%) could not be read"
        f" ({listed}), more than {UNREADABLE_SHARE:.0%}"
    )
    if any(_encoding(reason) for reason in counts):
        return message + "; give --encoding, e.g. --encoding cp1252 or latin-1"
    if any(reason in _CSV_REASONS or " fields, found " in reason for reason in counts):
        return message + "; check --delimiter, and the quoting of the rows listed"
    return message + "; fix the rows listed, by line"


def _encoding(reason: str) -> bool:
    """Whether a reader's reason says the bytes are not in the encoding
    (`not UTF-8`, `not cp1252`)."""
    if not reason.startswith("not "):
        return False
    try:
        codecs.lookup(reason[4:])
    except LookupError:
        return False
    return True
