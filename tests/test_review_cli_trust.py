"""`agegate review` as a compliance team runs it, on the exports they have.

Every case runs the real command in a subprocess on files the test makes: an
input is never touched, a column map is checked before reading, real exports
(Excel's BOM and semicolons, Latin-1, day-first dates) are read right or
refused, flags point at their rows, and the summary says what was run.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import agegate

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


def write_sqlite(
    path: Path, rows: list[list[str]] = ROWS, table: str = "people"
) -> Path:
    db = sqlite3.connect(path)
    with db:
        db.execute(
            f"CREATE TABLE {table} (account_id TEXT, birthdate TEXT, country TEXT)"
        )
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
    assert {k: f["codes"] for k, f in flags_of(out).items()} == {"kid-1": ["MINOR_NOW"]}


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


# -- 6. summaries an auditor can file ----------------------------------------


def test_the_summary_says_what_was_run(tmp_path: Path) -> None:
    from agegate.tables_version import tables_version

    source = write_csv(tmp_path / "a.csv")
    summary = tmp_path / "summary.json"
    result = review(
        source, "--summary", summary, "--date-format", "%d/%m/%Y", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(summary.read_text())
    assert data["agegate_version"] == agegate("--version").stdout.split()[1]
    assert data["tables_version"] == tables_version()
    assert len(data["tables_version"]) == 16
    assert data["today"] == TODAY
    assert data["input"] == str(source)
    assert data["format"] == "csv"
    assert data["delimiter"] == ","
    assert data["map"]["birthdate"] == "birthdate"
    assert data["policy"]["minimum_age"] == 18
    assert data["policy"]["birthdate_formats"] == ["%d/%m/%Y"]
    assert data["started_at"] <= data["finished_at"]
    assert data["completed"] is True
    assert data["rows_read"] == 3
    assert data["accounts_flagged"] == 2


def test_ctrl_c_writes_the_summary_so_far(tmp_path: Path) -> None:
    # The rows come through a pipe the test keeps open: the run cannot end
    # before the signal, whatever the machine's speed.
    rows = "".join(f"a-{i},{2010 - i % 40}-01-01,DE\n" for i in range(600_000))
    out, summary = tmp_path / "flags.jsonl", tmp_path / "summary.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "agegate.cli", "review", "-", "--format=csv",
         f"--today={TODAY}", "--batch-size=200", f"--flags-out={out}",
         f"--summary={summary}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdin is not None

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            process.stdin.write("account_id,birthdate,country\n" + rows)
            process.stdin.flush()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    deadline = time.monotonic() + 60
    while not (out.exists() and out.stat().st_size > 0):
        assert process.poll() is None, "the review ended before its input did"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
    assert process.stdout is not None
    assert process.stderr is not None
    err = process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    writer.join(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    data = json.loads(summary.read_text())
    assert data["completed"] is False
    assert 0 < data["rows_read"] < 600_000
    assert data["finished_at"] >= data["started_at"]


# -- 7. Unix manners -----------------------------------------------------------


def test_standard_input_needs_and_takes_a_format(tmp_path: Path) -> None:
    text = write_csv(tmp_path / "a.csv").read_text()
    out = tmp_path / "flags.jsonl"
    assert review("-", "--flags-out", out, stdin=text).returncode == 2
    result = review("-", "--format", "csv", "--flags-out", out, stdin=text)
    assert result.returncode == 0, result.stderr
    assert set(flags_of(out)) == {"kid-1", "nodate-1"}
    assert flags_of(out)["kid-1"]["line"] == 2


def test_flags_to_standard_output_and_the_summary_to_standard_error(
    tmp_path: Path,
) -> None:
    source = write_csv(tmp_path / "a.csv")
    result = review(source, "--flags-out", "-")
    assert result.returncode == 0, result.stderr
    flags = [json.loads(line) for line in result.stdout.splitlines()]
    assert {f["account_id"] for f in flags} == {"kid-1", "nodate-1"}
    assert "accounts flagged 2" in result.stderr


def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "a.csv", [[f"kid-{i}", "2010-01-01", "DE"] for i in range(20_000)]
    )
    command = (
        f"{sys.executable} -m agegate.cli.main review {source} --today={TODAY}"
        " --flags-out - --batch-size=100 2>err.txt | head -n 1"
    )
    result = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert json.loads(result.stdout)["account_id"] == "kid-0"
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err
    assert "Exception ignored" not in err


def test_version() -> None:
    result = agegate("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("agegate ")


def test_the_progress_bar_has_a_total_and_an_eta(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "a.csv")
    result = review(source, "--progress", "--quiet")
    assert result.returncode == 0
    size = f"{source.stat().st_size}"
    assert f"/{size}" in result.stderr
    assert "100%" in result.stderr
    assert "<" in result.stderr  # elapsed<remaining
    table = review(write_sqlite(tmp_path / "a.sqlite"), "--progress", "--quiet")
    assert "3/3" in table.stderr


# -- 8. smaller frictions ------------------------------------------------------


def test_a_sqlite_input_with_one_table_needs_no_table(tmp_path: Path) -> None:
    source = write_sqlite(tmp_path / "a.sqlite")
    out = tmp_path / "flags.jsonl"
    result = review(source, "--flags-out", out)
    assert result.returncode == 0, result.stderr
    assert set(flags_of(out)) == {"kid-1", "nodate-1"}
    wrong = review(source, "--table", "accounts")
    assert wrong.returncode == 2
    assert "no such table or view; tables: people" in wrong.stderr


@pytest.mark.parametrize("command", ["review", "check"])
def test_a_bad_today_says_what_is_expected(tmp_path: Path, command: str) -> None:
    args = [write_csv(tmp_path / "a.csv")] if command == "review" else []
    if command == "check":
        args = ["--birthdate", "2000-01-01", "--country", "DE"]
    result = agegate(command, *args, "--today", "28/11/2026")
    assert result.returncode == 2
    assert "expected YYYY-MM-DD" in result.stderr


def test_a_store_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "a.csv")
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("these are my notes, not a database\n" * 100)
    result = review(source, "--store", not_a_store)
    assert result.returncode == 2
    assert "not a SQLite flag store" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("birthdate", "status"), [("2010-01-01", 1), ("1980-01-01", 0)]
)
def test_check_strict_exits_1_unless_allowed(birthdate: str, status: int) -> None:
    args = ["--birthdate", birthdate, "--country", "DE", "--today", TODAY]
    assert agegate("check", *args).returncode == 0
    assert agegate("check", *args, "--strict").returncode == status


def test_digital_consent_threshold_says_the_minimum_still_applies(
    tmp_path: Path,
) -> None:
    args = ["--birthdate", "2010-01-01", "--country", "DE", "--today", TODAY]
    result = agegate("check", *args, "--threshold", "digital_consent")
    assert "the service minimum (--minimum-age 18) still applies" in result.stderr
    assert "outcome:      BLOCK" in result.stdout
    lowered = agegate(
        "check", *args, "--threshold", "digital_consent", "--minimum-age", "13"
    )
    assert "warning" not in lowered.stderr
    assert "outcome:      ALLOW" in lowered.stdout
    help_text = " ".join(agegate("review", "--help").stdout.split())
    assert "still applies, so digital_consent changes nothing" in help_text


# -- 4. flags point at rows ----------------------------------------------------


def test_csv_and_jsonl_flags_carry_the_line_their_record_starts_on(
    tmp_path: Path,
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(
        "account_id,birthdate,country,note\n"
        'adult-1,1980-01-01,DE,"two\nlines"\n'
        "\n"
        "kid-1,2010-01-01,DE,x\n"
    )
    out = tmp_path / "flags.csv"
    assert review(source, "--flags-out", out).returncode == 0
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["account_id"], r["line"], r["rowid"]) for r in rows] == [
        ("kid-1", "5", "")
    ]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(
        '{"account_id": "adult-1", "birthdate": "1980-01-01", "country": "DE"}\n'
        "\n"
        '{"account_id": "kid-1", "birthdate": "2010-01-01", "country": "DE"}\n'
    )
    flags_out = tmp_path / "flags.jsonl"
    assert review(jsonl, "--flags-out", flags_out).returncode == 0
    (flag,) = flags_of(flags_out).values()
    assert (flag["line"], flag["rowid"]) == (3, None)


def test_sqlite_flags_carry_the_rowid_into_the_store(tmp_path: Path) -> None:
    source = write_sqlite(tmp_path / "a.sqlite")
    db = sqlite3.connect(source)
    with db:
        db.execute("UPDATE people SET rowid = 40 WHERE account_id = 'kid-1'")
    db.close()
    out, store = tmp_path / "flags.jsonl", tmp_path / "flags.db"
    assert review(source, "--flags-out", out, "--store", store).returncode == 0
    assert (flags_of(out)["kid-1"]["rowid"], flags_of(out)["kid-1"]["line"]) == (
        40,
        None,
    )
    listed = agegate("flags", "list", "--store", store, "--format", "json")
    stored = {f["account_id"]: f for f in map(json.loads, listed.stdout.splitlines())}
    assert stored["kid-1"]["rowid"] == 40


def test_the_readme_review_still_works_and_its_flags_carry_lines(
    tmp_path: Path,
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\nagegate review examples/accounts.csv", 1)[1]
    command = "agegate review examples/accounts.csv" + block.split("```", 1)[0]
    args = shlex.split(command.replace("\\\n", " "))
    assert args[:3] == ["agegate", "review", "examples/accounts.csv"]
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    result = agegate(*args[1:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    flags = list(map(json.loads, (tmp_path / "flags.jsonl").read_text().splitlines()))
    assert flags
    assert all(isinstance(f["line"], int) and f["line"] >= 2 for f in flags)
    assert json.loads((tmp_path / "summary.json").read_text())["completed"] is True


def test_no_account_id_column_warns_once_and_a_store_refuses(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "a.csv",
        [r[1:] for r in ROWS],
        header=["birthdate", "country"],
    )
    result = review(source, "--flags-out", tmp_path / "f.jsonl")
    assert result.returncode == 0
    assert result.stderr.count("warning: no account id column") == 1
    store = tmp_path / "flags.db"
    refused = review(source, "--store", store)
    assert refused.returncode == 2
    assert "--store needs account ids" in refused.stderr
    assert not store.exists()


# -- 5. the store follows the data ---------------------------------------------


def test_a_corrected_account_is_cleared_with_the_runs_time(tmp_path: Path) -> None:
    store, summary = tmp_path / "flags.db", tmp_path / "summary.json"
    source = write_csv(tmp_path / "a.csv")
    assert review(source, "--store", store).returncode == 0
    corrected = [["kid-1", "1990-01-01", "DE"], *ROWS[1:]]
    write_csv(source, corrected)
    result = review(source, "--store", store, "--summary", summary)
    assert result.returncode == 0, result.stderr
    assert "flags cleared    1" in result.stdout
    run = json.loads(summary.read_text())
    assert run["flags_cleared"] == 1

    def listed(*extra: str) -> dict[str, dict[str, Any]]:
        out = agegate("flags", "list", "--store", store, "--format", "json", *extra)
        return {f["account_id"]: f for f in map(json.loads, out.stdout.splitlines())}

    assert set(listed()) == {"nodate-1"}
    kept = listed("--status", "cleared")["kid-1"]
    assert kept["codes"] == ["MINOR_NOW"]
    assert kept["resolved_at"] == run["started_at"]
    assert kept["resolved_by"] == "agegate review"
    # The condition back: the same flag opens again.
    write_csv(source)
    assert review(source, "--store", store).returncode == 0
    assert listed()["kid-1"]["status"] == "open"


def _store_with_flags(tmp_path: Path) -> Path:
    store = tmp_path / "flags.db"
    rows = [[f"kid-{i}", "2010-01-01", "DE"] for i in range(1, 5)]
    assert (
        review(write_csv(tmp_path / "kids.csv", rows), "--store", store).returncode == 0
    )
    return store


def test_flags_list_has_a_header_row_in_every_format(tmp_path: Path) -> None:
    store = _store_with_flags(tmp_path)
    table = agegate("flags", "list", "--store", store).stdout.splitlines()
    assert table[0].split("\t")[:4] == ["account_id", "status", "action", "codes"]
    assert table[1].split("\t")[0] == "kid-1"
    assert table[1].split("\t")[-2:] == ["2", "-"]  # line, rowid
    rows = list(csv.DictReader(agegate("flags", "list", "--store", store,
                                       "--format", "csv").stdout.splitlines()))  # fmt: skip
    assert [(r["account_id"], r["line"]) for r in rows][:2] == [
        ("kid-1", "2"),
        ("kid-2", "3"),
    ]
    listed = agegate("flags", "list", "--store", store, "--format", "json").stdout
    assert json.loads(listed.splitlines()[0])["line"] == 2


def test_flags_resolve_takes_many_ids_and_a_file_all_or_none(tmp_path: Path) -> None:
    store = _store_with_flags(tmp_path)
    common = ["--store", store, "--status", "removed", "--by", "dana", "--why", "gone"]
    ids = tmp_path / "ids.txt"
    ids.write_text("kid-3\n\nkid-4\nkid-9\n")
    refused = agegate("flags", "resolve", "kid-1", "--from", ids, *common)
    assert refused.returncode == 2
    assert "no open flag for kid-9; nothing was resolved" in refused.stderr
    ids.write_text("kid-3\n\nkid-4\n")
    done = agegate("flags", "resolve", "kid-1", "kid-2", "--from", ids, *common)
    assert done.returncode == 0, done.stderr
    assert "4 accounts: 4 flag(s) marked removed" in done.stdout
    assert agegate("flags", "list", "--store", store).stdout.count("\n") == 1
    from_stdin = agegate("flags", "resolve", "--from", "-", *common, stdin="kid-1\n")
    assert from_stdin.returncode == 2  # nothing open is left for kid-1
    assert agegate("flags", "resolve", *common).returncode == 2


def test_flags_on_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("not a database\n" * 100)
    result = agegate("flags", "list", "--store", not_a_store)
    assert result.returncode == 2
    assert "not a SQLite flag store" in result.stderr
