"""screen(): the decision both doors share."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agegate import Decision, FieldMap, Outcome, Policy, Reason, screen
from agegate.policy import SCREENED_FIELDS

TODAY = date(2026, 11, 28)


def check(record: dict[str, Any], **options: Any) -> Decision:
    options.setdefault("today", TODAY)
    return screen(record, **options)


def test_the_design_example() -> None:
    d = check(
        {
            "birthdate": "2008-05-01",
            "country": "CA",
            "subdivision": "BC",
            "phone": "+1 604 555 0100",
        },
        policy=Policy(),
        fields=FieldMap(),
    )
    assert d.outcome is Outcome.BLOCK
    assert d.required_age == 19
    assert d.jurisdiction == "CA-BC"
    assert d.reasons == (Reason.UNDERAGE,)


@pytest.mark.parametrize(
    ("birthdate", "outcome"),
    [
        ("2007-11-29", Outcome.BLOCK),  # 18, one day short of 19
        ("2008-11-28", Outcome.BLOCK),  # 18 today
        ("2009-11-28", Outcome.BLOCK),  # 17
        ("2007-11-28", Outcome.ALLOW),  # 19 today
    ],
)
def test_british_columbia_requires_19(birthdate: str, outcome: Outcome) -> None:
    d = check(
        {"birthdate": birthdate, "country": "Canada", "subdivision": "British Columbia"}
    )
    assert d.outcome is outcome
    assert d.required_age == 19


@pytest.mark.parametrize(
    ("record", "outcome", "reason"),
    [
        ({"country": "CA"}, Outcome.NEEDS_INFO, Reason.BIRTHDATE_MISSING),
        (
            {"birthdate": "", "country": "CA"},
            Outcome.NEEDS_INFO,
            Reason.BIRTHDATE_MISSING,
        ),
        (
            {"birthdate": "   ", "country": "CA"},
            Outcome.NEEDS_INFO,
            Reason.BIRTHDATE_MISSING,
        ),
        (
            {"birthdate": None, "country": "CA"},
            Outcome.NEEDS_INFO,
            Reason.BIRTHDATE_MISSING,
        ),
        ({"birthdate": "1990-01-01"}, Outcome.NEEDS_INFO, Reason.JURISDICTION_MISSING),
        (
            {"birthdate": "1990-13-01", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": "1990-02-30", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": "1990-1-1x", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": "yesterday", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": "１９９０-01-01", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": "١٩٩٠-٠١-٠١", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": "03/04/1990", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_AMBIGUOUS,
        ),
        (
            {"birthdate": "03.04.1990", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_AMBIGUOUS,
        ),
        (
            {"birthdate": "2027-01-01", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_IN_FUTURE,
        ),
        (
            {"birthdate": "2026-11-29", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_IN_FUTURE,
        ),
        (
            {"birthdate": "1890-01-01", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_IMPLAUSIBLE,
        ),
        (
            {"birthdate": 19900101, "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": ["1990-01-01"], "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": {"y": 1990}, "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": True, "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birthdate": 1990.5, "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        ({"age": "eighteen", "country": "CA"}, Outcome.INVALID, Reason.AGE_MALFORMED),
        ({"age": "-3", "country": "CA"}, Outcome.INVALID, Reason.AGE_MALFORMED),
        ({"age": 131, "country": "CA"}, Outcome.INVALID, Reason.AGE_IMPLAUSIBLE),
        (
            {"birth_year": "19x0", "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birth_year": 1990, "birth_month": 13, "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birth_year": 1990, "birth_day": 3, "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_MALFORMED,
        ),
        (
            {"birth_year": 2030, "country": "CA"},
            Outcome.INVALID,
            Reason.BIRTHDATE_IN_FUTURE,
        ),
        (
            {"birthdate": "1990-01-01", "country": "XX"},
            Outcome.INVALID,
            Reason.COUNTRY_UNKNOWN,
        ),
        (
            {"birthdate": "1990-01-01", "country": "Narnia"},
            Outcome.INVALID,
            Reason.COUNTRY_UNKNOWN,
        ),
        (
            {"birthdate": "1990-01-01", "country": 42},
            Outcome.INVALID,
            Reason.COUNTRY_UNKNOWN,
        ),
        (
            {"birthdate": "1990-01-01", "country": ["CA"]},
            Outcome.INVALID,
            Reason.COUNTRY_UNKNOWN,
        ),
        (
            {"birthdate": "1990-01-01", "country": "CA", "subdivision": "ZZ"},
            Outcome.INVALID,
            Reason.SUBDIVISION_UNKNOWN,
        ),
        (
            {"birthdate": "1990-01-01", "subdivision": "BC"},
            Outcome.INVALID,
            Reason.SUBDIVISION_WITHOUT_COUNTRY,
        ),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(
    record: dict[str, Any], outcome: Outcome, reason: str
) -> None:
    d = check(record)
    assert d.outcome is outcome
    assert reason in d.reasons


def test_decision_names_fields_by_their_input_key() -> None:
    fields = FieldMap(birthdate="user.dob", country="user.country")
    d = check({"user": {"dob": "1990-02-30", "country": "Narnia"}}, fields=fields)
    assert d.outcome is Outcome.INVALID
    assert d.fields == ("user.dob", "user.country")


def test_dotted_keys_reach_into_nested_objects() -> None:
    fields = FieldMap(birthdate="user.dob", country="user.address.country")
    d = check(
        {"user": {"dob": "2010-01-01", "address": {"country": "JP"}}}, fields=fields
    )
    assert d.outcome is Outcome.BLOCK
    assert d.jurisdiction == "JP"


def test_a_value_readable_two_ways_is_ambiguous() -> None:
    fields = FieldMap(birthdate="user.dob")
    record = {"user": {"dob": "1990-01-01"}, "user.dob": "2012-01-01", "country": "CA"}
    d = check(record, fields=fields)
    assert d.outcome is Outcome.BLOCK or d.outcome is Outcome.INVALID
    assert Reason.FIELD_AMBIGUOUS in d.reasons


def test_a_known_minor_is_blocked_even_when_other_inputs_are_bad() -> None:
    d = check({"birthdate": "2015-01-01", "country": "Narnia"})
    assert d.outcome is Outcome.BLOCK
    assert d.reasons[0] == Reason.UNDERAGE
    assert Reason.COUNTRY_UNKNOWN in d.reasons


def test_configured_formats_read_what_iso_does_not() -> None:
    policy = Policy(birthdate_formats=("%d/%m/%Y",))
    d = check({"birthdate": "03/04/2000", "country": "CA"}, policy=policy)
    assert d.outcome is Outcome.ALLOW
    d = check({"birthdate": "29/11/2008", "country": "CA"}, policy=policy)
    assert d.outcome is Outcome.BLOCK


def test_two_formats_reading_a_value_two_ways_is_ambiguous() -> None:
    policy = Policy(birthdate_formats=("%d/%m/%Y", "%m/%d/%Y"))
    assert (
        Reason.BIRTHDATE_AMBIGUOUS
        in check({"birthdate": "03/04/2000", "country": "CA"}, policy=policy).reasons
    )
    # 13 cannot be a month, so only one reading remains.
    assert check({"birthdate": "13/04/2000", "country": "CA"}, policy=policy).allowed


def test_split_fields_and_a_partial_date_assume_the_youngest() -> None:
    d = check({"birth_year": 2008, "birth_month": 11, "birth_day": 28, "country": "CA"})
    assert d.outcome is Outcome.ALLOW
    # Born some day in 2008: possibly after 28 November, so possibly 17.
    d = check({"birth_year": "2008", "country": "CA"})
    assert d.outcome is Outcome.BLOCK
    assert Reason.BIRTHDATE_PARTIAL in d.reasons
    assert check({"birth_year": "2008", "birth_month": "10", "country": "CA"}).allowed


def test_declared_age() -> None:
    assert check({"age": 18, "country": "CA"}).allowed
    assert check({"age": "17", "country": "CA"}).outcome is Outcome.BLOCK
    assert (
        check({"age": "18", "country": "CA", "subdivision": "BC"}).outcome
        is Outcome.BLOCK
    )


def test_policy_minimum_and_threshold() -> None:
    teen = Policy(minimum_age=13, threshold="digital_consent")
    d = check({"birthdate": "2011-01-01", "country": "DE"}, policy=teen)
    assert d.outcome is Outcome.BLOCK  # 15, Germany's digital consent age is 16
    assert d.required_age == 16
    assert check({"birthdate": "2010-01-01", "country": "DE"}, policy=teen).allowed
    # Denmark raised its age from 13 to 15 on 2024-01-01: a 14-year-old no
    # longer consents alone, a 15-year-old does.
    assert not check({"birthdate": "2012-01-01", "country": "DK"}, policy=teen).allowed
    assert check({"birthdate": "2011-01-01", "country": "DK"}, policy=teen).allowed
    assert (
        check(
            {"birthdate": "2008-01-01", "country": "CA"}, policy=Policy(minimum_age=21)
        ).outcome
        is Outcome.BLOCK
    )


def test_overrides_raise_and_only_lower_when_told() -> None:
    raised = Policy(overrides={"CA": 21})
    d = check(
        {"birthdate": "2006-01-01", "country": "CA", "subdivision": "ON"}, policy=raised
    )
    assert d.outcome is Outcome.BLOCK
    assert d.required_age == 21
    not_lowered = Policy(minimum_age=16, overrides={"CA-BC": 17})
    assert (
        check(
            {"birthdate": "2008-06-01", "country": "CA", "subdivision": "BC"},
            policy=not_lowered,
        ).required_age
        == 19
    )
    lowered = Policy(minimum_age=16, overrides={"CA-BC": 17}, overrides_may_lower=True)
    assert check(
        {"birthdate": "2008-06-01", "country": "CA", "subdivision": "BC"},
        policy=lowered,
    ).allowed


def test_no_jurisdiction_can_fall_back_to_the_minimum() -> None:
    policy = Policy(when_no_jurisdiction="minimum_age")
    d = check({"birthdate": "1990-01-01"}, policy=policy)
    assert d.allowed
    assert Reason.JURISDICTION_DEFAULTED in d.reasons


@pytest.mark.parametrize(
    "bad",
    [
        {"minimum_age": 0},
        {"minimum_age": 200},
        {"threshold": "adult"},
        {"overrides": {"XX": 18}},
        {"overrides": {"CA": "18"}},
        {"birthdate_formats": ("%Y",)},
        {"when_no_jurisdiction": "allow"},
    ],
)
def test_bad_policy_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        Policy(**bad)


def test_bad_field_map_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        FieldMap.from_mapping({"dob": "birthdate"})
    with pytest.raises(ValueError, match="dotted name"):
        FieldMap(birthdate="user..dob")


def test_japan_before_and_after_2022() -> None:
    record = {"birthdate": "2002-06-01", "country": "JP"}
    assert check(record, today=date(2021, 6, 1)).outcome is Outcome.BLOCK
    assert check(record, today=date(2022, 4, 1)).outcome is Outcome.ALLOW


values = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
keys = st.sampled_from(SCREENED_FIELDS)


@given(st.dictionaries(keys, values, max_size=8))
def test_screen_never_raises_on_any_record(record: dict[str, Any]) -> None:
    d = check(record)
    assert isinstance(d, Decision)
    if d.outcome is Outcome.ALLOW:
        assert d.required_age is not None
        assert d.required_age >= 18
