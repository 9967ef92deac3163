"""Country and subdivision names in English, French and other major languages.

People type the place they live in the language they speak: "Colombie-
Britannique", "Bavaria", "quebec", "Deutschland", "UK". Names come from
pycountry's ISO 3166 names and its own gettext catalogues (French first,
then the `MORE_LANGUAGES`), plus short tables of English names where ISO
gives only the local one and of common names that are no ISO name ("UK").
Matching ignores case, accents, punctuation and spacing. A name that stands
for two places in one country is ambiguous, and is answered as such rather
than guessed. Names in English and French come first: a name in another
language counts only where no English or French name is spelled alike, so
adding a language never changes what an English or French name means.

The index is built once, on first use, under a lock. Its size is fixed by
pycountry's data: client text only ever reads it.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import Literal

import attrs

Language = Literal["en", "fr"]


def fold(text: str) -> str:
    """Case-, accent-, punctuation- and spacing-insensitive form of a name."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Punctuation varies between spellings ("Cote d'Ivoire", "Cote d Ivoire").
    spaced = "".join(c if c.isalnum() else " " for c in stripped.casefold())
    return " ".join(spaced.split())


def sort_key(name: str) -> tuple[str, str]:
    """Order names as a reader expects: accents and case folded, not code points.

    "Åland Islands" sorts among the A's and "Côte d'Ivoire" after "Costa
    Rica"; the name itself breaks ties so the order is total.
    """
    return fold(name), name


# English names of subdivisions whose ISO 3166-2 name is only the local one,
# spelled as Unicode CLDR's common/subdivisions/en.xml spells them (the 2019
# copy at commit 085f46b), checked entry by entry. Only names that differ
# from the ISO name after folding are listed: CLDR's "Zürich", "Graubünden",
# "Basel-Stadt", "Basel-Landschaft" and "Mecklenburg-Vorpommern" are the ISO
# names already.
ENGLISH_EXONYMS: dict[str, tuple[str, ...]] = {
    # Austria: Länder.
    "AT-2": ("Carinthia",),
    "AT-3": ("Lower Austria",),
    "AT-4": ("Upper Austria",),
    "AT-6": ("Styria",),
    "AT-7": ("Tyrol",),
    "AT-9": ("Vienna",),
    # Belgium: regions and provinces.
    "BE-BRU": ("Brussels",),
    "BE-VLG": ("Flanders",),
    "BE-WAL": ("Wallonia",),
    "BE-VAN": ("Antwerp",),
    "BE-VOV": ("East Flanders",),
    "BE-VWV": ("West Flanders",),
    "BE-VBR": ("Flemish Brabant",),
    "BE-WBR": ("Walloon Brabant",),
    # Switzerland: cantons.
    "CH-BE": ("Bern",),
    "CH-GE": ("Geneva",),
    "CH-LU": ("Lucerne",),
    "CH-SG": ("St. Gallen",),
    # Germany: Länder.
    "DE-BY": ("Bavaria",),
    "DE-HE": ("Hesse",),
    "DE-NI": ("Lower Saxony",),
    "DE-NW": ("North Rhine-Westphalia",),
    "DE-RP": ("Rhineland-Palatinate",),
    "DE-SN": ("Saxony",),
    "DE-ST": ("Saxony-Anhalt",),
    "DE-TH": ("Thuringia",),
    # Italy: regions.
    "IT-21": ("Piedmont",),
    "IT-23": ("Aosta Valley",),
    "IT-25": ("Lombardy",),
    "IT-32": ("Trentino-South Tyrol",),
    "IT-52": ("Tuscany",),
    "IT-75": ("Apulia",),
    "IT-82": ("Sicily",),
    "IT-88": ("Sardinia",),
    # Spain: autonomous communities.
    "ES-AN": ("Andalusia",),
    "ES-AR": ("Aragon",),
    "ES-CL": ("Castile and León",),
    "ES-CM": ("Castile-La Mancha",),
    "ES-CT": ("Catalonia",),
    "ES-PV": ("Basque Country",),
    "ES-NC": ("Navarra Chartered Community",),
    "ES-IB": ("Balearic Islands",),
    "ES-CN": ("Canary Islands",),  # CLDR en.xml's 2018 copy, commit 9937f41
}

# French names that pycountry's catalogue misspells or leaves out, as the
# Office québécois de la langue française and the French government's list
# of names of states and territories write them. Canadian and US names only.
FRENCH_NAMES: dict[str, tuple[str, ...]] = {
    "CA-NB": ("Nouveau-Brunswick",),
    "CA-PE": ("Île-du-Prince-Édouard",),
    "US-HI": ("Hawaï",),
    "US-WV": ("Virginie-Occidentale",),
    "US-DC": ("District de Columbia",),
}


# Names people write for a country that are no ISO name in any language
# pycountry knows: the code of the United Kingdom's own top-level domain,
# short forms and initials.
COMMON_COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "GB": ("UK", "U.K.", "Great Britain", "Britain"),
    "US": ("U.S.", "U.S.A.", "United States of America"),
    "AE": ("UAE", "U.A.E."),
}

