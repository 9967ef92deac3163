"""The operator's settings: which age the service requires, and how to read input."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

import attrs

from . import codes
from .rules import READINGS, ReadingChoice
from .services import SERVICE_KINDS

Threshold = Literal["majority", "digital_consent", "contract"]
THRESHOLDS: tuple[Threshold, ...] = get_args(Threshold)
NoJurisdiction = Literal["needs_info", "minimum_age"]

FIELDS = (
    "account_id",
    "birthdate",
    "birth_year",
    "birth_month",
    "birth_day",
    "age",
    "country",
    "subdivision",
    "phone",
    "billing_country",
    "billing_subdivision",
    "billing_postal_code",
    "collected_at",
    "assurance_valid_until",
)
# The fields screen() reads: the account id, when its data was collected and
# until when its proof of age holds are not age signals.
_NOT_SCREENED = ("account_id", "collected_at", "assurance_valid_until")
SCREENED_FIELDS = tuple(f for f in FIELDS if f not in _NOT_SCREENED)


def _overrides(
    value: Mapping[str, int] | tuple[tuple[str, int], ...],
) -> tuple[tuple[str, int], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    result: dict[str, int] = {}
    for code, age in items:
        normalised = str(code).strip().upper()
        if not codes.is_known(normalised):
            raise ValueError(
                "overrides: keys must be ISO 3166 country or subdivision codes"
            )
        if isinstance(age, bool) or not isinstance(age, int) or not 0 < age <= 130:
            raise ValueError(f"overrides[{normalised}]: age must be an int in 1..130")
        result[normalised] = age
    return tuple(sorted(result.items()))


def _check_age(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int")
    if not 0 < value <= 130:
        raise ValueError(f"{attribute.name} must be in 1..130")


def _formats(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _check_formats(instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    for fmt in value:
        if not isinstance(fmt, str) or not {"%Y", "%m", "%d"} <= _directives(fmt):
            raise ValueError(
                "birthdate_formats: each format needs %Y, %m and %d (e.g. '%d/%m/%Y')"
            )


def _directives(fmt: str) -> set[str]:
    return {fmt[i : i + 2] for i in range(len(fmt) - 1) if fmt[i] == "%"}


@attrs.frozen
class Policy:
    """Which age a service requires.

    minimum_age: the service's own floor (18: the policy's "not for anyone
        under 18").
    threshold: "majority" (legal age), "contract" (the age from which a person
        can be bound by the service's terms; the majority age wherever no law
        sets one apart) or "digital_consent" (for services open to teenagers
        where a law lets them consent alone).
    readings: "strict" (default) takes each table line's own, higher age;
        "prevailing" takes the lower age recorded where authorities conflict,
        for an operator whose counsel accepts it.
    overrides: code -> age set by the operator. An override may only raise a
        jurisdiction's age unless `overrides_may_lower` is set.
    when_no_jurisdiction: "needs_info" (default) refuses a record with no
        jurisdiction signal; "minimum_age" screens it against minimum_age.
    phone_optional: an unusable phone number is ignored instead of INVALID.
    birthdate_formats: strptime formats accepted besides ISO YYYY-MM-DD, tried
        in order; a value two formats read as different dates is ambiguous.
    service: the kind of service this is (`rules.SERVICE_KINDS`, e.g.
        "social_media"): the minimum ages laws set for that kind of service
        apply beside the threshold. None (default) applies none of them.
    """

    minimum_age: int = attrs.field(default=18, validator=_check_age)
    threshold: Threshold = attrs.field(
        default="majority",
        validator=attrs.validators.in_(THRESHOLDS),
    )
    readings: ReadingChoice = attrs.field(
        default="strict", validator=attrs.validators.in_(READINGS)
    )
    overrides: tuple[tuple[str, int], ...] = attrs.field(
        default=(), converter=_overrides
    )
    overrides_may_lower: bool = False
    when_no_jurisdiction: NoJurisdiction = attrs.field(
        default="needs_info",
        validator=attrs.validators.in_(("needs_info", "minimum_age")),
    )
    phone_optional: bool = False
    birthdate_formats: tuple[str, ...] = attrs.field(
        default=(), converter=_formats, validator=_check_formats
    )
    service: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.in_(SERVICE_KINDS)),
    )

    def override_for(self, code: str) -> int | None:
        for override_code, age in self.overrides:
            if override_code == code:
                return age
        return None


# Fields that say when a person was born; each may be read from several keys.
BIRTH_FIELDS = ("birthdate", "birth_year", "birth_month", "birth_day", "age")


def _check_key(instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, tuple | list):
        raise ValueError(f"FieldMap.{attribute.name}: takes one key")
    if not isinstance(value, str) or not value or any(not p for p in value.split(".")):
        raise ValueError(f"FieldMap.{attribute.name}: a key is a non-empty dotted name")


def _key(default: str) -> Any:
    return attrs.field(default=default, validator=_check_key)


def _many_keys(value: str | Iterable[str] | None) -> str | tuple[str, ...] | None:
    """One key stays a str; several keys become a tuple (hashable, ordered)."""
    if value is None or isinstance(value, str):
        return value
    keys = tuple(dict.fromkeys(value))
    if len(keys) == 1 and isinstance(keys[0], str):
        return keys[0]
    return keys


def _check_many_keys(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, tuple):
        _check_key(instance, attribute, value)
        return
    if not value:
        raise ValueError(f"FieldMap.{attribute.name}: give a key, several, or None")
    for key in value:
        _check_key(instance, attribute, key)


def _keys_field(default: str) -> Any:
    return attrs.field(
        default=default, converter=_many_keys, validator=_check_many_keys
    )


@attrs.frozen
class FieldMap:
    """The key each input has in a record; a dotted key reaches into nested objects.

    FieldMap() uses the field names themselves; a field mapped to None is
    never read. Every screened field may name several keys,
    `FieldMap(birthdate=("dob", "birthdate"))` for an app that accepts
    either (a Pydantic model with `AliasChoices`), or
    `FieldMap(country=("profile.country", "country"))` for one gate over a
    JSON API and an HTML form of different shapes: every key present is
    read. The youngest birth reading and the strictest jurisdiction decide;
    keys that point to different countries add SIGNALS_CONFLICT.
    account_id and collected_at name one record each, so take one key.
    """

    account_id: str | None = _key("account_id")
    birthdate: str | tuple[str, ...] | None = _keys_field("birthdate")
    birth_year: str | tuple[str, ...] | None = _keys_field("birth_year")
    birth_month: str | tuple[str, ...] | None = _keys_field("birth_month")
    birth_day: str | tuple[str, ...] | None = _keys_field("birth_day")
    age: str | tuple[str, ...] | None = _keys_field("age")
    country: str | tuple[str, ...] | None = _keys_field("country")
    subdivision: str | tuple[str, ...] | None = _keys_field("subdivision")
    phone: str | tuple[str, ...] | None = _keys_field("phone")
    billing_country: str | tuple[str, ...] | None = _keys_field("billing_country")
    billing_subdivision: str | tuple[str, ...] | None = _keys_field(
        "billing_subdivision"
    )
    billing_postal_code: str | tuple[str, ...] | None = _keys_field(
        "billing_postal_code"
    )
    collected_at: str | None = _key("collected_at")
    # Read by a review with an assurance policy only; no column by default.
    assurance_valid_until: str | None = attrs.field(default=None, validator=_check_key)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, str | tuple[str, ...] | None]
    ) -> FieldMap:
        """Build from {FIELD: key}; an unknown FIELD is a ValueError."""
        unknown = sorted(set(mapping) - set(FIELDS))
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; fields are {' '.join(FIELDS)}"
            )
        keys: dict[str, Any] = dict(mapping)
        return cls(**keys)

    def keys_of(self, field: str) -> tuple[str, ...]:
        """Every key FIELD is read from, in order; () for a field not read."""
        if field not in FIELDS:
            raise ValueError(f"unknown field {field}")
        value = getattr(self, field)
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)

    def all_keys(self, fields: Iterable[str] = FIELDS) -> tuple[str, ...]:
        """Every key of the given FIELDs (all by default), without repeats."""
        return tuple(dict.fromkeys(k for f in fields for k in self.keys_of(f)))

    def birth_keys(self) -> tuple[str, ...]:
        """Every key a birthdate, its parts or a declared age is read from."""
        return self.all_keys(BIRTH_FIELDS)

    def screened_keys(self) -> tuple[str, ...]:
        """Every key screen() reads."""
        return self.all_keys(SCREENED_FIELDS)

    def keys(self) -> dict[str, str]:
        """FIELD -> its first key, for the fields that are read.

        A birth field with several keys is named here by its first only:
        `keys_of()` and `all_keys()` give them all.
        """
        return {name: keys[0] for name in FIELDS if (keys := self.keys_of(name))}
