"""One pure function that decides for both doors: record in, Decision out.

The middleware screens a signup with it and the batch review screens each
stored account with it, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

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
from .decision import Decision, Outcome, Problem, Reason
from .policy import FieldMap, Policy
from .rules import Kind, Rules, load_rules
from .signals import SignalProblem

_MISSING = object()
_BIRTH_REASONS = frozenset(
    {
        Reason.BIRTHDATE_MALFORMED,
        Reason.BIRTHDATE_AMBIGUOUS,
        Reason.BIRTHDATE_IN_FUTURE,
        Reason.BIRTHDATE_IMPLAUSIBLE,
        Reason.AGE_MALFORMED,
        Reason.AGE_IMPLAUSIBLE,
    }
)


class _Ambiguous(Exception):
    pass


def lookup(record: Mapping[str, Any], key: str) -> Any:
    """The value under `key`; a dotted key reaches into nested objects.

    A record holding the value both under the literal dotted key and under the
    nested path could be read two ways, so it is refused.
    """
    literal = record.get(key, _MISSING) if "." in key else _MISSING
    node: Any = record
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            node = _MISSING
            break
        node = node[part]
    if literal is not _MISSING and node is not _MISSING and literal is not node:
        raise _Ambiguous
    return node if node is not _MISSING else literal


class _Reader:
    """Reads text fields of one record, collecting problems by field name."""

    def __init__(self, record: Mapping[str, Any], fields: FieldMap) -> None:
        self.record = record
        self.keys = fields.keys()
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
        if isinstance(value, bool) or not isinstance(value, str | int):
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


def _read_birth(reader: _Reader, policy: Policy, today: date) -> Birth | None:
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
            birth = from_parts(year, month, day, today)
        elif declared_age is not None:
            birth = Birth(declared_age=parse_int(declared_age, Reason.AGE_MALFORMED))
        else:
            return None
        check_plausible(birth, today)
        return birth

    result: Birth | None = reader.attempt(field, read)
    return result


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
    policy = policy if policy is not None else Policy()
    fields = fields if fields is not None else FieldMap()
    on = today if today is not None else live_today()
    rules = rules if rules is not None else load_rules()
    reader = _Reader(record, fields)

    birth = _read_birth(reader, policy, on)
    found = _read_signals(reader, policy, trusted_country)

    reasons: list[str] = []
    considered = tuple(
        dict.fromkeys(rules.canonical(c) for signal in found for c in signal.codes)
    )
    thresholds = {code: _threshold(code, policy, rules, on) for code in considered}
    required = max([policy.minimum_age, *thresholds.values()])
    jurisdiction = max(considered, key=thresholds.__getitem__, default=None)
    if len({codes.country_of(code) for code in considered}) > 1:
        reasons.append(Reason.SIGNALS_CONFLICT)
    if birth is not None and birth.partial:
        reasons.append(Reason.BIRTHDATE_PARTIAL)

    missing: list[Problem] = []
    if birth is None and not any(p.reason in _BIRTH_REASONS for p in reader.problems):
        missing.append(
            Problem(fields.birthdate or "birthdate", Reason.BIRTHDATE_MISSING)
        )
    if not considered and all(p.reason in _BIRTH_REASONS for p in reader.problems):
        if policy.when_no_jurisdiction == "needs_info":
            missing.append(
                Problem(fields.country or "country", Reason.JURISDICTION_MISSING)
            )
        else:
            reasons.append(Reason.JURISDICTION_DEFAULTED)

    def decide(
        outcome: Outcome, problems: list[Problem], extra: tuple[str, ...] = ()
    ) -> Decision:
        return Decision(
            outcome=outcome,
            required_age=required,
            jurisdiction=jurisdiction,
            reasons=extra + tuple(p.reason for p in problems) + tuple(reasons),
            jurisdictions=considered,
            fields=tuple(dict.fromkeys(p.field for p in problems)),
            on=on,
        )

    # Adding a signal never lowers the required age, so a person already
    # under it is blocked whatever else is wrong with the record.
    if birth is not None and birth.age_on(on) < required:
        return decide(Outcome.BLOCK, reader.problems + missing, (Reason.UNDERAGE,))
    if reader.problems:
        return decide(Outcome.INVALID, reader.problems + missing)
    if missing:
        return decide(Outcome.NEEDS_INFO, missing)
    return decide(Outcome.ALLOW, [])
