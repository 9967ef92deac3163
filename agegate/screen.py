"""One pure function that decides for both doors: record in, Decision out.

The middleware screens a signup with it and the batch review screens each
stored account with it, so the two can never disagree. `screen()` is
`decide(read(record), on)`: the batch review reads a record once and decides
on two dates (collection and today).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final, TypeVar

import attrs

from . import codes, phone, signals
from .age import age_on, live_today
from .birthdate import (
    Birth,
    check_plausible,
    from_parts,
    parse_date,
    parse_int,
)
from .decision import BIRTH_REASONS, Decision, Outcome, Problem
from .errors import InputProblem
from .policy import FIELDS, FieldMap, Policy
from .reasons import Reason
from .rules import Kind, Rules, load_rules

# What `lookup` returns for a key the record does not hold (None is a value).
MISSING: Final = object()
# Values are frozen, so the defaults are built once, not on every call.
_DEFAULT_POLICY = Policy()
_DEFAULT_FIELDS = FieldMap()
T = TypeVar("T")


def lookup(record: Mapping[str, Any], key: str) -> Any:
    """The value under `key`; a dotted key reaches into nested objects.

    Returns MISSING for a key the record does not hold. A record holding the
    value both under the literal dotted key and under the nested path could
    be read two ways: InputProblem(FIELD_AMBIGUOUS, key) is raised.
    """
    if "." not in key:
        return record.get(key, MISSING)
    literal = record.get(key, MISSING)
    node: Any = record
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            node = MISSING
            break
        node = node[part]
    if literal is not MISSING and node is not MISSING and literal is not node:
        raise InputProblem(Reason.FIELD_AMBIGUOUS, key)
    return node if node is not MISSING else literal


def present_birth_keys(record: Mapping[str, Any], fields: FieldMap) -> tuple[str, ...]:
    """The mapped birth keys (date, parts, declared age) a record carries.

    A key counts whatever its value, null and empty included, and so does a
    dotted key the record holds two ways: a caller deciding whether an update
    touches the birthdate must screen it in every such case.
    """
    found: list[str] = []
    for key in fields.birth_keys():
        try:
            present = lookup(record, key) is not MISSING
        except InputProblem:
            present = True
        if present:
            found.append(key)
    return tuple(found)


@functools.lru_cache(maxsize=64)
def _keys(fields: FieldMap) -> dict[str, tuple[str, ...]]:
    return {field: keys for field in FIELDS if (keys := fields.keys_of(field))}


@functools.lru_cache(maxsize=64)
def _birth_keys(fields: FieldMap) -> frozenset[str]:
    return frozenset(fields.birth_keys())


class _Reader:
    """Reads text fields of one record, collecting problems by field name."""

    def __init__(self, record: Mapping[str, Any], fields: FieldMap) -> None:
        self.record = record
        self.keys = _keys(fields)
        self.problems: list[Problem] = []

    def texts(self, field: str, not_text_reason: Reason) -> list[tuple[str, str]]:
        """(key, text) for every key of `field` that holds a value."""
        found: list[tuple[str, str]] = []
        for key in self.keys.get(field, ()):
            text = self._text_at(key, not_text_reason)
            if text is not None:
                found.append((key, text))
        return found

    def text(self, field: str, not_text_reason: Reason) -> str | None:
        found = self.texts(field, not_text_reason)
        return found[0][1] if found else None

    def _text_at(self, key: str, not_text_reason: Reason) -> str | None:
        try:
            value = lookup(self.record, key)
        except InputProblem as problem:
            self.problems.append(Problem(key, problem.reason))
            return None
        if value is MISSING or value is None:
            return None
        if type(value) is str:
            return value.strip() or None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(Problem(key, not_text_reason))
            return None
        text = str(value).strip()
        return text or None

    def attempt(self, field: str, action: Callable[[], Any]) -> Any:
        keys = self.keys.get(field)
        return self.attempt_at(keys[0] if keys else field, action)

    def attempt_at(self, key: str, action: Callable[..., T], *args: Any) -> T | None:
        try:
            return action(*args)
        except InputProblem as problem:
            found = Problem(key, problem.reason)
            # Keys read in pairs (country by subdivision) meet one key twice.
            if found not in self.problems:
                self.problems.append(found)
            return None


Births = tuple[tuple[str, Birth], ...]


def _read_birth(reader: _Reader, policy: Policy) -> tuple[Births, bool]:
    """Every birth input present, each read on its own, keyed by its input key;
    and whether split parts without a year contradict a full date.

    An app may read any of them (a model field with aliases, an `age` field
    beside a `birthdate`), so none is skipped because another is present.
    """
    found: list[tuple[str, Birth]] = []
    formats = policy.birthdate_formats
    for key, text in reader.texts("birthdate", Reason.BIRTHDATE_MALFORMED):
        born = reader.attempt_at(key, parse_date, text, formats)
        if born is not None:
            found.append((key, Birth(born=born)))
    for key, text in reader.texts("age", Reason.AGE_MALFORMED):
        age = reader.attempt_at(key, parse_int, text, Reason.AGE_MALFORMED)
        if age is not None:
            found.append((key, Birth(declared_age=age)))
    full = [birth.born for _, birth in found if birth.born is not None]
    parts, conflict = _read_parts(reader, full)
    return tuple(found) + parts, conflict


def _read_parts(reader: _Reader, full: list[date]) -> tuple[Births, bool]:
    """Split birthdate fields: one reading per combination of their keys.

    Parts without a year are only a check against a full date; alone they
    say nothing about an age (the year may be stored elsewhere, out of the
    gate's sight), so they are refused as incomplete.
    """
    malformed = Reason.BIRTHDATE_MALFORMED
    years = reader.texts("birth_year", malformed)
    months = reader.texts("birth_month", malformed)
    days = reader.texts("birth_day", malformed)
    if years:
        found: list[tuple[str, Birth]] = []
        for (key, year), month, day in itertools.product(
            years, _or_none(months), _or_none(days)
        ):
            birth = reader.attempt_at(key, from_parts, year, _text(month), _text(day))
            if birth is not None:
                found.append((key, birth))
        return tuple(found), False
    if not (months or days):
        return (), False
    if not full:
        reader.problems.append(
            Problem((months or days)[0][0], Reason.BIRTHDATE_INCOMPLETE)
        )
        return (), False
    return (), _parts_contradict(reader, months, days, full)


def _or_none(found: list[tuple[str, str]]) -> list[tuple[str, str] | None]:
    return [*found] if found else [None]


def _text(found: tuple[str, str] | None) -> str | None:
    return found[1] if found is not None else None


def _parts_contradict(
    reader: _Reader,
    months: list[tuple[str, str]],
    days: list[tuple[str, str]],
    full: list[date],
) -> bool:
    contradict = False
    for parts, of_date in ((months, _month), (days, _day)):
        for key, text in parts:
            number = reader.attempt_at(key, parse_int, text, Reason.BIRTHDATE_MALFORMED)
            if number is not None and any(of_date(born) != number for born in full):
                contradict = True
    return contradict


def _month(born: date) -> int:
    return born.month


def _day(born: date) -> int:
    return born.day


def _read_signals(
    reader: _Reader, policy: Policy, trusted_country: str | None
) -> tuple[list[signals.Signal], str | None]:
    """Every signal the record and the proxy give, with the codes each points
    to; and the region a phone in national form is read in.

    A problem is reported on the key that caused it: an unknown subdivision
    names the subdivision's key, and the country beside it still counts. A
    field mapped to several keys is read under each key present.
    """
    found: list[signals.Signal] = []
    declared_countries, declared = _places(reader, "country", "subdivision")
    _add(found, "declared", declared)

    billing_countries, billing = _places(
        reader, "billing_country", "billing_subdivision"
    )
    # A postal code is read in the billing country, else the declared one;
    # a phone in national form in the declared country, else the billing one.
    postal_region = next(iter(billing_countries + declared_countries), None)
    billing = _with_postal(reader, billing, postal_region)
    _add(found, "billing", billing)

    phone_region = phone_region_of(declared_countries, billing_countries)
    _add(found, "phone", _phone(reader, policy, phone_region))

    if trusted_country is not None:
        _add(
            found,
            "ip_country",
            reader.attempt("ip_country", lambda: _trusted(trusted_country)),
        )
    return found, phone_region


def phone_region_of(declared: list[str], billing: list[str]) -> str | None:
    """The region a phone in national form is read in: the first declared
    country read, else the first billing one (`Reading.phone_region` holds
    it, so a caller reading phones apart reads them in the same region)."""
    return next(iter(declared + billing), None)


def _add(
    found: list[signals.Signal], source: str, jurisdictions: tuple[str, ...] | None
) -> None:
    if jurisdictions:
        found.append(signals.Signal(source, jurisdictions))


Keyed = tuple[str, str]


def _places(
    reader: _Reader, country_field: str, subdivision_field: str
) -> tuple[list[str], tuple[str, ...]]:
    """Every country read, and the codes of every country and subdivision
    present (each pair of their keys, as an app may read any of them)."""
    countries: list[Keyed | None] = [
        *reader.texts(country_field, Reason.COUNTRY_UNKNOWN)
    ] or [None]
    subdivisions: list[Keyed | None] = [
        *reader.texts(subdivision_field, Reason.SUBDIVISION_UNKNOWN)
    ] or [None]
    read: list[str] = []
    found: list[str] = []
    for country_text, subdivision_text in itertools.product(countries, subdivisions):
        country, pair = _place(reader, country_text, subdivision_text)
        if country is not None:
            read.append(country)
        found.extend(pair)
    return list(dict.fromkeys(read)), tuple(dict.fromkeys(found))


def _place(
    reader: _Reader, country_text: Keyed | None, subdivision_text: Keyed | None
) -> tuple[str | None, tuple[str, ...]]:
    """A country and subdivision pair: the country read, and the codes both give."""
    # A withdrawn code (SU, YU, TP, ...) stands for today's countries on
    # its territory; with a subdivision it is refused below, as the
    # subdivision could belong to any of them.
    if (
        country_text is not None
        and subdivision_text is None
        and (withdrawn := codes.successors(country_text[1]))
    ):
        return None, withdrawn
    country: str | None = None
    if country_text is not None:
        country = reader.attempt_at(
            country_text[0], signals.country_code, country_text[1]
        )
    subdivision: str | None = None
    # A subdivision name means nothing once its country could not be read;
    # a full code such as US-AL still does.
    if subdivision_text is not None and (
        country is not None or country_text is None or "-" in subdivision_text[1]
    ):
        subdivision = reader.attempt_at(
            subdivision_text[0],
            signals.subdivision_code,
            subdivision_text[1],
            country,
        )
    if country is None and subdivision is not None:
        country = codes.country_of(subdivision)
    if country_text is not None and subdivision_text is None and country:
        subdivision = signals.named_subdivision(country_text[1])
    return country, signals.combine(country, subdivision)


def _with_postal(
    reader: _Reader, billing: tuple[str, ...], country: str | None
) -> tuple[str, ...]:
    """The billing codes with those every billing postal code points to."""
    found = list(billing)
    for key, postal in reader.texts("billing_postal_code", Reason.POSTAL_CODE_UNKNOWN):
        from_postal = reader.attempt_at(key, signals.postal_code, postal, country)
        if from_postal:
            found.extend(from_postal)
    return tuple(dict.fromkeys(found))


def _phone(
    reader: _Reader, policy: Policy, region: str | None
) -> tuple[str, ...] | None:
    """The codes every phone number points to, read in the region given."""
    before = len(reader.problems)
    found: list[str] = []
    for key, number in reader.texts("phone", Reason.PHONE_MALFORMED):
        codes_found = reader.attempt_at(key, phone.jurisdictions, number, region)
        if codes_found:
            found.extend(codes_found)
    if policy.phone_optional:
        del reader.problems[before:]
    return tuple(dict.fromkeys(found)) or None


def _trusted(country: str) -> tuple[str, ...]:
    code = signals.trusted_country_code(country)
    return (code,) if code else ()


_KINDS = {
    "majority": Kind.MAJORITY,
    "digital_consent": Kind.DIGITAL_CONSENT,
    "contract": Kind.CONTRACT,
}


@attrs.frozen
class _Threshold:
    """A jurisdiction's age, and whether a contested rule's reading gave it."""

    age: int
    contested: bool = False


def _threshold(code: str, policy: Policy, rules: Rules, on: date) -> _Threshold:
    # One lookup gives both the age under the policy's reading (what
    # `Rules.age(..., reading=)` answers) and whether the rule is contested.
    rule = rules.rule(code, _KINDS[policy.threshold], on)
    table = rule.age_for(policy.readings) if rule is not None else None
    if policy.service is not None:
        service = rules.service_rule(code, policy.service, on)
        served = service.age_for(policy.readings) if service is not None else None
        if served is not None and (table is None or served > table):
            rule, table = service, served
    override = policy.override_for(code)
    if override is None:
        override = policy.override_for(codes.country_of(code))
    if override is not None and (
        policy.overrides_may_lower or table is None or override > table
    ):
        return _Threshold(override)
    if table is None or rule is None:
        return _Threshold(0)
    return _Threshold(table, rule.contested)


@attrs.frozen
class Reading:
    """What a record says, read once; `decide()` judges it on any date.

    It holds the parsed birth inputs, so it is never logged or stored: only
    the Decision is.
    """

    births: Births
    problems: tuple[Problem, ...]
    jurisdictions: tuple[str, ...]
    birthdate_key: str
    country_key: str
    # Split parts without a year that contradict a full date.
    parts_conflict: bool = False
    # A birth input was present but could not be read (malformed, ambiguous).
    birth_unread: bool = False
    # The region a phone number in national form is read in (the countries
    # the place fields give), whether or not the record holds a phone.
    phone_region: str | None = None

    def with_declared_ages(self, convert: Callable[[int], int]) -> Reading:
        """The same reading with every declared age passed through `convert`
        (the batch review carries an age declared at collection forward)."""
        births = tuple(
            (key, Birth(declared_age=convert(birth.declared_age)))
            if birth.declared_age is not None
            else (key, birth)
            for key, birth in self.births
        )
        return attrs.evolve(self, births=births)


def read(
    record: Mapping[str, Any],
    *,
    policy: Policy | None = None,
    fields: FieldMap | None = None,
    rules: Rules | None = None,
    trusted_country: str | None = None,
) -> Reading:
    """Parse a record's birth inputs and jurisdiction signals; never raises."""
    policy = policy if policy is not None else _DEFAULT_POLICY
    fields = fields if fields is not None else _DEFAULT_FIELDS
    rules = rules if rules is not None else load_rules()
    reader = _Reader(record, fields)
    births, parts_conflict = _read_birth(reader, policy)
    birth_keys = _birth_keys(fields)
    birth_unread = any(p.field in birth_keys for p in reader.problems)
    found, phone_region = _read_signals(reader, policy, trusted_country)
    return Reading(
        births=births,
        problems=tuple(reader.problems),
        jurisdictions=tuple(
            dict.fromkeys(rules.canonical(c) for signal in found for c in signal.codes)
        ),
        birthdate_key=next(iter(fields.keys_of("birthdate")), "birthdate"),
        country_key=next(iter(fields.keys_of("country")), "country"),
        parts_conflict=parts_conflict,
        birth_unread=birth_unread,
        phone_region=phone_region,
    )


@attrs.frozen
class _Youngest:
    """The age a record's birth inputs give on one date."""

    age: int
    partial: bool
    conflict: bool


def _youngest(reading: Reading, on: date, problems: list[Problem]) -> _Youngest | None:
    """The age to judge: the youngest the birth inputs allow together.

    Each input gives a span of birth dates. When the spans meet, the inputs
    can describe one person, and the latest date they all allow is taken.
    When they do not, the inputs contradict each other: the youngest input
    alone decides and the conflict is reported. An implausible input is a
    problem, so the record is never allowed on the strength of the others.
    """
    spans: list[tuple[date, date, bool]] = []
    exact = False
    for key, birth in reading.births:
        birth = birth.as_of(on)
        try:
            check_plausible(birth, on)
        except InputProblem as problem:
            problems.append(Problem(key, problem.reason))
            continue
        earliest, latest = birth.span(on)
        spans.append((earliest, latest, birth.partial))
        exact = exact or (birth.born is not None and not birth.partial)
    if not spans:
        return None
    conflict = reading.parts_conflict or max(s[0] for s in spans) > min(
        s[1] for s in spans
    )
    if conflict:
        _, latest, partial = max(spans, key=lambda span: span[1])
    else:
        latest = min(s[1] for s in spans)
        partial = not exact and any(s[2] for s in spans)
    return _Youngest(age_on(latest, on), partial, conflict)


def decide(
    reading: Reading,
    *,
    policy: Policy | None = None,
    on: date | None = None,
    rules: Rules | None = None,
) -> Decision:
    """Judge a Reading on the date `on` (default: today at UTC-12).

    Every birth input counts: the youngest reading decides, and a known
    minor is blocked whatever else the record holds. Inputs that disagree add
    BIRTH_FIELDS_CONFLICT. A birth input that cannot be read beside one that
    can makes the record INVALID (unless another input shows a minor, which
    blocks): the readable one is never taken alone, as the app behind the
    gate may read the other.
    """
    policy = policy if policy is not None else _DEFAULT_POLICY
    on = on if on is not None else live_today()
    rules = rules if rules is not None else load_rules()
    problems = list(reading.problems)
    youngest = _youngest(reading, on, problems)
    required = _required(reading.jurisdictions, policy, rules, on)
    reasons = _notes(reading.jurisdictions, youngest)
    missing = _missing(reading, youngest, problems, policy, reasons)

    def decision(
        outcome: Outcome, listed: list[Problem], extra: tuple[str, ...] = ()
    ) -> Decision:
        return Decision(
            outcome=outcome,
            required_age=required.age,
            jurisdiction=required.jurisdiction,
            reasons=extra + tuple(p.reason for p in listed) + tuple(reasons),
            jurisdictions=reading.jurisdictions,
            fields=tuple(dict.fromkeys(p.field for p in listed)),
            on=on,
            reading=policy.readings if required.contested else None,
        )

    # Adding a signal never lowers the required age, so a person already
    # under it is blocked whatever else is wrong with the record.
    if youngest is not None and youngest.age < required.age:
        return decision(Outcome.BLOCK, problems + missing, (Reason.UNDERAGE,))
    if problems:
        return decision(Outcome.INVALID, problems + missing)
    if missing:
        return decision(Outcome.NEEDS_INFO, missing)
    return decision(Outcome.ALLOW, [])


@attrs.frozen
class _Required:
    """The age required, the jurisdiction that sets it, and whether a
    contested rule's reading gave one of the thresholds."""

    age: int
    jurisdiction: str | None
    contested: bool


def _required(
    considered: tuple[str, ...], policy: Policy, rules: Rules, on: date
) -> _Required:
    found = {code: _threshold(code, policy, rules, on) for code in considered}
    thresholds = {code: threshold.age for code, threshold in found.items()}
    return _Required(
        age=max([policy.minimum_age, *thresholds.values()]),
        jurisdiction=max(considered, key=thresholds.__getitem__, default=None),
        contested=any(threshold.contested for threshold in found.values()),
    )


def _notes(considered: tuple[str, ...], youngest: _Youngest | None) -> list[str]:
    """Reasons that qualify a decision without deciding it."""
    reasons: list[str] = []
    if len({codes.country_of(code) for code in considered}) > 1:
        reasons.append(Reason.SIGNALS_CONFLICT)
    if youngest is not None and youngest.conflict:
        reasons.append(Reason.BIRTH_FIELDS_CONFLICT)
    if youngest is not None and youngest.partial:
        reasons.append(Reason.BIRTHDATE_PARTIAL)
    return reasons


def _missing(
    reading: Reading,
    youngest: _Youngest | None,
    problems: list[Problem],
    policy: Policy,
    reasons: list[str],
) -> list[Problem]:
    """The required inputs absent; a jurisdiction defaulted to is a reason."""
    missing: list[Problem] = []
    if (
        youngest is None
        and not reading.birth_unread
        and not any(p.reason in BIRTH_REASONS for p in problems)
    ):
        missing.append(Problem(reading.birthdate_key, Reason.BIRTHDATE_MISSING))
    if not reading.jurisdictions and all(p.reason in BIRTH_REASONS for p in problems):
        if policy.when_no_jurisdiction == "needs_info":
            missing.append(Problem(reading.country_key, Reason.JURISDICTION_MISSING))
        else:
            reasons.append(Reason.JURISDICTION_DEFAULTED)
    return missing


def screen(
    record: Mapping[str, Any],
    *,
    policy: Policy | None = None,
    fields: FieldMap | None = None,
    today: date | None = None,
    rules: Rules | None = None,
    trusted_country: str | None = None,
) -> Decision:
    """Decide whether the person a record describes may use the service.

    Required age = max(policy.minimum_age, the threshold of every jurisdiction
    the signals point to). `today` defaults to the date at UTC-12;
    `trusted_country` is a country code from a proxy the operator trusts.
    Every birth input present (date, split parts, declared age, under each
    of their keys) is read and the youngest reading decides; see `decide()`.
    Never raises on bad input: it becomes INVALID or NEEDS_INFO with reasons.
    """
    rules = rules if rules is not None else load_rules()
    reading = read(
        record,
        policy=policy,
        fields=fields,
        rules=rules,
        trusted_country=trusted_country,
    )
    return decide(reading, policy=policy, on=today, rules=rules)