# The languages read besides English and French: those with the most
# speakers and online users among pycountry's catalogues.
MORE_LANGUAGES = (
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "sv",
    "da",
    "nb_NO",
    "fi",
    "cs",
    "ro",
    "hu",
    "el",
    "tr",
    "ru",
    "uk",
    "ar",
    "he",
    "hi",
    "id",
    "ja",
    "ko",
    "zh_CN",
)
# Subdivision names are read in fewer of them: their catalogues are large
# (the index is built on first use), and a region is mostly written in the
# language of its own country, which these cover for most of Europe and the
# Americas.
MORE_SUBDIVISION_LANGUAGES = ("de", "es", "it", "pt", "nl", "pl")


@attrs.frozen
class Match:
    """What a name stands for: no code, one code, or several (ambiguous)."""

    codes: frozenset[str]

    @property
    def code(self) -> str | None:
        return next(iter(self.codes)) if len(self.codes) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.codes) > 1


NO_MATCH = Match(frozenset())


@attrs.frozen
class _Index:
    countries: dict[str, frozenset[str]]
    subdivisions: dict[str, dict[str, frozenset[str]]]
    # Every subdivision name in English or French, of any country.
    anywhere: dict[str, frozenset[str]]


_lock = threading.Lock()
_index: _Index | None = None


def _get_index() -> _Index:
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _build()
    return _index


def country(text: str) -> Match:
    """The countries a country name (English, French or official) stands for."""
    return Match(_get_index().countries.get(fold(text), frozenset()))


def subdivision_anywhere(text: str) -> Match:
    """The subdivisions of any country a full English or French name stands for
    ("British Columbia" written where the country was asked)."""
    return Match(_get_index().anywhere.get(fold(text), frozenset()))


def subdivision(text: str, country_code: str) -> Match:
    """The subdivisions of one country a name stands for."""
    names = _get_index().subdivisions.get(country_code, {})
    return Match(names.get(fold(text), frozenset()))


def country_choices(language: Language) -> list[tuple[str, str]]:
    """(alpha-2, name) for every country, named and sorted in `language`."""
    translate = _translator("iso3166-1", language)
    import pycountry

    named = [(str(c.alpha_2), translate(str(c.name))) for c in pycountry.countries]
    return sorted(named, key=lambda pair: sort_key(pair[1]))


def _translator(domain: str, language: str) -> Callable[[str], str]:
    if language == "en":
        return str
    import gettext

    import pycountry

    catalogue = gettext.translation(
        domain, pycountry.LOCALES_DIR, languages=[language], fallback=True
    )
    return catalogue.gettext


def _bare(name: str) -> str:
    """A name without its bracketed or inverted part.

    ISO writes some names with a bracketed local form ("Berne [Bern]") or
    inverted ("Madrid, Comunidad de").
    """
    return name.split("[", 1)[0].split("(", 1)[0].split(",", 1)[0]


@attrs.frozen
class _Table:
    """Full names, and bare forms that count only where no full name does.

    "Madrid" is the full name of a province and the bare form of the
    community around it: it means the province. Two full names, or two bare
    forms, that fold alike are ambiguous.
    """

    full: dict[str, set[str]] = attrs.Factory(dict)
    bare: dict[str, set[str]] = attrs.Factory(dict)

    def add(self, names: Iterable[str], code: str) -> None:
        for name in names:
            for table, form in ((self.full, name), (self.bare, _bare(name))):
                key = fold(form)
                if key:
                    table.setdefault(key, set()).add(code)

    def frozen(self) -> dict[str, frozenset[str]]:
        merged = {**self.bare, **self.full}
        return {name: frozenset(found) for name, found in merged.items()}


def _layered(first: _Table, then: _Table) -> dict[str, frozenset[str]]:
    """First's names, and then's names where first has none spelled alike."""
    return {**then.frozen(), **first.frozen()}


def _build() -> _Index:
    import pycountry

    french = _translator("iso3166-1", "fr")
    more = [_translator("iso3166-1", language) for language in MORE_LANGUAGES]
    countries, other_countries = _Table(), _Table()
    for entry in pycountry.countries:
        english = [
            str(value)
            for attribute in ("name", "official_name", "common_name")
            if (value := getattr(entry, attribute, None))
        ]
        code = str(entry.alpha_2)
        common = COMMON_COUNTRY_NAMES.get(code, ())
        countries.add([*english, *common, *(french(n) for n in english)], code)
        other_countries.add([t(n) for t in more for n in english], code)
    subdivisions, anywhere = _subdivisions()
    return _Index(
        countries=_layered(countries, other_countries),
        subdivisions=subdivisions,
        anywhere=anywhere,
    )


def _subdivisions() -> tuple[
    dict[str, dict[str, frozenset[str]]], dict[str, frozenset[str]]
]:
    french = _translator("iso3166-2", "fr")
    more = [
        _translator("iso3166-2", language) for language in MORE_SUBDIVISION_LANGUAGES
    ]
    import pycountry

    first: dict[str, _Table] = {}
    then: dict[str, _Table] = {}
    anywhere: dict[str, set[str]] = {}
    for entry in pycountry.subdivisions:
        name = str(entry.name)
        names = (
            name,
            french(name),
            *ENGLISH_EXONYMS.get(entry.code, ()),
            *FRENCH_NAMES.get(entry.code, ()),
        )
        first.setdefault(entry.country_code, _Table()).add(names, entry.code)
        then.setdefault(entry.country_code, _Table()).add(
            [t(name) for t in more], entry.code
        )
        for full in names:
            anywhere.setdefault(fold(full), set()).add(entry.code)
    return (
        {c: _layered(table, then[c]) for c, table in first.items()},
        {name: frozenset(found) for name, found in anywhere.items() if name},
    )
