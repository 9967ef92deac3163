"""`agegate review` as a compliance team runs it, on the exports they have.

Every case runs the real command in a subprocess on files the test makes: an
input is never touched, a column map is checked before reading, real exports
(Excel's BOM and semicolons, Latin-1, day-first dates) are read right or
refused, flags point at their rows, and the summary says what was run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-11-28"
SECRET = "a test key of enough bytes"
HEADER = ["account_id", "birthdate", "country"]
# A minor (16 on TODAY), an adult, and a person of unknown birthdate.
ROWS = [
    ["kid-1", "2010-01-01", "DE"],
    ["adult-1", "1980-06-15", "DE"],
    ["nodate-1", "", "FR"],
]


def agegate(
    *args: str | Path, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "agegate.cli", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )


def review(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return agegate("review", *args, f"--today={TODAY}", f"--secret={SECRET}", **kwargs)


def write_csv(
    path: Path,
    rows: list[list[str]] = ROWS,
    *,
    header: list[str] = HEADER,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    lines = [delimiter.join(header), *(delimiter.join(r) for r in rows)]
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return path


def write_jsonl(path: Path, rows: list[list[str]] = ROWS) -> Path:
    lines = [json.dumps(dict(zip(HEADER, r, strict=True))) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_sqlite(path: Path, rows: list[list[str]] = ROWS, table: str = "people") -> Path:
    db = sqlite3.connect(path)
    with db:
        db.execute(f"CREATE TABLE {table} (account_id TEXT, birthdate TEXT, country TEXT)")
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", rows)
    db.close()
    return path


def flags_of(path: Path) -> dict[str, dict[str, Any]]:
    return {
        f["account_id"]: f
        for f in (json.loads(line) for line in path.read_text().splitlines())
    }


# -- 1. never touch the input ------------------------------------------------


def _spelling(tmp_path: Path, source: Path, how: str) -> str:
    if how == "same":
        return str(source)
    if how == "relative":
        return f"./{source.name}"
    if how == "dotted":
        return str(tmp_path / "sub" / ".." / source.name)
    target = tmp_path / f"link-{source.name}"
    if how == "symlink":
        target.symlink_to(source)
    else:
        os.link(source, target)
    return str(target)


@pytest.mark.parametrize("option", ["--flags-out", "--summary", "--store"])
@pytest.mark.parametrize("how", ["same", "relative", "dotted", "symlink", "hardlink"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(
    tmp_path: Path, option: str, how: str
) -> None:
    (tmp_path / "sub").mkdir()
    source = write_csv(tmp_path / "accounts.csv")
    before = source.read_bytes()
    result = review(source, option, _spelling(tmp_path, source, how), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{option} is the same file as INPUT" in result.stderr
    assert "Traceback" not in result.stderr
    assert source.read_bytes() == before


def test_two_outputs_on_one_file_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    source = write_csv(tmp_path / "accounts.csv")
    out = tmp_path / "out.jsonl"
    result = review(source, "--flags-out", out, "--summary", tmp_path / "." / out.name)
    assert result.returncode == 2
    assert "--summary is the same file as --flags-out" in result.stderr
    assert not out.exists()


# -- 2. check the map before reading -----------------------------------------


@pytest.mark.parametrize("kind", ["csv", "jsonl", "sqlite"])
def test_a_mapped_column_that_is_not_there_is_named_with_the_columns_there(
    tmp_path: Path, kind: str
) -> None:
    writer = {"csv": write_csv, "jsonl": write_jsonl, "sqlite": write_sqlite}[kind]
    source = writer(tmp_path / f"accounts.{kind}")
    out = tmp_path / "flags.jsonl"
    result = review(source, "--map", "birthdate=date_of_birth", "--flags-out", out)
    assert result.returncode == 2, result.stdout
    assert "--map birthdate=date_of_birth: no such" in result.stderr
    assert "account_id, birthdate, country" in result.stderr
    assert not out.exists()


def test_a_jsonl_key_is_found_in_any_of_the_first_thousand_records(
    tmp_path: Path,
) -> None:
    source = tmp_path / "a.jsonl"
    records = [{"account_id": f"a-{i}", "country": "DE"} for i in range(1200)]
    records[700]["user"] = {"dob": "1980-01-01"}
    records[1100]["late"] = "2010-01-01"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert review(source, "--map", "birthdate=user.dob", "--quiet").returncode == 0
    late = review(source, "--map", "birthdate=late")
    assert late.returncode == 2
    assert "no such key in the first 1000 records" in late.stderr


def test_a_latin1_file_read_as_utf8_is_an_error_not_a_clean_report(
    tmp_path: Path,
) -> None:
    rows = [["jos\u00e9", "2010-01-01", "DE"], ["ren\u00e9e", "1980-01-01", "FR"]]
    source = write_csv(tmp_path / "latin1.csv", rows, encoding="latin-1")
    result = review(source)
    assert result.returncode == 2
    assert "none of the 2 rows read could be screened" in result.stderr
    assert "--encoding" in result.stderr
    out = tmp_path / "flags.jsonl"
    fixed = review(source, "--encoding", "latin-1", "--flags-out", out)
    assert fixed.returncode == 0, fixed.stderr
    assert list(flags_of(out)) == ["jos\u00e9"]


def test_the_wrong_format_is_an_error_not_a_clean_report(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "accounts.csv")
    result = review(source, "--format", "jsonl")
    assert result.returncode == 2
    assert "could be screened" in result.stderr


def _empty(kind: str, directory: Path) -> Path:
    if kind == "csv-empty":
        (directory / "empty.csv").write_bytes(b"")
        return directory / "empty.csv"
    if kind == "csv-header-only":
        return write_csv(directory / "header.csv", [])
    if kind == "jsonl":
        (directory / "empty.jsonl").write_bytes(b"\n")
        return directory / "empty.jsonl"
    return write_sqlite(directory / "empty.sqlite", [])


@pytest.mark.parametrize("kind", ["csv-empty", "csv-header-only", "jsonl", "sqlite"])
def test_empty_inputs_answer_alike_in_every_format(tmp_path: Path, kind: str) -> None:
    result = review(_empty(kind, tmp_path))
    assert result.returncode == 2
    assert "no rows to review (the input is empty)" in result.stderr


# -- 3. read real exports ------------------------------------------------------


def test_an_excel_export_with_bom_and_semicolons_is_read(tmp_path: Path) -> None:
    source = tmp_path / "excel.csv"
    write_csv(source, delimiter=";", encoding="utf-8-sig", newline="\r\n")
    assert source.read_bytes().startswith(b"\xef\xbb\xbfaccount_id;")
    out = tmp_path / "flags.jsonl"
    result = review(source, "--flags-out", out)
    assert result.returncode == 0, result.stderr
    flags = flags_of(out)
    assert set(flags) == {"kid-1", "nodate-1"}
    assert flags["kid-1"]["codes"] == ["MINOR_NOW"]
    assert flags["nodate-1"]["codes"] == ["BIRTHDATE_MISSING"]


@pytest.mark.parametrize(
    ("delimiter", "given"), [("\t", None), ("|", None), ("\t", "tab"), (";", ";")]
)
def test_delimiters_are_sniffed_or_given(
    tmp_path: Path, delimiter: str, given: str | None
) -> None:
    source = write_csv(tmp_path / "a.csv", delimiter=delimiter)
    out = tmp_path / "flags.jsonl"
    extra = ["--delimiter", given] if given else []
    result = review(source, *extra, "--flags-out", out)
    assert result.returncode == 0, result.stderr
    assert set(flags_of(out)) == {"kid-1", "nodate-1"}


def test_a_wrong_delimiter_shows_the_one_column_header(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "a.csv", delimiter=";")
    result = review(source, "--delimiter", ",", "--map", "birthdate=birthdate")
    assert result.returncode == 2
    assert "header was read as one column" in result.stderr


def test_day_first_dates_with_date_format(tmp_path: Path) -> None:
    rows = [["kid-1", "31/12/2009", "DE"], ["adult-1", "15/06/1980", "DE"]]
    source = write_csv(tmp_path / "a.csv", rows)
    out = tmp_path / "flags.jsonl"
    without = review(source, "--flags-out", out)
    assert without.returncode == 0
    assert {f["codes"][0] for f in flags_of(out).values()} == {"BIRTHDATE_INVALID"}
    given = review(source, "--date-format", "%d/%m/%Y", "--flags-out", out)
    assert given.returncode == 0, given.stderr
    assert {k: f["codes"] for k, f in flags_of(out).items()} == {
        "kid-1": ["MINOR_NOW"]
    }


def test_two_date_formats_that_read_a_date_two_ways_make_it_ambiguous(
    tmp_path: Path,
) -> None:
    rows = [["a-1", "03/04/2009", "DE"], ["a-2", "31/12/2009", "DE"]]
    source = write_csv(tmp_path / "a.csv", rows)
    out = tmp_path / "flags.jsonl"
    result = review(
        source, "--date-format=%d/%m/%Y", "--date-format=%m/%d/%Y", "--flags-out", out
    )
    assert result.returncode == 0, result.stderr
    codes = {k: f["codes"] for k, f in flags_of(out).items()}
    assert codes == {"a-1": ["BIRTHDATE_INVALID"], "a-2": ["MINOR_NOW"]}


def test_a_date_format_without_day_month_and_year_is_a_usage_error(
    tmp_path: Path,
) -> None:
    source = write_csv(tmp_path / "a.csv")
    result = review(source, "--date-format", "%Y")
    assert result.returncode == 2
    assert "--date-format" in result.stderr


def test_an_unknown_encoding_is_a_usage_error(tmp_path: Path) -> None:
    result = review(write_csv(tmp_path / "a.csv"), "--encoding", "klingon")
    assert result.returncode == 2
    assert "unknown --encoding" in result.stderr
