"""One pure function that decides for both doors: record in, Decision out.

The middleware screens a signup with it and the batch review screens each
stored account with it, so the two can never disagree. `screen()` is
`decide(read(record), on)`: the batch review reads a record once and decides
on two dates (collection and today).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import attrs

from . import codes, phone, signals
from .age import live_today
from .birthdate import (
    Birth,
    BirthProblem,
    check_plausible,
    from_parts,
    parse_date,
    parse_int,
)
from .decision import BIRTH_REASONS, Decision, Outcome, Problem, Reason
from .policy import FieldMap, Policy
from .rules import Kind, Rules, load_rules
from .signals import SignalProblem

_MISSING = object()
# Values are frozen, so the defaults are built once, not on every call.
_DEFAULT_POLICY = Policy()
_DEFAULT_FIELDS = FieldMap()


class _Ambiguous(Exception):
    pass


def lookup(record: Mapping[str, Any], key: str) -> Any:
    """The value under `key`; a dotted key reaches into nested objects.

    A record holding the value both under the literal dotted key and under the
    nested path could be read two ways, so it is refused.
    """
    if "." not in key:
        return record.get(key, _MISSING)
    literal = record.get(key, _MISSING)
    node: Any = record
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            node = _MISSING
            break
        node = node[part]
    if literal is not _MISSING and node is not _MISSING and literal is not node:
        raise _Ambiguous
    return node if node is not _MISSING else literal


@functools.cache
def _keys(fields: FieldMap) -> dict[str, str]:
    return fields.keys()


class _Reader:
    """Reads text fields of one record, collecting problems by field name."""

    def __init__(self, record: Mapping[str, Any], fields: FieldMap) -> None:
        self.record = record
        self.keys = _keys(fields)
        self.problems: list[Problem] = []

    def text(self, field: str, not_text_reason: str) -> str | None:
        key = self.keys.get(field)
        if key is None:
            return None
        try:
            value = lookup(self.record, key)
        except _Ambiguous:
            self.problems.append(Problem(key, Reason.FIELD_AMBIGUOUS))
            return None
        if value is _MISSING or value is None:
            return None
        if type(value) is str:
            return value.strip() or None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(Problem(key, not_text_reason))
            return None
        text = str(value).strip()
        return text or None

    def attempt(self, field: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (BirthProblem, SignalProblem) as problem:
            self.problems.append(Problem(self.keys.get(field, field), problem.reason))
            return None


def _read_birth(reader: _Reader, policy: Policy) -> tuple[Birth | None, str]:
    birthdate = reader.text("birthdate", Reason.BIRTHDATE_MALFORMED)
    year = reader.text("birth_year", Reason.BIRTHDATE_MALFORMED)
    declared_age = reader.text("age", Reason.AGE_MALFORMED)
    field = "birthdate" if birthdate else "birth_year" if year else "age"

    def read() -> Birth | None:
        birth: Birth
        if birthdate is not None:
            birth = Birth(born=parse_date(birthdate, policy.birthdate_formats))
        elif year is not None:
            month = reader.text("birth_month", Reason.BIRTHDATE_MALFORMED)
            day = reader.text("birth_day", Reason.BIRTHDATE_MALFORMED)
            birth = from_parts(year, month, day)
        elif declared_age is not None:
            birth = Birth(declared_age=parse_int(declared_age, Reason.AGE_MALFORMED))
        else:
            return None
        return birth

    result: Birth | None = reader.attempt(field, read)
    return result, reader.keys.get(field, field)


def _read_signals(
    reader: _Reader, policy: Policy, trusted_country: str | None
) -> list[signals.Signal]:
    """Every signal the record and the proxy give, with the codes each points to.

    A problem is reported on the field that caused it: an unknown subdivision
    names the subdivision field, and the country beside it still counts.
    """
    found: list[signals.Signal] = []

    def add(source: str, jurisdictions: tuple[str, ...] | None) -> None:
        if jurisdictions:
            found.append(signals.Signal(source, jurisdictions))

    def place(
        country_field: str, subdivision_field: str
    ) -> tuple[str | None, tuple[str, ...]]:
        country_text = reader.text(country_field, Reason.COUNTRY_UNKNOWN)
        subdivision_text = reader.text(subdivision_field, Reason.SUBDIVISION_UNKNOWN)
        # A withdrawn code (SU, YU, TP, ...) stands for today's countries on
        # its territory; with a subdivision it is refused below, as the
        # subdivision could belong to any of them.
        if (
            country_text is not None
            and subdivision_text is None
            and (withdrawn := codes.successors(country_text))
        ):
            return None, withdrawn
        country: str | None = None
        if country_text is not None:
            country = reader.attempt(
                country_field, lambda: signals.country_code(country_text)
            )
        subdivision: str | None = None
        # A subdivision name means nothing once its country could not be read;
        # a full code such as US-AL still does.
        if subdivision_text is not None and (
            country is not None or country_text is None or "-" in subdivision_text
        ):
            subdivision = reader.attempt(
                subdivision_field,
                lambda: signals.subdivision_code(subdivision_text, country),
            )
        if country is None and subdivision is not None:
            country = codes.country_of(subdivision)
        return country, signals.combine(country, subdivision)

    declared_country, declared = place("country", "subdivision")
    add("declared", declared)

    billing_country, billing = place("billing_country", "billing_subdivision")
    postal = reader.text("billing_postal_code", Reason.POSTAL_CODE_UNKNOWN)
    if postal is not None:
        # A postal code is read in the billing country, else the declared one.
        postal_country = billing_country or declared_country
        from_postal = reader.attempt(
            "billing_postal_code", lambda: signals.postal_code(postal, postal_country)
        )
        if from_postal:
            billing = tuple(dict.fromkeys(billing + from_postal))
    add("billing", billing)

    before = len(reader.problems)
    number = reader.text("phone", Reason.PHONE_MALFORMED)
    if number is not None:
        region = declared_country or billing_country
        add(
            "phone",
            reader.attempt("phone", lambda: phone.jurisdictions(number, region)),
        )
    if policy.phone_optional:
        del reader.problems[before:]

    if trusted_country is not None:
        add(
            "ip_country",
            reader.attempt(
                "ip_country",
                lambda: (
                    (code,)
                    if (code := signals.trusted_country_code(trusted_country))
                    else ()
                ),
            ),
        )
    return found


def _threshold(code: str, policy: Policy, rules: Rules, on: date) -> int:
    kind = Kind.MAJORITY if policy.threshold == "majority" else Kind.DIGITAL_CONSENT
    table = rules.age(code, kind, on)
    override = policy.override_for(code)
    if override is None:
        override = policy.override_for(codes.country_of(code))
    if override is not None and (
        policy.overrides_may_lower or table is None or override > table
    ):
        return override
    return table if table is not None else 0


@attrs.frozen
class Reading:
    """What a record says, read once; `decide()` judges it on any date.

    It holds the parsed birthdate, so it is never logged or stored: only the
    Decision is.
    """

    birth: Birth | None
    birth_key: str
    problems: tuple[Problem, ...]
    jurisdictions: tuple[str, ...]
    birthdate_key: str
    country_key: str


def read(
    record: Mapping[str, Any],
    *,
    policy: Policy | None = None,
    fields: FieldMap | None = None,
    rules: Rules | None = None,
    trusted_country: str | None = None,
) -> Reading:
    """Parse a record's birthdate and jurisdiction signals; never raises."""
    policy = policy if policy is not None else _DEFAULT_POLICY
    fields = fields if fields is not None else _DEFAULT_FIELDS
    rules = rules if rules is not None else load_rules()
    reader = _Reader(record, fields)
    birth, birth_key = _read_birth(reader, policy)
    found = _read_signals(reader, policy, trusted_country)
    return Reading(
        birth=birth,
        birth_key=birth_key,
        problems=tuple(reader.problems),
        jurisdictions=tuple(
            dict.fromkeys(rules.canonical(c) for signal in found for c in signal.codes)
        ),
        birthdate_key=fields.birthdate or "birthdate",
        country_key=fields.country or "country",
    )


