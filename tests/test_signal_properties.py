"""Properties of the signals: the fast phone path equals parse; signals never lower the age."""

from __future__ import annotations

from datetime import date

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType

from agegate import Outcome, Policy, load_rules, screen
from agegate import phone as phone_module
from agegate.errors import InputProblem

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
)


def _examples() -> list[str]:
    found = []
    for region in REGIONS:
        for kind in TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append(
                    phonenumbers.format_number(
                        number, phonenumbers.PhoneNumberFormat.E164
                    )
                )
    return sorted(set(found))


EXAMPLES = _examples()


@st.composite
def international_numbers(draw: st.DrawFn) -> str:
    """Near-valid numbers: an example with digits changed, cut or added."""
    digits = list(draw(st.sampled_from(EXAMPLES))[1:])
    code_length = next(
        n for n in (1, 2, 3) if int("".join(digits[:n])) in COUNTRY_CODE_TO_REGION_CODE
    )
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(code_length, len(digits) - 1))
        digits[at] = str(draw(st.integers(0, 9)))
    tail = draw(st.sampled_from(["", "cut", "add", "trunk"]))
    if tail == "cut":
        digits.pop()
    elif tail == "add":
        digits.append(str(draw(st.integers(0, 9))))
    elif tail == "trunk":
        # A trunk prefix written after the country code: +44 (0)20 ...
        digits.insert(code_length, draw(st.sampled_from(["0", "8", "1", "00", "15"])))
    return "+" + "".join(digits)


random_numbers = st.builds(
    lambda code, rest: f"+{code}{rest}",
    st.sampled_from(sorted(COUNTRY_CODE_TO_REGION_CODE)),
    st.text("0123456789", min_size=1, max_size=16),
)


def _answer(reader: object, text: str, region: str | None) -> tuple[str, ...] | str:
    try:
        return reader(text, region)  # type: ignore[operator, no-any-return]
    except InputProblem as problem:
        return problem.reason


@settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    text=st.one_of(international_numbers(), random_numbers),
    region=st.sampled_from([None, "US", "GB", "FR", "BL", "JP"]),
)
def test_the_fast_path_answers_as_parse_does(text: str, region: str | None) -> None:
    fast = _answer(phone_module.jurisdictions, text, region)
    slow = _answer(phone_module.jurisdictions_by_parse, text, region)
    assert fast == slow
    split = phone_module._split_international(text)
    if split is not None and phonenumbers.is_valid_number(split):
        # Where the fast path decides, it built exactly the number parse builds.
        assert split == phonenumbers.parse(text)


@pytest.mark.parametrize("text", EXAMPLES)
def test_every_example_number_is_read_alike(text: str) -> None:
    assert _answer(phone_module.jurisdictions, text, None) == _answer(
        phone_module.jurisdictions_by_parse, text, None
    )


# -- adding a signal never lowers the required age ----------------------------

RULES = load_rules()
TODAY = date(2026, 11, 28)
countries = st.sampled_from(["US", "CA", "JP", "GB", "DE", "FR", "AR", "SG", "KR"])
subdivisions = st.sampled_from(["AL", "MS", "NE", "BC", "ON", "QC", "NU", "Narnia"])
phones = st.sampled_from(
    [
        "+1 205 555 0100",
        "+1 601 555 0100",
        "+1 604 555 0100",
        "+1 867 555 0100",
        "+1 800 555 0100",
        "+81 90 1234 5678",
        "+44 20 7946 0000",
        "+65 6123 4567",
        "not a number",
        "+1 100 555 0100",
    ]
)
postal_codes = st.sampled_from(["V6B 1A1", "X0A 0H0", "M5V 2T6", "12345", "ZZZ"])
SIGNALS = {
    "country": countries,
    "subdivision": subdivisions,
    "phone": phones,
    "billing_country": countries,
    "billing_subdivision": subdivisions,
    "billing_postal_code": postal_codes,
}


@settings(max_examples=400, deadline=None)
@given(
    base=st.fixed_dictionaries({}, optional=SIGNALS),
    extra=st.sampled_from(sorted(SIGNALS)),
    data=st.data(),
    trusted=st.one_of(st.none(), countries),
    optional_phone=st.booleans(),
    threshold=st.sampled_from(["majority", "digital_consent"]),
    on=st.sampled_from([TODAY, date(2021, 6, 1)]),
)
def test_adding_a_signal_never_lowers_the_required_age(
    base: dict[str, str],
    extra: str,
    data: st.DataObject,
    trusted: str | None,
    optional_phone: bool,
    threshold: str,
    on: date,
) -> None:
    policy = Policy(phone_optional=optional_phone, threshold=threshold)  # type: ignore[arg-type]
    record = {"birthdate": "2000-01-01", **base}
    before = screen(record, policy=policy, today=on, rules=RULES)
    more = {**record, extra: data.draw(SIGNALS[extra])}
    if extra in base:
        more = record  # the field is already there: add the header instead
    after = screen(more, policy=policy, today=on, rules=RULES, trusted_country=trusted)
    assert before.required_age is not None
    assert after.required_age is not None
    # An INVALID decision is refused whatever its required age: a postal code
    # that is not a code of the billing country added beside it drops that
    # signal's subdivision, and the request is refused rather than judged.
    if after.outcome is not Outcome.INVALID:
        assert after.required_age >= before.required_age
    # A subdivision may refine its country (CA -> CA-BC); no country is lost.
    countries_before = {code.split("-")[0] for code in before.jurisdictions}
    assert countries_before <= {code.split("-")[0] for code in after.jurisdictions}
