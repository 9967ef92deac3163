"""`agegate rules`, run as a user runs it: a subprocess, on real table files."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from cli_support import agegate

from agegate.cli.main import build_parser
from agegate.rules import bundled_directory
from agegate.tables_version import tables_version

ROOT = Path(__file__).resolve().parent.parent
SOURCE = 'confidence=high source="Act <https://example.org/act>"'


def test_check_passes_on_the_bundled_tables_directory() -> None:
    result = agegate("rules", "--check", str(ROOT / "jurisdictions"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    tables = sorted((ROOT / "jurisdictions").glob("*.txt"))
    counted = re.search(
        r"checked (\d+) files: (\d+) rules, (\d+) aliases", result.stdout
    )
    assert counted is not None, result.stdout
    assert int(counted.group(1)) == len(tables)  # aliases.txt included
    assert int(counted.group(2)) > 300
    assert int(counted.group(3)) > 0


def test_check_reports_every_problem_of_a_directory(tmp_path: Path) -> None:
    for name in ("US.txt", "PR.txt"):
        shutil.copy(ROOT / "jurisdictions" / name, tmp_path / name)
    (tmp_path / "JP.txt").write_text(
        f'JP majority 18 - source="no address"\n'
        f"JP majority 20 - {SOURCE}\n"
        f"JP majority x - {SOURCE}\n"
        f"US-AL majority 18 - {SOURCE}\n"
        f"JP majority 19 - {SOURCE}\n",
        encoding="utf-8",
    )
    (tmp_path / "aliases.txt").write_text(
        "US-PR PR\nUS-ZZ PR\nUS-GU GU\nUS-PR PR\n", encoding="utf-8"
    )
    result = agegate("rules", "--check", str(tmp_path))
    assert result.returncode == 1
    expected = [
        "JP.txt:1: a source needs a public address",
        "JP.txt:3: age must be whole years or none",
        "JP.txt:4: US-AL belongs in US.txt",
        "JP.txt:5: JP majority: dates must increase",
        "aliases.txt:2: unknown subdivision 'US-ZZ'",
        "aliases.txt:4: US-PR is listed twice",
        "aliases.txt:3: US-GU points to GU, which has no rules",
    ]
    for problem in expected:
        assert problem in result.stderr, (problem, result.stderr)
    assert "checked 4 files" in result.stdout
    assert f"{len(expected)} problems" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_of_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    for missing in (tmp_path / "nothing", tmp_path / "XX.txt"):
        result = agegate("rules", "--check", str(missing))
        assert result.returncode == 2
        assert "no such file or directory" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_country_lists_its_subdivisions_with_rules_of_their_own() -> None:
    result = agegate("rules", "US", "--on", "2026-11-28")
    assert result.returncode == 0, result.stderr
    assert "subdivisions with rules of their own:" in result.stdout
    for line in ("US-AL   Alabama: majority 19", "US-MS   Mississippi: majority 21"):
        assert line in result.stdout
    assert "US-NE   Nebraska: majority 19" in result.stdout
    as_json = json.loads(agegate("rules", "US", "--json").stdout)
    assert {"US-AL", "US-MS", "US-NE"} <= set(as_json[0]["subdivisions"])


def test_rules_accepts_country_names_like_check() -> None:
    result = agegate("rules", "Canada", "deu", "--json")
    assert result.returncode == 0, result.stderr
    assert [a["code"] for a in json.loads(result.stdout)] == ["CA", "DE"]
    ambiguous = agegate("rules", "Korea")
    assert ambiguous.returncode == 2
    assert "names more than one country" in ambiguous.stderr
    unknown = agegate("rules", "Atlantis")
    assert unknown.returncode == 2
    assert "neither an ISO 3166 code nor a country name" in unknown.stderr
    assert "Traceback" not in unknown.stderr + ambiguous.stderr


def test_a_bad_date_says_what_is_expected() -> None:
    for option in ("--on", "--from", "--to"):
        result = agegate("rules", "CA", option, "2026-13-01")
        assert result.returncode == 2
        assert "expected YYYY-MM-DD" in result.stderr


def test_tables_version_is_the_digest_review_summaries_carry() -> None:
    for option in ("--tables-version", "--version"):
        result = agegate("rules", option)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == tables_version()
    assert tables_version() == tables_version(bundled_directory())


def test_the_readme_synopsis_of_rules_matches_help() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    shown = {
        option
        for line in block.splitlines()
        if line.startswith("agegate rules")
        for option in re.findall(r"--[a-z][a-z-]*", line)
    }
    action = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    parser = action.choices["rules"]
    options = {
        option
        for a in parser._actions
        for option in a.option_strings
        if option.startswith("--") and option != "--help"
    }
    assert shown == options