def decide(
    reading: Reading,
    *,
    policy: Policy | None = None,
    on: date | None = None,
    rules: Rules | None = None,
) -> Decision:
    """Judge a Reading on the date `on` (default: today at UTC-12)."""
    policy = policy if policy is not None else _DEFAULT_POLICY
    on = on if on is not None else live_today()
    rules = rules if rules is not None else load_rules()
    problems = list(reading.problems)
    birth = reading.birth
    if birth is not None:
        birth = birth.as_of(on)
        try:
            check_plausible(birth, on)
        except BirthProblem as problem:
            problems.append(Problem(reading.birth_key, problem.reason))
            birth = None

    reasons: list[str] = []
    considered = reading.jurisdictions
    thresholds = {code: _threshold(code, policy, rules, on) for code in considered}
    required = max([policy.minimum_age, *thresholds.values()])
    jurisdiction = max(considered, key=thresholds.__getitem__, default=None)
    if len({codes.country_of(code) for code in considered}) > 1:
        reasons.append(Reason.SIGNALS_CONFLICT)
    if birth is not None and birth.partial:
        reasons.append(Reason.BIRTHDATE_PARTIAL)

    missing: list[Problem] = []
    if birth is None and not any(p.reason in BIRTH_REASONS for p in problems):
        missing.append(Problem(reading.birthdate_key, Reason.BIRTHDATE_MISSING))
    if not considered and all(p.reason in BIRTH_REASONS for p in problems):
        if policy.when_no_jurisdiction == "needs_info":
            missing.append(Problem(reading.country_key, Reason.JURISDICTION_MISSING))
        else:
            reasons.append(Reason.JURISDICTION_DEFAULTED)

    def decision(
        outcome: Outcome, listed: list[Problem], extra: tuple[str, ...] = ()
    ) -> Decision:
        return Decision(
            outcome=outcome,
            required_age=required,
            jurisdiction=jurisdiction,
            reasons=extra + tuple(p.reason for p in listed) + tuple(reasons),
            jurisdictions=considered,
            fields=tuple(dict.fromkeys(p.field for p in listed)),
            on=on,
        )

    # Adding a signal never lowers the required age, so a person already
    # under it is blocked whatever else is wrong with the record.
    if birth is not None and birth.age_on(on) < required:
        return decision(Outcome.BLOCK, problems + missing, (Reason.UNDERAGE,))
    if problems:
        return decision(Outcome.INVALID, problems + missing)
    if missing:
        return decision(Outcome.NEEDS_INFO, missing)
    return decision(Outcome.ALLOW, [])


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
