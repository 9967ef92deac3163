"""Batch review, row by row: screen stored accounts and turn the decisions
into flags.

This is the row engine: the reference the columnar engine (`columnar`) is
held to by differential tests, what that engine asks for the flag of each
distinct decision key and for each row with anything unusual, the engine of
assurance reviews, and what `agegate review` uses for a small file (no Arrow
to load). Each account is screened with the same logic the middleware uses
(`screen()` is `decide(read(record), on)`): read once, then decided twice, on
the date its data was collected (with the rule in force then) and today.

* `collected_at` with a time and an offset is read as its date at UTC-12,
  like live screening; a bare date, or a time without an offset, is taken as
  the calendar date it names. An unreadable or future value raises
  COLLECTED_AT_INVALID and, like a missing value, leaves only today's
  screening.
* A declared `age` is the age at collection: for today's screening the
  person is taken to have been born on the latest date consistent with it,
  which errs toward a younger person.
* An account without an id is identified by a keyed hash of its screened
  fields, never by any of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ..age import age_on, live_today
from ..decision import BIRTH_REASONS, Decision, Outcome
from ..errors import AgeGateError, InputProblem
from ..flags.model import Action, Flag
from ..keys import secret_bytes
from ..logs import logger
from ..policy import BIRTH_FIELDS, SCREENED_FIELDS, FieldMap, Policy
from ..reasons import FlagCode, Reason
from ..rules import Rules, load_rules
from ..screen import MISSING, Reading, decide, lookup, read
from . import identity
from .collected import check_formats, other_date
from .readers import Item, Row

if TYPE_CHECKING:  # an assurance review loads it
    from ..assurance.model import Level

SOURCE = "review"
# The logger of a review's problems with its rows.
LOG = "agegate.review"
Locator = Literal["line", "rowid"]

# The order codes are listed in a flag, most serious first.
CODE_ORDER = (
    FlagCode.MINOR_AT_COLLECTION,
    FlagCode.MINOR_NOW,
    FlagCode.BIRTHDATE_MISSING,
    FlagCode.BIRTHDATE_INVALID,
    FlagCode.JURISDICTION_UNKNOWN,
    FlagCode.COLLECTED_AT_INVALID,
    FlagCode.SIGNALS_CONFLICT,
    FlagCode.ASSURANCE_LAPSED,
)
REMOVE_CODES = frozenset({FlagCode.MINOR_AT_COLLECTION, FlagCode.MINOR_NOW})

_PLACE_REASONS = frozenset(
    {
        Reason.JURISDICTION_MISSING,
        Reason.COUNTRY_UNKNOWN,
        Reason.COUNTRY_AMBIGUOUS,
        Reason.SUBDIVISION_UNKNOWN,
        Reason.SUBDIVISION_AMBIGUOUS,
        Reason.SUBDIVISION_WITHOUT_COUNTRY,
        Reason.POSTAL_CODE_UNKNOWN,
        Reason.PHONE_MALFORMED,
        Reason.PHONE_INVALID,
    }
)
# Fields that point to a place, grouped by the signal they make; used to ask
# whether one signal alone would have decided otherwise.
_SIGNAL_GROUPS = (
    ("country", "subdivision"),
    ("billing_country", "billing_subdivision", "billing_postal_code"),
    ("phone",),
)
_IDENTITY = FieldMap()
# Fields whose cells a spreadsheet keeps as text with a leading apostrophe
# ('+16045550123): the apostrophe is not part of the value.
SPREADSHEET_FIELDS = ("birthdate", "phone", "collected_at")

_BARE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)


class CollectedAtInvalid(AgeGateError, ValueError):
    """A collection timestamp that cannot be read, or lies in the future."""

    code = FlagCode.COLLECTED_AT_INVALID


def collection_date(text: str, today: date, formats: Sequence[str] = ()) -> date:
    """The calendar date a collection timestamp stands for (see module doc);
    `formats` (`collected`) are tried on a value not in ISO 8601."""
    cleaned = text.strip()
    if _BARE_DATE.fullmatch(cleaned):
        try:
            found = date.fromisoformat(cleaned)
        except ValueError:
            raise CollectedAtInvalid from None
    elif _TIMESTAMP.fullmatch(cleaned):
        try:
            instant = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
        except ValueError:
            raise CollectedAtInvalid from None
        found = live_today(instant) if instant.tzinfo else instant.date()
    else:
        other = other_date(cleaned, formats)
        if other is None:
            raise CollectedAtInvalid
        found = other
    if found > today:
        raise CollectedAtInvalid
    return found


def age_now(declared: int, collected: date, today: date) -> int:
    """Today's age of a person who declared `declared` years on `collected`.

    The latest birthdate consistent with the declaration is the collection
    day `declared` years earlier (28 February for a 29 February that year
    lacks), which makes the person as young as the declaration allows.
    """
    year = collected.year - declared
    try:
        born = collected.replace(year=year)
    except ValueError:
        born = date(year, 2, 28)
    return age_on(born, today)


@attrs.frozen
class ReviewSettings:
    """What a review needs besides its input; picklable for worker processes."""

    today: date
    # str or bytes; kept as bytes, refused when too short to key an HMAC.
    secret: bytes = attrs.field(repr=False, converter=secret_bytes)
    fields: FieldMap = attrs.field(factory=FieldMap)
    policy: Policy = attrs.field(factory=Policy)
    rules_directory: str | None = None
    # How a flag points at its row: the line a record starts on (text
    # files), or the row's rowid (SQLite).
    locator: Locator = attrs.field(
        default="line", validator=attrs.validators.in_(("line", "rowid"))
    )
    # Jurisdiction code -> the least Level a signup there must have proven
    # (an AssurancePolicy's `required`); an account whose proof has lapsed,
    # or that has none, is flagged ASSURANCE_LAPSED (`verify`, never
    # `remove` on that alone). Read from the `assurance_valid_until` field.
    assurance: dict[str, Level] | None = None
    # How collected_at is written where it is not ISO 8601 (`collected`):
    # strftime formats, `epoch-s`, `epoch-ms`.
    collected_formats: tuple[str, ...] = attrs.field(
        default=(), converter=check_formats
    )


@attrs.frozen
class Batch:
    """What screening one batch of input rows produced."""

    screened: int
    flags: tuple[Flag, ...]
    unreadable: tuple[tuple[int, str], ...]
    # Ids of the accounts screened that raised no flag: a store closes
    # their open flags.
    clean: tuple[str, ...] = ()

    @property
    def rows_read(self) -> int:
        return self.screened + len(self.unreadable)


class Reviewer:
    """Screens account rows into flags. One per process; holds its caches."""

    def __init__(self, settings: ReviewSettings, rules: Rules | None = None) -> None:
        self.settings = settings
        self.rules = (
            rules if rules is not None else load_rules(settings.rules_directory)
        )
        keys = settings.fields.keys()
        self._id_key = keys.get("account_id")
        self._collected_key = keys.get("collected_at")
        fields = settings.fields
        self._screened = tuple(
            (f, k) for f in SCREENED_FIELDS for k in fields.keys_of(f)
        )
        # A field read from several keys cannot be flattened to its name.
        self._flat = len(self._screened) == len({f for f, _ in self._screened})
        self._age_key = keys.get("age")
        self._collected: dict[str, date | None] = {}
        self._quoted = tuple(k for f in SPREADSHEET_FIELDS for k in fields.keys_of(f))

    # -- one row -----------------------------------------------------------

    def review(self, record: Mapping[str, Any]) -> Flag | None:
        """The flag one account raises, or None."""
        today = self.settings.today
        record = self.unquoted(record)
        flat = self._flatten(record)
        collected, collected_invalid = self._collection(record)

        reading = self._read(record, flat)
        now = self._decide(self._age_today(reading, collected, today), today)
        then = self._decide(reading, collected) if collected is not None else None

        found: set[str] = set()
        if collected_invalid:
            found.add(FlagCode.COLLECTED_AT_INVALID)
        found |= self._decision_codes(then, FlagCode.MINOR_AT_COLLECTION, flat)
        found |= self._decision_codes(now, FlagCode.MINOR_NOW, flat)
        if self.settings.assurance is not None and self._lapsed(record, now):
            found.add(FlagCode.ASSURANCE_LAPSED)
        if not found:
            return None
        # The decision a flag reports: today's, unless only the one at
        # collection found a minor.
        basis = now
        if (
            then is not None
            and FlagCode.MINOR_AT_COLLECTION in found
            and FlagCode.MINOR_NOW not in found
        ):
            basis = then
        return self._flag(record, flat, found, basis)

    def unquoted(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """The record with the apostrophes a spreadsheet puts before a phone
        or a date it keeps as text taken off, as the spreadsheet shows it."""
        changed: dict[str, Any] | None = None
        for key in self._quoted:
            value = record.get(key)
            if isinstance(value, str) and value.startswith("'"):
                if changed is None:
                    changed = dict(record)
                changed[key] = value.lstrip("'")
        return record if changed is None else changed

    def _lapsed(self, record: Mapping[str, Any], now: Decision) -> bool:
        """Whether an account the policy wants proven holds no proof valid
        today (none, unreadable, or expired)."""
        from ..assurance.model import Level
        from ..assurance.policy import strictest

        required = self.settings.assurance or {}
        if now.outcome is not Outcome.ALLOW:
            return False
        codes = (now.jurisdiction, *now.jurisdictions)
        if strictest(required, codes) <= Level.ASSERTED:
            return False
        key = self.settings.fields.assurance_valid_until
        value = self._value(record, key) if key is not None else None
        text = str(value).strip()[:10] if isinstance(value, str | date) else ""
        try:
            return date.fromisoformat(text) < self.settings.today
        except ValueError:
            return True

    def _decision_codes(
        self, decision: Decision | None, minor_code: str, flat: dict[str, Any] | None
    ) -> set[str]:
        """The codes one decision raises; `minor_code` when it blocks."""
        if decision is None:
            return set()
        found = self._codes(decision)
        if decision.outcome is Outcome.BLOCK:
            found.add(minor_code)
            if decision.signals_conflict and self._conflict_decided(
                flat, decision.on or self.settings.today
            ):
                found.add(FlagCode.SIGNALS_CONFLICT)
        return found

    def _flag(
        self,
        record: Mapping[str, Any],
        flat: dict[str, Any] | None,
        found: set[str],
        basis: Decision,
    ) -> Flag:
        action: Action = "remove" if REMOVE_CODES & found else "verify"
        fingerprint = self._fingerprint(record, flat)
        return Flag(
            account_id=self._account_id(record, fingerprint),
            codes=tuple(code for code in CODE_ORDER if code in found),
            action=action,
            jurisdiction=basis.jurisdiction,
            required_age=basis.required_age,
            source=SOURCE,
            fingerprint=fingerprint,
        )

    def review_batch(self, items: Iterable[Item]) -> Batch:
        flags: list[Flag] = []
        unreadable: list[tuple[int, str]] = []
        clean: list[str] = []
        screened = 0
        for item in items:
            if isinstance(item, Row):
                screened += 1
                flag = self.review(item.values)
                if flag is not None:
                    flags.append(self._locate(flag, item))
                elif (account := self._given_id(item.values)) is not None:
                    clean.append(account)
            else:
                unreadable.append((item.line, item.reason))
        return Batch(screened, tuple(flags), tuple(unreadable), tuple(clean))

    def _locate(self, flag: Flag, row: Row) -> Flag:
        if self.settings.locator == "rowid":
            return attrs.evolve(flag, rowid=row.rowid)
        return attrs.evolve(flag, line=row.line)

    # -- helpers -----------------------------------------------------------

    def _flatten(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The screened fields under their own names, or None if a dotted key
        is ambiguous (then screen() reads the record itself and says so)."""
        if not self._flat:
            return None
        flat: dict[str, Any] = {}
        for field, key in self._screened:
            if "." in key:
                try:
                    value = lookup(record, key)
                except InputProblem:  # an ambiguous dotted key
                    return None
                if value is MISSING:
                    continue
            else:
                value = record.get(key)
            if value is not None:
                flat[field] = value
        return flat

    def _collection(self, record: Mapping[str, Any]) -> tuple[date | None, bool]:
        if self._collected_key is None:
            return None, False
        value = self._value(record, self._collected_key)
        if value is None:
            return None, False
        text = str(value).strip() if isinstance(value, str | int) else None
        if not text:
            return None, text is None
        cache = self._collected
        if text not in cache:
            if len(cache) > 100_000:
                cache.clear()
            try:
                cache[text] = collection_date(
                    text, self.settings.today, self.settings.collected_formats
                )
            except CollectedAtInvalid:
                cache[text] = None
        found = cache[text]
        return found, found is None

    @staticmethod
    def _age_today(reading: Reading, collected: date | None, today: date) -> Reading:
        """A declared age is the age at collection: carried forward to today."""
        if collected is None:
            return reading
        return reading.with_declared_ages(lambda age: age_now(age, collected, today))

    def _read(self, record: Mapping[str, Any], flat: dict[str, Any] | None) -> Reading:
        settings = self.settings
        if flat is None:
            return read(
                record, policy=settings.policy, fields=settings.fields, rules=self.rules
            )
        return read(flat, policy=settings.policy, fields=_IDENTITY, rules=self.rules)

    def _decide(self, reading: Reading, on: date) -> Decision:
        return decide(reading, policy=self.settings.policy, on=on, rules=self.rules)

    def _codes(self, decision: Decision) -> set[str]:
        found: set[str] = set()
        reasons = set(decision.reasons)
        if Reason.BIRTHDATE_MISSING in reasons:
            found.add(FlagCode.BIRTHDATE_MISSING)
        if reasons & BIRTH_REASONS:
            found.add(FlagCode.BIRTHDATE_INVALID)
        if reasons & _PLACE_REASONS:
            found.add(FlagCode.JURISDICTION_UNKNOWN)
        if Reason.FIELD_AMBIGUOUS in reasons:
            birth_keys = set(self.settings.fields.birth_keys()) | set(BIRTH_FIELDS)
            if set(decision.fields) & birth_keys:
                found.add(FlagCode.BIRTHDATE_INVALID)
            if set(decision.fields) - birth_keys:
                found.add(FlagCode.JURISDICTION_UNKNOWN)
        return found

    def _conflict_decided(self, flat: dict[str, Any] | None, on: date) -> bool:
        """Whether some signal alone would not have blocked: then the
        conflict, not the person's age alone, decided the outcome."""
        if flat is None:
            return True
        place_fields = {f for group in _SIGNAL_GROUPS for f in group}
        base = {k: v for k, v in flat.items() if k not in place_fields}
        for group in _SIGNAL_GROUPS:
            alone = {k: v for k, v in flat.items() if k in group}
            if not alone:
                continue
            decision = self._decide(self._read({}, {**base, **alone}), on)
            if decision.outcome is not Outcome.BLOCK:
                return True
        return False

    def _value(self, record: Mapping[str, Any], key: str) -> Any:
        if "." not in key:
            return record.get(key)
        try:
            value = lookup(record, key)
        except InputProblem:  # an ambiguous dotted key
            return None
        return None if value is MISSING else value

    def _fingerprint(
        self, record: Mapping[str, Any], flat: dict[str, Any] | None
    ) -> str:
        """A keyed hash of the screened fields: equal exactly when they are."""
        if flat is not None:
            values = [flat.get(field) for field, _ in self._screened]
        else:
            values = [self._value(record, key) for _, key in self._screened]
        if self._collected_key is not None:
            values.append(self._value(record, self._collected_key))
        return identity.fingerprint(self.settings.secret, identity.message_of(values))

    def _given_id(self, record: Mapping[str, Any]) -> str | None:
        """The account's id as the input gives it, or None."""
        if self._id_key is None:
            return None
        return identity.given_id(self._value(record, self._id_key))

    def _account_id(self, record: Mapping[str, Any], fingerprint: str) -> str:
        given = self._given_id(record)
        if given is not None:
            return given
        return identity.derived_id(self.settings.secret, fingerprint)


def screen_batch(reviewer: Reviewer, items: list[Item]) -> Batch:
    """Screen one batch; a row screening cannot handle becomes unreadable,
    so every row is still accounted for and the run goes on."""
    try:
        return reviewer.review_batch(items)
    except Exception:
        logger(LOG).exception("a batch could not be screened; retrying row by row")
    flags: list[Flag] = []
    unreadable: list[tuple[int, str]] = []
    clean: list[str] = []
    screened = 0
    for item in items:
        try:
            result = reviewer.review_batch([item])
        except Exception as error:
            line = item.line
            why = type(error).__name__
            logger(LOG).error("line %d: could not be screened (%s)", line, why)
            unreadable.append((line, "could not be screened"))
            continue
        screened += result.screened
        flags.extend(result.flags)
        unreadable.extend(result.unreadable)
        clean.extend(result.clean)
    return Batch(screened, tuple(flags), tuple(unreadable), tuple(clean))
