"""Place names in English and French, English exonyms, and ambiguous names."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date

import pycountry
import pytest

from agegate import Decision, Outcome, load_rules, place_names, screen
from agegate.apps.demo import _country_options
from agegate.decision import Reason
from agegate.place_names import country_choices, fold, sort_key

TODAY = date(2026, 11, 28)
RULES = load_rules()

# French names as the Office québécois de la langue française writes them.
CANADA_FR = {
    "CA-AB": "Alberta",
    "CA-BC": "Colombie-Britannique",
    "CA-MB": "Manitoba",
    "CA-NB": "Nouveau-Brunswick",
    "CA-NL": "Terre-Neuve-et-Labrador",
    "CA-NS": "Nouvelle-Écosse",
    "CA-NT": "Territoires du Nord-Ouest",
    "CA-NU": "Nunavut",
    "CA-ON": "Ontario",
    "CA-PE": "Île-du-Prince-Édouard",
    "CA-QC": "Québec",
    "CA-SK": "Saskatchewan",
    "CA-YT": "Yukon",
}
US_FR = {
    "US-AK": "Alaska",
    "US-AL": "Alabama",
    "US-AR": "Arkansas",
    "US-AZ": "Arizona",
    "US-CA": "Californie",
    "US-CO": "Colorado",
    "US-CT": "Connecticut",
    "US-DC": "District de Columbia",
    "US-DE": "Delaware",
    "US-FL": "Floride",
    "US-GA": "Géorgie",
    "US-HI": "Hawaï",
    "US-IA": "Iowa",
    "US-ID": "Idaho",
    "US-IL": "Illinois",
    "US-IN": "Indiana",
    "US-KS": "Kansas",
    "US-KY": "Kentucky",
    "US-LA": "Louisiane",
    "US-MA": "Massachusetts",
    "US-MD": "Maryland",
    "US-ME": "Maine",
    "US-MI": "Michigan",
    "US-MN": "Minnesota",
    "US-MO": "Missouri",
    "US-MS": "Mississippi",
    "US-MT": "Montana",
    "US-NC": "Caroline du Nord",
    "US-ND": "Dakota du Nord",
    "US-NE": "Nebraska",
    "US-NH": "New Hampshire",
    "US-NJ": "New Jersey",
    "US-NM": "Nouveau-Mexique",
    "US-NV": "Nevada",
    "US-NY": "New York",
    "US-OH": "Ohio",
    "US-OK": "Oklahoma",
    "US-OR": "Oregon",
    "US-PA": "Pennsylvanie",
    "US-RI": "Rhode Island",
    "US-SC": "Caroline du Sud",
    "US-SD": "Dakota du Sud",
    "US-TN": "Tennessee",
    "US-TX": "Texas",
    "US-UT": "Utah",
    "US-VA": "Virginie",
    "US-VT": "Vermont",
    "US-WA": "Washington",
    "US-WI": "Wisconsin",
    "US-WV": "Virginie-Occidentale",
    "US-WY": "Wyoming",
}
US_STATES = [*US_FR]


def _english(code: str) -> str:
    return str(pycountry.subdivisions.get(code=code).name)


def _screen(record: Mapping[str, object]) -> Decision:
    return screen({"birthdate": "1990-01-01", **record}, today=TODAY, rules=RULES)


def _resolves(country: str, name: str, code: str) -> None:
    d = _screen({"country": country, "subdivision": name})
    assert d.outcome is Outcome.ALLOW, (name, d.reasons)
    assert d.jurisdictions == (code,), name


def test_every_canadian_province_and_territory_in_both_languages() -> None:
    assert set(CANADA_FR) == {
        s.code for s in pycountry.subdivisions.get(country_code="CA")
    }
    for code, french in CANADA_FR.items():
        _resolves("CA", _english(code), code)
        _resolves("Canada", french, code)
        _resolves("CA", french.upper(), code)


def test_every_us_state_in_both_languages() -> None:
    states = {
        s.code
        for s in pycountry.subdivisions.get(country_code="US")
        if s.type in ("State", "District")
    }
    assert set(US_STATES) == states
    for code in US_STATES:
        _resolves("US", _english(code), code)
        _resolves("États-Unis", US_FR[code], code)
        _resolves("US", fold(US_FR[code]), code)


@pytest.mark.parametrize(
    ("country", "name", "code"),
    [
        ("CA", "Colombie-Britannique", "CA-BC"),
        ("CA", "British Columbia", "CA-BC"),
        ("CA", "Québec", "CA-QC"),
        ("CA", "quebec", "CA-QC"),
        ("CA", "QUÉBEC", "CA-QC"),
        ("DE", "Bavaria", "DE-BY"),
        ("DE", "Bayern", "DE-BY"),
        ("Allemagne", "Bavière", "DE-BY"),
        ("Germany", "North Rhine-Westphalia", "DE-NW"),
        ("CH", "Geneva", "CH-GE"),
        ("CH", "Genève", "CH-GE"),
        ("BE", "Flanders", "BE-VLG"),
        ("IT", "Tuscany", "IT-52"),
        ("AT", "Vienna", "AT-9"),
        ("ES", "Catalonia", "ES-CT"),
        # A full name beats a bare one: the province, not the community
        # written "Madrid, Comunidad de" (the same territory).
        ("ES", "Madrid", "ES-M"),
    ],
)
def test_names_in_both_languages_and_english_exonyms(
    country: str, name: str, code: str
) -> None:
    _resolves(country, name, code)


@pytest.mark.parametrize(
    ("text", "code"),
    [("Allemagne", "DE"), ("États-Unis", "US"), ("etats unis", "US"), ("Suisse", "CH")],
)
def test_french_country_names(text: str, code: str) -> None:
    d = _screen({"country": text})
    assert d.jurisdictions == (code,)


@pytest.mark.parametrize(
    ("country", "name"),
    [
        # A region and a district of the same name (ISO 3166-2:CZ).
        ("CZ", "Liberec"),
        # An autonomous community and its province share the name.
        ("ES", "Cantabria"),
    ],
)
def test_a_name_for_two_places_in_one_country_is_refused(
    country: str, name: str
) -> None:
    d = _screen({"country": country, "subdivision": name})
    assert d.outcome is Outcome.INVALID
    assert d.reasons == (Reason.SUBDIVISION_AMBIGUOUS,)
    assert d.fields == ("subdivision",)
    assert d.jurisdictions == (country,)


def test_a_name_for_two_countries_is_refused() -> None:
    d = _screen({"country": "Korea"})
    assert d.outcome is Outcome.INVALID
    assert d.reasons == (Reason.COUNTRY_AMBIGUOUS,)
    assert d.fields == ("country",)


def test_names_longer_than_any_place_are_unknown() -> None:
    d = _screen({"country": "CA", "subdivision": "Québec" * 30})
    assert d.reasons == (Reason.SUBDIVISION_UNKNOWN,)


def test_the_index_is_built_once_under_concurrent_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(place_names, "_index", None)
    seen: list[int] = []
    threads = [
        threading.Thread(target=lambda: seen.append(id(place_names._get_index())))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1


def test_lookups_never_grow_the_index() -> None:
    index = place_names._get_index()
    before = sum(len(names) for names in index.subdivisions.values())
    for i in range(2_000):
        assert place_names.subdivision(f"nowhere {i}", "CA").code is None
        assert place_names.country(f"nowhere {i}").code is None
    assert sum(len(names) for names in index.subdivisions.values()) == before


# -- the order of a country list ---------------------------------------------


def test_sort_key_folds_accents_and_case() -> None:
    names = ["Cuba", "Côte d'Ivoire", "Costa Rica", "Åland Islands", "Zambia", "aruba"]
    assert sorted(names, key=sort_key) == [
        "Åland Islands",
        "aruba",
        "Costa Rica",
        "Côte d'Ivoire",
        "Cuba",
        "Zambia",
    ]


def _codes_in_order(language: place_names.Language) -> list[str]:
    return [code for code, _ in country_choices(language)]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_country_choices_sort_in_the_readers_language(
    language: place_names.Language,
) -> None:
    order = _codes_in_order(language)
    assert len(order) == len(pycountry.countries)
    assert order.index("CR") < order.index("CI") < order.index("HR")
    assert order.index("AX") < 5


def test_french_country_choices_are_named_and_sorted_in_french() -> None:
    choices = dict(country_choices("fr"))
    assert choices["DE"] == "Allemagne"
    order = _codes_in_order("fr")
    # "Égypte" sorts among the E's, not after "Zimbabwe".
    assert order.index("DM") < order.index("EG") < order.index("EC") < order.index("ES")
    assert order.index("DE") < order.index("AD")  # Allemagne < Andorre


def test_the_demo_country_list_uses_the_folded_order() -> None:
    options = _country_options()
    assert options.index('value="CR"') < options.index('value="CI"')
    assert options.index('value="CI"') < options.index('value="HR"')
    assert options.index('value="AX"') < options.index('value="BE"')
