"""The shipped `.http` catalogue in httpyac, a second client of the format:
the real httpyac CLI (pinned in package.json, installed by `npm ci`) replays
every file against the demo app, and every assertion passes, with the same
requests, statuses and number of assertions as `agegate qa`.

Without node or httpyac these tests skip, unless AGEGATE_REQUIRE_SERVERS=1
(as in CI), where they fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agegate.apps.demo import create_app
from agegate.apps.serve import free_port, serve
from agegate.qa.replay import Result, run, table

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "agegate" / "qa" / "catalogue"
WALLET_CATALOGUE = CATALOGUE / "test-wallet"
HTTPYAC = ROOT / "node_modules" / ".bin" / "httpyac"
SECRET = "httpyac-test-secret-0123456789"
ADMIN = "httpyac-test-admin-token-0123"


def _httpyac() -> Path:
    missing = None
    if shutil.which("node") is None:
        missing = "no node on PATH: httpyac needs Node.js 18 or later"
    elif not HTTPYAC.exists():
        missing = "httpyac is not installed: run `npm ci` at the project root"
    if missing is None:
        return HTTPYAC
    if os.environ.get("AGEGATE_REQUIRE_SERVERS") == "1":
        pytest.fail(f"{missing} (AGEGATE_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(missing)


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    app = create_app(tmp_path / "data", secret=SECRET, admin_token=ADMIN)
    with serve(app) as url:
        yield url


def send(
    httpyac: Path, files: list[str], base: str, cwd: Path, out: Path
) -> tuple[int, dict[str, Any]]:
    """httpyac's run of `files` (relative to `cwd`, as it wants them), and
    its JSON report. The report goes to a file: node cuts a long one short
    on a pipe when it exits."""
    command = [
        str(httpyac),
        "send",
        *files,
        "--all",
        "--json",
        "--var",
        f"baseUrl={base}",
        f"adminToken={ADMIN}",
    ]
    with out.open("w") as stdout:
        done = subprocess.run(
            command,
            cwd=cwd,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=180,
            check=False,
        )
    text = out.read_text()
    assert text.strip(), done.stderr
    return done.returncode, json.loads(text)


def _rows(report: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [
        (Path(r["fileName"]).name, r.get("response", {}).get("statusCode"))
        for r in report["requests"]
    ]


def _failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{Path(r['fileName']).name}:{r['line']} {t['message']}"
        for r in report["requests"]
        for t in r["testResults"]
        if t["status"] != "SUCCESS"
    ]


def _assertions(results: list[Result]) -> int:
    return sum(len(r.request.expects) for r in results)


def test_httpyac_runs_the_whole_catalogue_as_agegate_qa_does(
    base: str, tmp_path: Path
) -> None:
    httpyac = _httpyac()
    # One httpyac run over every file, so one cookie jar for all of them:
    # the files' `# @no-cookie-jar` lines keep each block cookie to its file
    # (the signups of 31 and 32 come after the block cookie of 30).
    code, report = send(
        httpyac, ["agegate/qa/catalogue/*.http"], base, ROOT, tmp_path / "out.json"
    )
    results = run([CATALOGUE], base, variables={"adminToken": ADMIN})
    assert all(r.passed for r in results), table(results)
    assert _failures(report) == []
    assert code == 0
    summary = report["summary"]
    assert summary["totalRequests"] == len(results) >= 44
    assert summary["successRequests"] == len(results)
    assert summary["totalTests"] == summary["successTests"] == _assertions(results)
    assert _rows(report) == [(Path(r.request.file).name, r.status) for r in results]
    assert {p.name for p in CATALOGUE.glob("*.http")} == {f for f, _ in _rows(report)}


def test_httpyac_and_agegate_qa_both_report_a_wrong_expectation(
    base: str, tmp_path: Path
) -> None:
    # A catalogue file with its statuses and texts turned wrong fails in
    # both clients, on the same lines: the `??` lines are read, not ignored.
    httpyac = _httpyac()
    source = (CATALOGUE / "31-profile-update-raises-flag.http").read_text()
    wrong = source.replace("?? status == 403", "?? status == 200").replace(
        '?? body includes "token"', '?? body includes "no-such-field"'
    )
    (tmp_path / "wrong.http").write_text(wrong)
    code, report = send(httpyac, ["wrong.http"], base, tmp_path, tmp_path / "o.json")
    results = run([tmp_path / "wrong.http"], base, variables={"adminToken": ADMIN})
    assert code != 0
    assert report["summary"]["failedTests"] == 2
    assert [r.problems for r in results if not r.passed] == [
        ("body lacks '\"no-such-field\"'",),
        ("status 403, expected 200",),
    ]
    assert [f.split(" ", 1)[1] for f in _failures(report)] == [
        'body contains "no-such-field"',
        "status == 200",
    ]
    assert _assertions(results) == report["summary"]["totalTests"]


def test_a_block_cookie_goes_with_the_retry_in_httpyac_too(
    base: str, tmp_path: Path
) -> None:
    # File 30 alone, and then an adult signup marked `# @no-cookie-jar` in
    # the same run: the retry carries the block cookie (403), the marked
    # signup does not (201).
    httpyac = _httpyac()
    shutil.copy(CATALOGUE / "30-blocked-retry-carries-cookie.http", tmp_path)
    shutil.copy(CATALOGUE / "31-profile-update-raises-flag.http", tmp_path)
    code, report = send(httpyac, ["*.http"], base, tmp_path, tmp_path / "o.json")
    assert _failures(report) == []
    assert code == 0
    assert [s for _, s in _rows(report)] == [403, 403, 201, 403, 200, 401]


def test_httpyac_runs_the_test_wallet_flow_as_agegate_qa_does(tmp_path: Path) -> None:
    # The wallet flow needs the demo with its TEST wallet, bound to the
    # origin the clients call: the port is chosen before the app is made.
    httpyac = _httpyac()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    app = create_app(
        tmp_path / "data", secret=SECRET, admin_token=ADMIN, test_wallet_origin=origin
    )
    with serve(app, port=port) as base:
        results = run([WALLET_CATALOGUE], base)
        assert all(r.passed for r in results), table(results)
        code, report = send(
            httpyac, ["*.http"], base, WALLET_CATALOGUE, tmp_path / "out.json"
        )
    assert _failures(report) == []
    assert code == 0
    assert _rows(report) == [(Path(r.request.file).name, r.status) for r in results]
    assert report["summary"]["totalTests"] == _assertions(results)
