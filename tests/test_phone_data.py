"""The shipped area-code table: in step with phonenumbers, and the only source
of area codes at run time (the geocoding data is never imported)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agegate import phone, phone_data


def test_the_shipped_table_is_what_the_installed_phonenumbers_gives() -> None:
    # A phonenumbers upgrade that moves an area code fails here until
    # `python -m agegate.phone_data` is run again.
    assert phone_data.generate() == phone_data.shipped()


def test_the_check_command_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert phone_data.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_table_covers_every_geographic_area_code() -> None:
    rows = dict(phone_data.parse(phone_data.shipped()))
    examples = phone_data.example_numbers()
    assert len(rows) > 400
    assert set(rows) < set(examples)
    assert {"800", "888", "900"} <= set(examples) - set(rows)
    for area, codes in rows.items():
        assert codes, area
        assert codes == tuple(sorted(set(codes)))
        assert all(code[:3] in {"US-", "CA-"} for code in codes), area


def test_the_file_round_trips() -> None:
    rows = {"205": ("US-AL",), "867": ("CA-NT", "CA-NU", "CA-YT")}
    assert dict(phone_data.parse(phone_data.render(rows))) == rows


def test_an_area_code_placed_in_an_unknown_name_stops_the_generator() -> None:
    # 205 is a US area code; a name no subdivision has must not be dropped.
    with pytest.raises(phone_data.UnmappedAreaCode, match="205"):
        phone_data.table({"1205": {"en": "Atlantis"}})


def test_other_countries_of_the_plan_are_left_out() -> None:
    assert phone_data.table({"1876": {"en": "Kingston"}}) == {}
    assert phone_data.table({"1604": {"en": "British Colombia"}}) == {"604": ("CA-BC",)}


def test_phone_reads_the_shipped_table() -> None:
    assert phone.area_subdivisions("201", "US") == ("US-NJ", "US-NY")
    assert phone.area_subdivisions("201", "CA") == ()
    assert phone.jurisdictions("+1 867 222 1234", None) == ("CA-NT", "CA-NU", "CA-YT")


PROBE = """
import json, sys
from agegate import load_rules, screen
rules = load_rules()
places = {}
for area, number in json.loads(sys.stdin.read()).items():
    decision = screen(
        {"birthdate": "1990-01-01", "phone": number}, rules=rules
    )
    places[area] = decision.jurisdiction
loaded = sorted(m for m in sys.modules if "geocoder" in m or "geodata" in m)
print(json.dumps({"loaded": loaded, "places": places}))
"""


def test_screening_every_area_code_loads_no_geocoding_data() -> None:
    examples = phone_data.example_numbers()
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps(examples),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(result.stdout)
    assert found["loaded"] == []
    assert len(found["places"]) == len(examples)
    assert found["places"]["205"] == "US-AL"
    assert found["places"]["604"] == "CA-BC"
