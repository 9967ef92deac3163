"""The `agegate` command, run as a user runs it: a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import agegate


def test_rules_shows_the_age_and_its_source() -> None:
    result = agegate("rules", "CA-BC")
    assert result.returncode == 0, result.stderr
    assert "majority 19" in result.stdout
    assert "source: Age of Majority Act" in result.stdout


def test_rules_json_and_dates() -> None:
    result = agegate("rules", "JP", "US-PR", "--on", "2021-06-01", "--json")
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert answers[0]["majority"]["age"] == 20
    assert answers[1]["answered_by"] == "PR"
    assert answers[1]["majority"]["sources"]


def test_rules_without_codes_lists_every_country() -> None:
    result = agegate("rules")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 249


def test_check_blocks_a_minor_in_british_columbia() -> None:
    result = agegate(
        "check",
        "--birthdate",
        "2008-06-01",
        "--country",
        "CA",
        "--subdivision",
        "BC",
        "--today",
        "2026-11-28",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["outcome"] == "BLOCK"
    assert decision["required_age"] == 19
    assert decision["jurisdiction"] == "CA-BC"
    assert "2008" not in result.stdout


def test_check_human_output() -> None:
    result = agegate("check", "--birthdate", "1990-01-01", "--country", "JP")
    assert result.returncode == 0, result.stderr
    assert "outcome:      ALLOW" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("rules", "ZZ"),
        ("rules", "--on", "yesterday"),
        ("check",),
        ("check", "--birthdate", "1990-01-01", "--minimum-age", "0"),
        ("nonsense",),
        (),
    ],
)
def test_usage_errors_exit_2_with_a_message(args: tuple[str, ...]) -> None:
    result = agegate(*args)
    assert result.returncode == 2
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr


def test_rules_check_names_the_line_of_a_problem(tmp_path: Path) -> None:
    good = tmp_path / "CA.txt"
    good.write_text(
        'CA majority 18 - confidence=high source="Act <https://example.org>"\n',
        encoding="utf-8",
    )
    assert agegate("rules", "--check", str(good)).returncode == 0
    bad = tmp_path / "JP.txt"
    bad.write_text('# header\nJP majority 18 - source="no address"\n', encoding="utf-8")
    result = agegate("rules", "--check", str(good), str(bad))
    assert result.returncode == 1
    assert "JP.txt:2: a source needs a public address" in result.stderr
