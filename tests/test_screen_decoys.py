"""Decoy birth inputs: a record carrying an adult birthdate beside the minor's
age, split parts or alias key that the app actually reads.

screen() reads every mapped birth input present and judges on the youngest;
readings that disagree say BIRTH_FIELDS_CONFLICT. The end-to-end tests run
FastAPI apps whose Pydantic models read `age` or an aliased birthdate, behind
the gate, on a real uvicorn server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from gate_support import SECRET, uvicorn_server, years_ago
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AliasChoices, BaseModel, Field

from agegate import AgeGateMiddleware, FieldMap, Outcome, Reason, load_rules, screen
from agegate.age import age_on
from agegate.birthdate import Birth
from agegate.review.reviewer import Reviewer, ReviewSettings
from agegate.screen import present_birth_keys

TODAY = date(2026, 11, 28)
ADULT = "1990-01-01"
ALIASES = FieldMap(birthdate=("dob", "birthdate"))


def check(record: dict[str, Any], **options: Any) -> Any:
    options.setdefault("today", TODAY)
    return screen({"country": "CA", **record}, **options)


# -- every birth input is read ---------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        {"age": 12, "birthdate": ADULT},
        {"age": "12", "birthdate": ADULT},
        {"birth_year": 2014, "birthdate": ADULT},
        {"birth_year": 2014, "birth_month": 3, "birth_day": 1, "birthdate": ADULT},
        {"age": 12, "birth_year": 1990},
        {"birthdate": "2014-03-01", "age": 36},
    ],
)
def test_a_minor_reading_beside_an_adult_decoy_blocks(record: dict[str, Any]) -> None:
    d = check(record)
    assert d.outcome is Outcome.BLOCK
    assert d.reasons[0] == Reason.UNDERAGE
    assert Reason.BIRTH_FIELDS_CONFLICT in d.reasons


def test_each_key_of_a_field_is_read() -> None:
    d = check({"dob": "2014-03-01", "birthdate": ADULT}, fields=ALIASES)
    assert d.outcome is Outcome.BLOCK
    assert Reason.BIRTH_FIELDS_CONFLICT in d.reasons
    # Either order: the youngest wins, not the first key.
    d = check({"dob": ADULT, "birthdate": "2014-03-01"}, fields=ALIASES)
    assert d.outcome is Outcome.BLOCK
    assert check({"birthdate": ADULT}, fields=ALIASES).allowed
    assert check({"dob": ADULT}, fields=ALIASES).allowed


def test_several_keys_of_split_parts_and_of_an_age() -> None:
    fields = FieldMap(birth_year=("year", "birth_year"), age=("age", "years"))
    d = check({"year": 2014, "birth_year": 1990}, fields=fields)
    assert d.outcome is Outcome.BLOCK
    assert Reason.BIRTH_FIELDS_CONFLICT in d.reasons
    d = check({"age": 40, "years": 12}, fields=fields)
    assert d.outcome is Outcome.BLOCK
    assert check({"age": 40, "years": "40"}, fields=fields).reasons == ()


def test_adult_readings_that_disagree_allow_on_the_youngest_and_say_so() -> None:
    d = check({"age": 30, "birthdate": ADULT})
    assert d.outcome is Outcome.ALLOW
    assert d.reasons == (Reason.BIRTH_FIELDS_CONFLICT,)


@pytest.mark.parametrize(
    "record",
    [
        {"age": 36, "birthdate": ADULT},
        {"birth_year": 1990, "birthdate": ADULT},
        {"birth_year": 1990, "birth_month": 1, "birthdate": ADULT},
        {"birth_year": 1990, "birth_month": 1, "birth_day": 1, "birthdate": ADULT},
        {"birth_month": 1, "birth_day": 1, "birthdate": ADULT},
        {"birth_year": 1990, "age": 36},
        {"dob": ADULT, "birthdate": ADULT},
    ],
)
def test_readings_that_agree_raise_no_conflict(record: dict[str, Any]) -> None:
    d = check(record, fields=ALIASES if "dob" in record else None)
    assert d.outcome is Outcome.ALLOW
    assert Reason.BIRTH_FIELDS_CONFLICT not in d.reasons


def test_a_full_date_beside_its_year_is_read_exactly() -> None:
    # 18 on 28 November 2026 by the date; the year alone would say 17.
    born = "2008-05-01"
    assert check({"birth_year": 2008, "birthdate": born}).allowed
    d = check({"birth_year": 2008})
    assert d.outcome is Outcome.BLOCK
    assert Reason.BIRTHDATE_PARTIAL in d.reasons


@pytest.mark.parametrize(
    "record",
    [
        {"birth_month": 2, "birthdate": ADULT},
        {"birth_day": 2, "birthdate": ADULT},
        {"birth_month": 1, "birth_day": 2, "birthdate": ADULT},
    ],
)
def test_parts_that_contradict_the_full_date_conflict(record: dict[str, Any]) -> None:
    d = check(record)
    assert Reason.BIRTH_FIELDS_CONFLICT in d.reasons


@pytest.mark.parametrize(
    ("record", "reason", "field"),
    [
        ({"age": "twelve", "birthdate": ADULT}, Reason.AGE_MALFORMED, "age"),
        ({"age": 12.5, "birthdate": ADULT}, Reason.AGE_MALFORMED, "age"),
        ({"age": 36, "birthdate": "1990-13-01"}, Reason.BIRTHDATE_MALFORMED, "birthdate"),
        ({"age": 200, "birthdate": ADULT}, Reason.AGE_IMPLAUSIBLE, "age"),
        ({"birth_year": "19x0", "birthdate": ADULT}, Reason.BIRTHDATE_MALFORMED, "birth_year"),
        ({"birth_month": "x", "birthdate": ADULT}, Reason.BIRTHDATE_MALFORMED, "birth_month"),
    ],
)  # fmt: skip
def test_an_unreadable_input_beside_an_adult_one_is_invalid(
    record: dict[str, Any], reason: str, field: str
) -> None:
    d = check(record)
    assert d.outcome is Outcome.INVALID
    assert reason in d.reasons
    assert d.fields == (field,)
    assert Reason.BIRTHDATE_MISSING not in d.reasons


def test_an_unreadable_input_beside_a_minor_one_blocks() -> None:
    d = check({"age": 12, "birthdate": "1990-13-01"})
    assert d.outcome is Outcome.BLOCK
    assert Reason.BIRTHDATE_MALFORMED in d.reasons


def test_a_lone_year_is_still_read_as_its_last_day() -> None:
    assert check({"birth_year": 2008, "birth_month": 10}).allowed
    assert check({"birth_year": 2008}).outcome is Outcome.BLOCK


# -- a month or day without its year ----------------------------------------------


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"birth_month": 5}, "birth_month"),
        ({"birth_day": 17}, "birth_day"),
        ({"birth_month": "5", "birth_day": "17"}, "birth_month"),
        ({"birth_month": 5, "age": 40}, "birth_month"),
    ],
)
def test_parts_without_a_year_are_refused_as_incomplete(
    record: dict[str, Any], field: str
) -> None:
    d = check(record)
    assert d.outcome is Outcome.INVALID
    assert Reason.BIRTHDATE_INCOMPLETE in d.reasons
    assert Reason.BIRTHDATE_MISSING not in d.reasons
    assert field in d.fields


# -- a dotted key held two ways ----------------------------------------------------


def test_an_ambiguous_birth_key_is_invalid_not_missing() -> None:
    fields = FieldMap(birthdate="user.dob")
    record = {"user": {"dob": "2012-01-01"}, "user.dob": "x"}
    d = check(record, fields=fields)
    assert d.outcome is Outcome.INVALID
    assert Reason.FIELD_AMBIGUOUS in d.reasons
    assert Reason.BIRTHDATE_MISSING not in d.reasons
    assert d.fields == ("user.dob",)
    d = screen(record, fields=fields, today=TODAY)  # no jurisdiction either
    assert d.outcome is Outcome.INVALID
    assert Reason.BIRTHDATE_MISSING not in d.reasons


def test_present_birth_keys() -> None:
    fields = FieldMap(birthdate=("user.dob", "dob"), age="age")
    assert present_birth_keys({}, fields) == ()
    assert present_birth_keys({"country": "CA", "name": "x"}, fields) == ()
    assert present_birth_keys({"dob": None, "age": ""}, fields) == ("dob", "age")
    assert present_birth_keys({"user": {"dob": "x"}}, fields) == ("user.dob",)
    ambiguous = {"user": {"dob": "x"}, "user.dob": "y", "birth_month": 5}
    assert present_birth_keys(ambiguous, fields) == ("user.dob", "birth_month")


# -- FieldMap with several keys ---------------------------------------------------


def test_field_map_keys() -> None:
    fields = FieldMap(birthdate=("dob", "birthdate", "dob"), country="nation")
    assert fields.birthdate == ("dob", "birthdate")
    assert fields.keys_of("birthdate") == ("dob", "birthdate")
    assert fields.keys_of("country") == ("nation",)
    assert FieldMap(age=None).keys_of("age") == ()
    assert fields.keys()["birthdate"] == "dob"
    assert fields.birth_keys() == (
        "dob",
        "birthdate",
        "birth_year",
        "birth_month",
        "birth_day",
        "age",
    )
    assert "nation" in fields.screened_keys()
    assert "account_id" not in fields.screened_keys()
    assert "account_id" in fields.all_keys()
    # One key given as a sequence is that key; the value stays hashable.
    assert FieldMap(birthdate=["dob"]) == FieldMap(birthdate="dob")
    assert hash(fields) == hash(
        FieldMap(birthdate=["dob", "birthdate"], country="nation")
    )
    assert FieldMap.from_mapping({"birthdate": ("a", "b")}).birthdate == ("a", "b")
    with pytest.raises(ValueError, match="unknown field"):
        fields.keys_of("shoe_size")


@pytest.mark.parametrize(
    "options",
    [
        {"birthdate": ()},
        {"birthdate": ("dob", "")},
        {"birthdate": ("dob", "user..dob")},
        {"country": ("country", "")},
        {"account_id": ("id", "user_id")},
        {"collected_at": ("collected_at", "created")},
    ],
)
def test_field_map_refuses_bad_keys(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="FieldMap"):
        FieldMap(**options)


# -- the spans readings are compared by ---------------------------------------------


@given(
    on=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    age=st.integers(min_value=0, max_value=130),
)
def test_a_declared_age_spans_exactly_the_birth_dates_of_that_age(
    on: date, age: int
) -> None:
    earliest, latest = Birth(declared_age=age).span(on)
    assert age_on(earliest, on) == age
    assert age_on(latest, on) == age
    assert age_on(earliest - timedelta(days=1), on) == age + 1
    after = latest + timedelta(days=1)
    assert after > on or age_on(after, on) == age - 1


# -- the batch review reads them too ----------------------------------------------


def test_the_review_flags_a_minor_behind_an_alias_decoy() -> None:
    settings = ReviewSettings(
        today=TODAY, secret=b"0123456789abcdef0123", fields=ALIASES
    )
    reviewer = Reviewer(settings, load_rules())
    flag = reviewer.review(
        {"account_id": "a1", "dob": "2014-03-01", "birthdate": ADULT, "country": "CA"}
    )
    assert flag is not None
    assert "MINOR_NOW" in flag.codes
    assert (
        reviewer.review(
            {"account_id": "a2", "dob": ADULT, "birthdate": ADULT, "country": "CA"}
        )
        is None
    )


def test_the_review_carries_a_declared_age_beside_a_date_forward() -> None:
    settings = ReviewSettings(today=TODAY, secret=b"0123456789abcdef0123")
    reviewer = Reviewer(settings, load_rules())
    record = {
        "account_id": "a3",
        "age": 12,
        "birthdate": ADULT,
        "country": "CA",
        "collected_at": "2020-01-01",
    }
    flag = reviewer.review(record)
    assert flag is not None
    assert "MINOR_AT_COLLECTION" in flag.codes


# -- end to end: FastAPI apps behind the gate on uvicorn -------------------------------


class AgeSignup(BaseModel):
    age: int
    country: str


class AliasSignup(BaseModel):
    birthdate: date = Field(validation_alias=AliasChoices("dob", "birthdate"))
    country: str


def fastapi_app(fields: FieldMap, seen: list[Any]) -> FastAPI:
    app = FastAPI()

    @app.post("/signup/age")
    async def signup_age(body: AgeSignup) -> dict[str, bool]:
        seen.append(body.age)
        return {"created": True}

    @app.post("/signup/alias")
    async def signup_alias(body: AliasSignup) -> dict[str, bool]:
        seen.append(body.birthdate)
        return {"created": True}

    app.add_middleware(
        AgeGateMiddleware,
        paths=["/signup/age", "/signup/alias"],
        fields=fields,
        secret=SECRET,
        rules=load_rules(),
        block_cookie=False,
    )
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, list[Any]]]:
    seen: list[Any] = []
    with uvicorn_server(fastapi_app(ALIASES, seen)) as url:
        yield url, seen


def post(url: str, path: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(f"{url}{path}", json=body, timeout=10)


def test_an_app_reading_age_refuses_a_twelve_year_old_with_an_adult_decoy(
    served: tuple[str, list[Any]],
) -> None:
    url, seen = served
    seen.clear()
    response = post(
        url, "/signup/age", {"age": 12, "birthdate": ADULT, "country": "CA"}
    )
    assert response.status_code == 403
    assert seen == []
    adult = {"age": 40, "birthdate": years_ago(40), "country": "CA"}
    assert post(url, "/signup/age", adult).status_code == 200
    assert seen == [40]


def test_an_app_with_alias_choices_refuses_a_minor_behind_either_key(
    served: tuple[str, list[Any]],
) -> None:
    url, seen = served
    seen.clear()
    minor = years_ago(12)
    for body in (
        {"dob": minor, "birthdate": ADULT, "country": "CA"},
        {"dob": ADULT, "birthdate": minor, "country": "CA"},
        {"dob": minor, "country": "CA"},
    ):
        response = post(url, "/signup/alias", body)
        assert response.status_code == 403, body
    assert seen == []
    response = post(
        url, "/signup/alias", {"dob": ADULT, "birthdate": ADULT, "country": "CA"}
    )
    assert response.status_code == 200
    assert seen == [date(1990, 1, 1)]
