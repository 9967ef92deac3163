"""Jurisdiction signals through screen(): declared, billing, phone, trusted country."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from datetime import date

import pycountry
import pytest

from agegate import Decision, FieldMap, Outcome, Policy, load_rules, screen
from agegate.codes import WITHDRAWN
from agegate.decision import Reason
from agegate.errors import InputProblem
from agegate.signals import (
    country_code,
    postal_code,
    subdivision_code,
    trusted_country_code,
)

TODAY = date(2026, 11, 28)
RULES = load_rules()


def _screen(record: Mapping[str, object], **options: object) -> Decision:
    options.setdefault("today", TODAY)
    options.setdefault("rules", RULES)
    return screen(record, **options)  # type: ignore[arg-type]


# -- the conflicts the issue names -------------------------------------------


def test_declared_canada_with_an_alabama_number_requires_19_from_alabama() -> None:
    d = screen(
        {"birthdate": "2007-06-01", "country": "CA", "phone": "+1 205 555 0100"},
        today=TODAY,
    )
    assert d.required_age == 19
    assert d.jurisdiction == "US-AL"
    assert d.jurisdictions == ("CA", "US-AL")
    assert Reason.SIGNALS_CONFLICT in d.reasons
    assert d.outcome is Outcome.ALLOW  # 19 on 2026-06-01


def test_declared_us_with_a_mississippi_number_requires_21() -> None:
    d = screen(
        {"birthdate": "2007-06-01", "country": "US", "phone": "+1 601 555 0100"},
        today=TODAY,
    )
    assert d.outcome is Outcome.BLOCK
    assert d.required_age == 21
    assert d.jurisdiction == "US-MS"
    assert d.reasons == (Reason.UNDERAGE,)  # same country: no conflict


def test_declared_japan_with_a_japanese_number_follows_the_date() -> None:
    record = {"birthdate": "2003-01-01", "country": "JP", "phone": "+81 90 1234 5678"}
    now = screen(record, today=TODAY)
    assert (now.required_age, now.jurisdiction, now.outcome) == (
        18,
        "JP",
        Outcome.ALLOW,
    )
    before = screen(record, today=date(2022, 3, 31))
    assert before.required_age == 20
    assert before.outcome is Outcome.BLOCK  # 19 on 2022-03-31
    after = screen(record, today=date(2022, 4, 1))
    assert after.required_age == 18


def test_the_cli_check_reports_mississippi() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agegate.cli",
            "check",
            "--birthdate",
            "2007-06-01",
            "--country",
            "US",
            "--phone",
            "+1 601 555 0100",
            "--today",
            "2026-11-28",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    answer = json.loads(result.stdout)
    assert answer["outcome"] == "BLOCK"
    assert answer["required_age"] == 21
    assert answer["jurisdiction"] == "US-MS"
    assert "555" not in result.stdout + result.stderr


# -- phone signal outcomes -----------------------------------------------------


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+1 601 555 CALL", Reason.PHONE_MALFORMED),
        ("+1 601", Reason.PHONE_INVALID),
        ("+1 601 555 0100 1234", Reason.PHONE_INVALID),
        ("+\uff11 601 555 0100", Reason.PHONE_MALFORMED),
        ("+999 1234 5678", Reason.PHONE_INVALID),
    ],
)
def test_an_unusable_phone_is_invalid_unless_optional(number: str, reason: str) -> None:
    record = {"birthdate": "2000-01-01", "country": "US", "phone": number}
    d = _screen(record)
    assert d.outcome is Outcome.INVALID
    assert d.reasons == (reason,)
    assert d.fields == ("phone",)
    relaxed = _screen(record, policy=Policy(phone_optional=True))
    assert relaxed.outcome is Outcome.ALLOW
    assert relaxed.jurisdictions == ("US",)


def test_an_empty_phone_is_no_signal() -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "US", "phone": "  "})
    assert d.outcome is Outcome.ALLOW


def test_a_phone_that_is_not_text_is_malformed_and_optional_drops_it() -> None:
    record = {"birthdate": "2000-01-01", "country": "US", "phone": ["+1"]}
    assert _screen(record).reasons == (Reason.PHONE_MALFORMED,)
    relaxed = _screen(record, policy=Policy(phone_optional=True))
    assert relaxed.outcome is Outcome.ALLOW


def test_a_national_number_is_read_in_the_declared_country() -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "US", "phone": "(601) 555-0100"})
    assert d.jurisdiction == "US-MS"
    gb = _screen({"birthdate": "2000-01-01", "country": "GB", "phone": "020 7946 0000"})
    assert gb.jurisdictions == ("GB",)


def test_a_national_number_without_a_country_is_invalid() -> None:
    d = _screen({"birthdate": "2000-01-01", "phone": "601 555 0100"})
    assert d.outcome is Outcome.INVALID
    assert Reason.PHONE_INVALID in d.reasons


def test_a_phone_alone_is_a_jurisdiction() -> None:
    d = _screen({"birthdate": "2007-06-01", "phone": "+1 867 555 0100"})
    assert d.jurisdictions == ("CA-NT", "CA-NU", "CA-YT")
    assert d.required_age == 19
    assert d.outcome is Outcome.ALLOW


def test_a_toll_free_number_alone_is_no_jurisdiction() -> None:
    d = _screen({"birthdate": "2000-01-01", "phone": "+1 800 555 0100"})
    assert d.outcome is Outcome.NEEDS_INFO
    assert Reason.JURISDICTION_MISSING in d.reasons


# -- declared and billing addresses ----------------------------------------------


def test_billing_address_signals() -> None:
    d = _screen(
        {
            "birthdate": "2007-06-01",
            "country": "CA",
            "billing_country": "Canada",
            "billing_subdivision": "British Columbia",
        }
    )
    assert d.jurisdictions == ("CA", "CA-BC")
    assert d.required_age == 19
    assert Reason.SIGNALS_CONFLICT not in d.reasons


def test_a_billing_postal_code_pins_the_province() -> None:
    d = _screen(
        {
            "birthdate": "2008-01-01",
            "country": "CA",
            "subdivision": "ON",
            "billing_country": "CA",
            "billing_postal_code": "v6b 1a1",
        }
    )
    assert d.jurisdiction == "CA-BC"
    assert d.required_age == 19
    assert d.outcome is Outcome.BLOCK


def test_a_postal_code_without_billing_country_is_read_in_the_declared_one() -> None:
    d = _screen(
        {"birthdate": "2000-01-01", "country": "CA", "billing_postal_code": "X0A 0H0"}
    )
    assert set(d.jurisdictions) == {"CA", "CA-NT", "CA-NU"}


def test_a_malformed_canadian_postal_code_is_invalid() -> None:
    d = _screen(
        {
            "birthdate": "2000-01-01",
            "billing_country": "CA",
            "billing_postal_code": "Z1Z",
        }
    )
    assert d.outcome is Outcome.INVALID
    assert d.fields == ("billing_postal_code",)


def test_billing_fields_are_read_through_the_field_map() -> None:
    fields = FieldMap(
        billing_country="billing.address.country",
        billing_subdivision="billing.address.state",
        billing_postal_code="billing.address.zip",
    )
    record = {
        "birthdate": "2006-01-01",
        "country": "US",
        "billing": {"address": {"country": "US", "state": "AL", "zip": "35203"}},
    }
    d = _screen(record, fields=fields)
    assert d.jurisdiction == "US-AL"
    assert d.outcome is Outcome.ALLOW


def test_a_billing_country_that_differs_is_a_conflict() -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "FR", "billing_country": "US"})
    assert d.jurisdictions == ("FR", "US")
    assert Reason.SIGNALS_CONFLICT in d.reasons


def test_an_unknown_subdivision_names_its_field_and_keeps_the_country() -> None:
    d = _screen({"birthdate": "2007-06-01", "country": "US", "subdivision": "Narnia"})
    assert d.outcome is Outcome.INVALID
    assert d.fields == ("subdivision",)
    assert d.reasons == (Reason.SUBDIVISION_UNKNOWN,)
    assert d.jurisdictions == ("US",)


def test_an_unknown_country_names_its_field() -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "Atlantis", "subdivision": "BC"})
    assert d.fields == ("country",)
    assert d.reasons == (Reason.COUNTRY_UNKNOWN,)


def test_a_full_subdivision_code_needs_no_country() -> None:
    d = _screen({"birthdate": "2007-06-01", "subdivision": "US-MS"})
    assert d.jurisdiction == "US-MS"
    assert d.outcome is Outcome.BLOCK


def test_a_subdivision_of_another_country_is_a_second_jurisdiction() -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "CA", "subdivision": "US-MS"})
    assert d.jurisdictions == ("CA", "US-MS")
    assert d.required_age == 21
    assert Reason.SIGNALS_CONFLICT in d.reasons


# -- trusted country -----------------------------------------------------------------


def test_a_trusted_country_is_a_signal() -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "FR"}, trusted_country="us")
    assert d.jurisdictions == ("FR", "US")
    assert Reason.SIGNALS_CONFLICT in d.reasons


def test_a_trusted_country_alone_is_enough() -> None:
    d = _screen({"birthdate": "2000-01-01"}, trusted_country="JP")
    assert d.outcome is Outcome.ALLOW
    assert d.jurisdiction == "JP"


def test_an_untrusted_country_field_in_the_record_is_not_read() -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "FR", "ip_country": "US"})
    assert d.jurisdictions == ("FR",)


@pytest.mark.parametrize("marker", ["XX", "T1", "A1", "eu", ""])
def test_proxy_markers_for_an_unknown_country_are_no_signal(marker: str) -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "FR"}, trusted_country=marker)
    assert d.outcome is Outcome.ALLOW
    assert d.jurisdictions == ("FR",)


@pytest.mark.parametrize("value", ["ZZ", "France", "USA", "1"])
def test_an_unexpected_trusted_value_is_invalid(value: str) -> None:
    d = _screen({"birthdate": "2000-01-01", "country": "FR"}, trusted_country=value)
    assert d.outcome is Outcome.INVALID
    assert d.fields == ("ip_country",)


def test_an_alias_country_from_a_proxy_answers_as_its_own() -> None:
    d = _screen(
        {"birthdate": "2000-01-01", "subdivision": "US-PR"}, trusted_country="PR"
    )
    assert d.jurisdictions == ("PR",)
    assert Reason.SIGNALS_CONFLICT not in d.reasons


# -- the signal readers themselves ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("US", "US"),
        ("usa", "US"),
        ("United States", "US"),
        ("  canada ", "CA"),
        ("Côte d'Ivoire", "CI"),
        ("cote d ivoire", "CI"),
        ("Japan", "JP"),
    ],
)
def test_country_names_and_codes(text: str, expected: str) -> None:
    assert country_code(text) == expected


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("AL", "US", "US-AL"),
        ("Alabama", "US", "US-AL"),
        ("us-ms", None, "US-MS"),
        ("British Columbia", "CA", "CA-BC"),
        ("Québec", "CA", "CA-QC"),
        ("quebec", "CA", "CA-QC"),
    ],
)
def test_subdivision_names_and_codes(
    text: str, country: str | None, expected: str
) -> None:
    assert subdivision_code(text, country) == expected


def test_a_subdivision_name_without_a_country_is_refused() -> None:
    with pytest.raises(InputProblem) as caught:
        subdivision_code("Alabama", None)
    assert caught.value.reason == Reason.SUBDIVISION_WITHOUT_COUNTRY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("V6B 1A1", ("CA-BC",)),
        ("h2x1y4", ("CA-QC",)),
        ("Y1A 2B3", ("CA-YT",)),
        ("X1A 2B3", ("CA-NT", "CA-NU")),
        ("A1C 5M2", ("CA-NL",)),
    ],
)
def test_canadian_postal_codes(text: str, expected: tuple[str, ...]) -> None:
    assert postal_code(text, "CA") == expected


def test_other_postal_codes_point_nowhere() -> None:
    assert postal_code("SW1A 1AA", "GB") == ()
    assert postal_code("75008", "FR") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35203", ("US-AL",)),  # Birmingham
        ("36104-1234", ("US-AL",)),  # Montgomery, ZIP+4
        ("39201", ("US-MS",)),  # Jackson
        ("38655", ("US-MS",)),  # Oxford
        ("68508", ("US-NE",)),  # Lincoln
        ("00901", ("US-PR",)),  # San Juan
        ("00802", ("US-VI",)),  # St. Thomas
        ("10001", ("US",)),  # New York: no age of its own
        ("35301", ("US",)),  # 353 is not Alabama's
        ("68201", ("US",)),  # 682 is not Nebraska's
    ],
)
def test_us_zip_codes(text: str, expected: tuple[str, ...]) -> None:
    assert postal_code(text, "US") == expected


@pytest.mark.parametrize("text", ["3520", "352031", "35203-12", "ABCDE", "３５２０３"])
def test_malformed_zip_codes(text: str) -> None:
    with pytest.raises(InputProblem) as caught:
        postal_code(text, "US")
    assert caught.value.reason == Reason.POSTAL_CODE_UNKNOWN


def test_a_zip_code_raises_the_age_of_a_declared_state() -> None:
    d = screen(
        {
            "birthdate": "2007-06-01",
            "country": "US",
            "subdivision": "NY",
            "billing_postal_code": "39201",
        },
        today=date(2026, 11, 28),
    )
    assert d.outcome is Outcome.BLOCK
    assert d.required_age == 21
    assert d.jurisdiction == "US-MS"
    assert set(d.jurisdictions) == {"US-NY", "US-MS"}


@pytest.mark.parametrize("text", ["D1A 1A1", "V6B", "V6B 1A1 9", "123456", "V６B 1A1"])
def test_malformed_canadian_postal_codes(text: str) -> None:
    with pytest.raises(InputProblem) as caught:
        postal_code(text, "CA")
    assert caught.value.reason == Reason.POSTAL_CODE_UNKNOWN


def test_trusted_country_codes() -> None:
    assert trusted_country_code(" gb ") == "GB"
    assert trusted_country_code("XX") is None
    with pytest.raises(InputProblem):
        trusted_country_code("GBR")


@pytest.mark.parametrize(
    ("withdrawn", "expected"),
    [
        ("TP", ("TL",)),
        ("TMP", ("TL",)),
        ("zr", ("CD",)),
        ("AN", ("BQ", "CW", "SX")),
        ("YUG", ("BA", "HR", "ME", "MK", "RS", "SI")),
    ],
)
def test_withdrawn_country_codes_point_to_todays_countries(
    withdrawn: str, expected: tuple[str, ...]
) -> None:
    d = screen(
        {"birthdate": "1990-01-01", "country": withdrawn}, today=date(2026, 11, 28)
    )
    assert d.jurisdictions == expected
    assert d.outcome is Outcome.ALLOW


def test_a_code_withdrawn_for_several_countries_takes_the_strictest() -> None:
    # Netherlands Antilles: Curacao, Sint Maarten and the BES islands.
    ages = [load_rules().majority_age(c) for c in ("BQ", "CW", "SX")]
    d = screen({"birthdate": "1990-01-01", "country": "AN"}, today=date(2026, 11, 28))
    assert d.required_age == max(18, *ages)


def test_withdrawn_codes_are_withdrawn_and_successors_current() -> None:
    for code, successors in WITHDRAWN.items():
        assert pycountry.countries.get(alpha_2=code) is None, code
        assert pycountry.historic_countries.get(alpha_2=code) is not None, code
        assert all(pycountry.countries.get(alpha_2=s) for s in successors), code


def test_reassigned_codes_mean_todays_country() -> None:
    d = screen({"birthdate": "1990-01-01", "country": "SK"}, today=date(2026, 11, 28))
    assert d.jurisdictions == ("SK",)
