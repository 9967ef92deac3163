"""`agegate report` on hostile stores and summaries, run as a user runs it:
no traceback, no internal error, exit 2 naming the file it cannot read, and
memory that does not grow with the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agegate.removal.receipts import GENESIS, _canonical, _digest
from tests.cli_support import ROOT, agegate

FLAG = {
    "account_id": "hostile-1",
    "codes": ["MINOR_NOW"],
    "action": "remove",
    "jurisdiction": "FR",
    "required_age": 18,
    "source": "review",
    "raised_at": "2026-01-31T23:30:00+00:00",
}
SUMMARY = {
    "rows_read": 1200,
    "rows_screened": 1190,
    "rows_unreadable": 10,
    "accounts_flagged": 44,
    "by_code": {"MINOR_NOW": 14},
    "completed": True,
    "input": "review.csv",
    "started_at": "2026-01-15T08:00:00+00:00",
}
DEEP = "[" * 100_000 + "]" * 100_000


def _store(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "flags.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _good(tmp_path: Path) -> Path:
    return _store(tmp_path, json.dumps(FLAG))


def _run(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    done = agegate("report", *args, "--out", tmp_path / "report.html")
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    return done


def _refused(tmp_path: Path, named: Path, *args: str | Path) -> str:
    done = _run(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert str(named) in done.stderr
    assert not (tmp_path / "report.html").exists()
    return done.stderr


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (DEEP, "line 1: not JSON"),
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, "line 1: not JSON"),
        (json.dumps({**FLAG, "codes": DEEP}), "column codes"),
        (json.dumps({**FLAG, "pad": "x" * 10_000_000}), "line 1: longer than 1 MiB"),
        (json.dumps(FLAG).replace('"required_age": 18', '"required_age": NaN'), ""),
        (json.dumps(FLAG).replace('"required_age": 18', '"required_age": 1e999'), ""),
    ],
)
def test_a_hostile_line_of_a_store_is_exit_2_naming_the_file(
    tmp_path: Path, line: str, says: str
) -> None:
    store = _store(tmp_path, json.dumps(FLAG), line)
    stderr = _refused(tmp_path, store, "--store", store)
    assert says.replace("line 1", "line 2") in stderr


@pytest.mark.parametrize(
    "text",
    [
        DEEP,
        json.dumps(SUMMARY)[:-1] + ', "x": ' + DEEP + "}",
        json.dumps({**SUMMARY, "pad": "x" * 50_000_000}),
        json.dumps(SUMMARY).replace("1190", "NaN"),
        json.dumps(SUMMARY).replace("1190", "Infinity"),
        json.dumps(SUMMARY).replace("1200", "1" * 5000),
    ],
)
def test_a_hostile_summary_is_exit_2_naming_it(tmp_path: Path, text: str) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(text, encoding="utf-8")
    store = _good(tmp_path)
    _refused(tmp_path, summary, "--store", store, "--summary", summary)


def test_times_at_the_edge_of_the_calendar_are_counted(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        json.dumps({**FLAG, "raised_at": "9999-12-31T23:59:59-23:59"}),
        json.dumps({**FLAG, "raised_at": "0001-01-01T00:00:00+23:59"}),
    )
    summary = tmp_path / "summary.json"
    summary.write_text(
        json.dumps({**SUMMARY, "started_at": "9999-12-31T23:59:59-23:59"}),
        encoding="utf-8",
    )
    done = _run(tmp_path, "--store", store, "--summary", summary)
    assert done.returncode == 0, done.stderr
    assert "report of 2 flag(s)" in done.stderr


def test_huge_counts_and_odd_codes_are_tabled_not_a_crash(tmp_path: Path) -> None:
    odd = ["\u202eEVIL\u0000", "<script>x</script>", "A" * 100_000, ""]
    store = _store(tmp_path, json.dumps({**FLAG, "codes": odd}))
    summary = tmp_path / "summary.json"
    by_code = dict.fromkeys(odd, 10**4000)
    summary.write_text(
        json.dumps({**SUMMARY, "rows_read": 10**4000, "by_code": by_code}),
        encoding="utf-8",
    )
    done = _run(tmp_path, "--store", store, "--summary", summary)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>x" not in page
    assert "\u202e" not in page


def test_a_large_store_is_read_a_line_at_a_time(tmp_path: Path) -> None:
    """60 MB of flags (each under the line cap): the command's peak memory
    stays near what it needs for one line, not the file."""
    line = json.dumps({**FLAG, "pad": "x" * 1_000_000}) + "\n"
    store = tmp_path / "flags.jsonl"
    with store.open("w", encoding="utf-8") as out:
        for _ in range(60):
            out.write(line)
    (tmp_path / "small").mkdir()
    small = _store(tmp_path / "small", json.dumps(FLAG))
    assert _peak_kb(tmp_path, small) + 30_000 > _peak_kb(tmp_path, store)


def _peak_kb(tmp_path: Path, store: Path) -> int:
    """The peak resident size of one `agegate report` run, in kB."""
    measure = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "assert done.returncode == 0, done.stderr\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    command = [sys.executable, "-m", "agegate.cli", "report", "--store", str(store)]
    command += ["--out", str(tmp_path / "peak.html")]
    done = subprocess.run(
        [sys.executable, "-c", measure, *command],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return int(done.stdout)


def _receipt(seq: int, at: str, prev: str, body: object) -> dict[str, object]:
    digest = _digest(seq, "plan", at, body, prev)
    return {"seq": seq, "kind": "plan", "at": at, "body": body, "prev": prev} | {
        "digest": digest
    }


def _hostile_receipts() -> dict[str, tuple[bytes, int]]:
    """Receipt files a hand could write (the chain is a plain SHA-256 one),
    and the entry each breaks at."""
    first = _receipt(1, "2026-01-01T00:00:00+00:00", GENESIS, {"n": 1})
    naive = _receipt(2, "2026-01-02T00:00:00", str(first["digest"]), {"n": 2})
    deep_body = _canonical(first).replace(b'{"n":1}', b"[" * 5000 + b"]" * 5000)
    return {
        "naive": (_canonical(first) + b"\n" + _canonical(naive) + b"\n", 2),
        "deep": (DEEP.encode() + b"\n", 1),
        "deep-body": (deep_body + b"\n", 1),
    }


@pytest.mark.parametrize("name", ["naive", "deep", "deep-body"])
def test_hostile_receipts_are_a_broken_chain_not_a_crash(
    tmp_path: Path, name: str
) -> None:
    text, entry = _hostile_receipts()[name]
    receipts = tmp_path / "receipts.jsonl"
    receipts.write_bytes(text)
    done = _run(tmp_path, "--store", _good(tmp_path), "--receipts", receipts)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"The chain is broken at entry {entry}" in page
