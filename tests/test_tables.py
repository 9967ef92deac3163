"""The table loader fails loudly, naming the file and line, on any broken entry."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import pytest

from agegate import TableError, UnknownJurisdiction, load_rules
from agegate.rules import Kind

GOOD_CA = (
    "CA majority 18 - confidence=high"
    ' source="Age of Majority Act <https://example.org/ca>"\n'
)
GOOD_JP = (
    'JP majority 20 - confidence=high source="Civil Code <https://example.org/jp>"\n'
    "JP majority 18 2022-04-01 confidence=high"
    ' source="Act No. 59 of 2018 <https://example.org/jp2>"\n'
)
S = 'confidence=high source="a <https://a>"'


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_small_table_answers(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, {"CA.txt": GOOD_CA, "JP.txt": GOOD_JP}))
    assert rules.majority_age("CA-BC") == 18  # falls back to the country
    assert rules.majority_age("jp") == 18
    assert rules.majority_age("JP", on=date(2022, 3, 31)) == 20
    assert rules.digital_consent_age("JP") is None
    assert rules.rule("JP", Kind.MAJORITY, date(2022, 4, 1)).line == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("CA majority 18 -\n", 1, "expected"),
        ('CA majority 18 - confidence=high source="no address"\n', 1, "public address"),
        ('CA majority 18 - confidence=high note="x"\n', 1, "needs a source"),
        (
            f'CA majority 18 - note="x" {S} bogus=1\n',
            1,
            "may follow",
        ),
        (f"CA majority eighteen - {S}\n", 1, "whole years"),
        (f"CA majority 99 - {S}\n", 1, "outside"),
        (f"CA majority none - {S}\n", 1, "cannot be none"),
        (f"CA majority 18 2022-13-01 {S}\n", 1, "YYYY-MM-DD"),
        (f"CA adulthood 18 - {S}\n", 1, "kind"),
        (f"XX majority 18 - {S}\n", 1, "unknown ISO"),
        ('CA majority 18 - source="a <https://a>\n', 1, "unbalanced"),
        (GOOD_CA + f"US majority 18 - {S}\n", 2, "belongs in US.txt"),
        (GOOD_CA + GOOD_CA, 2, "dates must increase"),
        (
            GOOD_CA
            + f"CA-BC majority 19 2000-01-01 {S}\n"
            + f"CA-BC majority 19 1999-01-01 {S}\n",
            3,
            "dates must increase",
        ),
        (f"CA majority 18 2000-01-01 {S}\n", 1, "from -"),
        (f"# only a comment\nCA-BC majority 19 - {S}\n", 1, "from -"),
        ('CA majority 18 - source="a <https://a>"\n', 1, "needs confidence"),
        (
            'CA majority 18 - confidence=sure source="a <https://a>"\n',
            1,
            "medium or low",
        ),
        (f"CA majority 18 - {S} confidence=low\n", 1, "at most one confidence"),
        (f"CA majority 21 - {S} prevailing=18\n", 1, "go together"),
        (
            f'CA majority 21 - {S} prevailing=18 prevailing_source="no address"\n',
            1,
            "prevailing_source needs a public address",
        ),
        (
            f'CA majority 18 - {S} prevailing=21 prevailing_source="b <https://b>"\n',
            1,
            "must be lower",
        ),
        (
            f'CA majority 21 - {S} prevailing=x prevailing_source="b <https://b>"\n',
            1,
            "whole years",
        ),
        (f"CA majority 18 - {S}\nCA contract none 2009-01-01 {S}\n", 2, "none"),
    ],
)
def test_a_broken_line_names_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    with pytest.raises(TableError, match=message) as caught:
        load_rules(write(tmp_path, {"CA.txt": text}))
    assert caught.value.file == "CA.txt"
    assert caught.value.line == line
    assert str(caught.value).startswith(f"CA.txt:{line}:")


def test_a_file_not_named_by_a_country_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="alpha-2"):
        load_rules(write(tmp_path, {"Canada.txt": GOOD_CA}))


def test_aliases_are_checked(tmp_path: Path) -> None:
    write(tmp_path, {"CA.txt": GOOD_CA})
    with pytest.raises(TableError, match="unknown subdivision"):
        load_rules(write(tmp_path, {"aliases.txt": "XX-YY CA\n"}))
    with pytest.raises(TableError, match="no rules"):
        load_rules(write(tmp_path, {"aliases.txt": "US-PR PR\n"}))
    with pytest.raises(TableError, match="write its rules there"):
        load_rules(
            write(
                tmp_path,
                {
                    "PR.txt": f"PR majority 21 - {S}\n",
                    "US.txt": f"US majority 18 - {S}\nUS-PR majority 21 - {S}\n",
                    "aliases.txt": "US-PR PR\n",
                },
            )
        )


def test_unknown_codes_raise_lookup_error_without_personal_data(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, {"CA.txt": GOOD_CA}))
    with pytest.raises(LookupError, match="ZZ"):
        rules.majority_age("ZZ")
    with pytest.raises(UnknownJurisdiction) as caught:
        rules.majority_age("jane.doe@example.org")
    assert "jane" not in str(caught.value)
    assert rules.get("ZZ") is None


def test_errors_pickle_cleanly() -> None:
    for error in (TableError("bad", file="CA.txt", line=3), UnknownJurisdiction("ZZ")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)


def test_the_bundled_tables_load_once() -> None:
    assert load_rules() is load_rules()
    assert load_rules().majority_age("CA-BC") == 19
