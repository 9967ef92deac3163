"""The .http parser, the replayer and `agegate qa`, against a small real app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agegate.apps.serve import serve
from agegate.cli.main import main
from agegate.errors import InputError
from agegate.qa.parser import parse
from agegate.qa.replay import run_file, shift


async def echo(request: Request) -> Response:
    response = JSONResponse(
        {
            "method": request.method,
            "body": (await request.body()).decode(),
            "cookie": request.cookies.get("seen"),
            "type": request.headers.get("content-type"),
        },
        status_code=int(request.query_params.get("status", "200")),
    )
    if request.query_params.get("set"):
        response.set_cookie("seen", request.query_params["set"])
    return response


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST", "PATCH"])])
    with serve(app) as url:
        yield url


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_reads_requests_variables_and_expectations() -> None:
    [first, second] = parse(
        "@baseUrl = http://localhost:1\n@who = me\n\n"
        "# a comment\n# @name one\n# @expect status 201\n"
        "POST {{baseUrl}}/echo HTTP/1.1\nContent-Type: application/json\n"
        "# @expect header content-type JSON\n\n"
        '{"who": "{{who}}"}\n\n\n###\n'
        "// @expect status 200\n// @expect body hello world\nGET /echo\n",
        where="x.http",
    )
    assert first.name == "one"
    assert first.method == "POST"
    assert first.line == 7
    assert first.headers == (("Content-Type", "application/json"),)
    assert first.body == '{"who": "{{who}}"}'
    assert [(e.kind, e.name, e.value) for e in first.expects] == [
        ("status", "", "201"),
        ("header", "content-type", "JSON"),
    ]
    assert dict(first.variables) == {"baseUrl": "http://localhost:1", "who": "me"}
    assert second.body is None
    assert second.expects[1].value == "hello world"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("# @expect status 200\nFETCH /x\n", 2),
        ("# @expect status\nGET /x\n", 1),
        ("# @expect colour blue\nGET /x\n", 1),
        ("GET /x\n", 1),
        ("# @expect status 200\nGET /x\nnot a header\n", 3),
        ("# @expect status 200\n", 1),
    ],
)
def test_parse_errors_name_file_and_line(text: str, line: int) -> None:
    with pytest.raises(InputError, match=rf"^bad\.http:{line}: "):
        parse(text, where="bad.http")


def test_parse_refuses_an_empty_file() -> None:
    with pytest.raises(InputError, match="no request"):
        parse("# nothing\n", where="empty.http")


@pytest.mark.parametrize(
    ("today", "amount", "unit", "expected"),
    [
        (date(2026, 11, 28), -18, "y", date(2008, 11, 28)),
        (date(2024, 2, 29), -1, "y", date(2023, 2, 28)),
        (date(2026, 3, 31), -1, "M", date(2026, 2, 28)),
        (date(2026, 1, 15), -222, "M", date(2007, 7, 15)),
        (date(2026, 1, 15), 2, "w", date(2026, 1, 29)),
        (date(2026, 1, 1), -1, "d", date(2025, 12, 31)),
    ],
)
def test_shift(today: date, amount: int, unit: str, expected: date) -> None:
    assert shift(today, amount, unit) == expected


def test_run_fills_dates_names_and_cookies(base: str, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "flow.http",
        "# @name first\n# @expect status 200\n"
        "POST /echo?set=abc\nContent-Type: text/plain\n\n"
        'born {{$datetime "YYYY-MM-DD" -222 M}} on {{$datetime iso8601}}\n'
        "###\n"
        "# @expect status 201\n# @expect body {{first.response.body.$.type}}\n"
        "# @expect body born 2007-07-15 on 2026-01-15\n"
        "# @expect body abc\n"
        "PATCH /echo?status=201\nContent-Type: text/plain\n\n"
        "{{first.response.body.$.body}}\n",
    )
    results = run_file(path, base, today=date(2026, 1, 15))
    assert [r.problems for r in results] == [(), ()]
    assert [r.status for r in results] == [200, 201]


def test_multipart_bodies_get_crlf(base: str, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "multi.http",
        "# @expect status 200\n# @expect body \\r\\n--b--\n"
        "POST /echo\nContent-Type: multipart/form-data; boundary=b\n\n"
        '--b\nContent-Disposition: form-data; name="a"\n\n1\n--b--\n',
    )
    [result] = run_file(path, base)
    assert result.passed, result.problems


def test_failures_are_reported_not_raised(base: str, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fail.http",
        "# @expect status 404\n# @expect header X-Missing yes\n# @expect body nope\n"
        "GET /echo\n###\n# @expect status 200\nGET /echo/{{undefined}}\n"
        "###\n# @expect status 200\nGET http://127.0.0.1:9/unreachable\n",
    )
    first, second, third = run_file(path, base, allow_hosts=["127.0.0.1:9"])
    assert first.status == 200
    assert first.problems == (
        "status 200, expected 404",
        "header x-missing lacks 'yes'",
        "body lacks 'nope'",
    )
    assert "unknown variable" in second.problems[0]
    assert third.status is None
    assert third.problems[0].startswith("no response")


def test_cli_qa_passes_and_fails_with_exit_codes(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good.http", "# @expect status 200\nGET {{baseUrl}}/echo\n")
    assert main(["qa", str(good), "--base-url", base]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out
    assert "1 passed, 0 failed" in out
    write(tmp_path, "worse.http", "# @expect status 500\nGET /echo\n")
    assert main(["qa", str(tmp_path), "--base-url", base]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "status 200, expected 500" in out


def test_cli_qa_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["qa", str(tmp_path / "missing"), "--base-url", "http://x"]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = write(tmp_path, "bad.http", "GET /x\n")
    assert main(["qa", str(bad), "--base-url", "http://127.0.0.1:1"]) == 2
    assert "bad.http:1" in capsys.readouterr().err
    assert main(["qa", str(bad), "--base-url", "ftp://host"]) == 2
    assert "--base-url" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["qa", str(bad)])
    assert exit_info.value.code == 2


def test_cli_qa_var_must_be_name_equals_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "ok.http", "# @expect status 200\nGET /echo\n")
    for bad in ("novalue", "1x=2", "=v"):
        assert main(["qa", str(good), "--base-url", "http://x", "--var", bad]) == 2
        assert "--var takes NAME=VALUE" in capsys.readouterr().err


def test_without_a_path_qa_reads_the_shipped_catalogue() -> None:
    from agegate.qa.parser import CATALOGUE, catalogue

    found = catalogue()
    assert found == sorted(CATALOGUE.glob("*.http"))
    assert len(found) >= 30
    # Inside the package, so that a wheel carries it.
    assert CATALOGUE.parent == Path(__import__("agegate.qa").qa.__file__).parent
    assert catalogue([found[0]]) == [found[0]]


def test_a_long_chain_of_variables_parses_and_a_cycle_is_named() -> None:
    chain = "".join(f"@v{i} = {{{{v{i + 1}}}}}\n" for i in range(3000))
    text = chain + "@v3000 = end\n# @expect status 200\nGET /{{v0}}\n"
    [request] = parse(text, where="chain.http")
    assert dict(request.variables)["v3000"] == "end"
    with pytest.raises(InputError, match=r"cycle.http:2: variable b refers to itself"):
        parse(
            "@a = {{b}}\n@b = {{c}}\n@c = {{b}}\n# @expect status 200\nGET /\n",
            where="cycle.http",
        )


# -- httpyac's `??` assertions, `# @no-cookie-jar`, `{{name.field}}` ----------


def test_parse_reads_httpyac_assertions_before_among_and_after() -> None:
    [request] = parse(
        "?? status == 201\n"
        "?? header Content-Type includes application/json\n"
        "POST /echo\nContent-Type: application/json\n"
        "?? header x-id == abc\n\n"
        '{"a": 1}\n\n'
        '?? body contains "a"\n',
        where="x.http",
    )
    assert request.body == '{"a": 1}'
    assert [(e.kind, e.name, e.value, e.test, e.line) for e in request.expects] == [
        ("status", "", "201", "equals", 1),
        ("header", "content-type", "application/json", "includes", 2),
        ("header", "x-id", "abc", "equals", 5),
        ("body", "", '"a"', "includes", 9),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "?? status != 200",
        "?? status == abc",
        "?? status === 200",
        "?? status EQUALS 200",
        "?? status",
        "?? duration < 300",
        "?? js response.statusCode == 200",
        "?? header includes json",
        "?? header content-type exists",
        "?? body includes",
        "?? body includes <title>",
        "?? body includes a == b",
        "?? body == whole",
        "?? body id == 3",
    ],
)
def test_parse_refuses_assertions_it_would_not_read_as_httpyac_does(
    line: str,
) -> None:
    with pytest.raises(InputError, match=r"^bad\.http:2: expected `\?\? status"):
        parse(f"?? status == 200\n{line}\nGET /x\n", where="bad.http")


def test_cli_qa_names_the_file_and_line_of_a_bad_assertion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "bad.http", "GET /x\n\n?? status >= 200\n")
    assert main(["qa", str(bad), "--base-url", "http://127.0.0.1:1"]) == 2
    assert "bad.http:3: expected `?? status == N`" in capsys.readouterr().err


def test_short_references_name_earlier_requests_only() -> None:
    first, second = parse(
        "# @name one\n?? status == 200\n?? body includes {{one.a}}\nGET /x\n###\n"
        "@v = {{one.b.0}}\n?? status == 200\n?? body includes {{two.c}}\n"
        "PATCH /x/{{one.id}}?h={{one.response.headers.Location}}\n"
        "Authorization: Bearer {{one.token}}\n\n{{one.x}} {{$datetime iso8601}}\n",
        where="x.http",
    )
    assert first.expects[1].value == "{{one.response.body.$.a}}"
    assert second.url == (
        "/x/{{one.response.body.$.id}}?h={{one.response.headers.Location}}"
    )
    assert second.headers == (
        ("Authorization", "Bearer {{one.response.body.$.token}}"),
    )
    assert second.body == "{{one.response.body.$.x}} {{$datetime iso8601}}"
    assert dict(second.variables)["v"] == "{{one.response.body.$.b.0}}"
    # `two` names no request: left as written, an unknown variable at replay.
    assert second.expects[1].value == "{{two.c}}"


def test_run_with_httpyac_assertions_and_references(base: str, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "flow.http",
        "# @name first\n?? status == 200\n"
        "?? header content-type includes application/json\n"
        "POST /echo\nContent-Type: text/plain\n\nhello\n"
        "###\n"
        "?? status == 201\n?? body includes {{first.body}}\n"
        "?? header content-type == application/json\n"
        "?? header content-type includes JSON\n"
        "?? body includes HELLO\n"
        "PATCH /echo?status=201\nContent-Type: text/plain\n\n{{first.body}}\n",
    )
    first, second = run_file(path, base)
    assert first.problems == ()
    assert second.status == 201
    # Header and body texts compare with their case, as httpyac compares.
    assert second.problems == (
        "header content-type lacks 'JSON'",
        "body lacks 'HELLO'",
    )


def test_no_cookie_jar_requests_neither_carry_nor_keep_cookies(
    base: str, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "jar.http",
        # Kept from the first, not from the marked second, carried by the
        # third, not sent by the marked fourth.
        "?? status == 200\nGET /echo?set=one\n###\n"
        "?? status == 200\n# @no-cookie-jar\nGET /echo?set=two\n###\n"
        '?? status == 200\n?? body includes "cookie":"one"\nGET /echo\n###\n'
        '?? status == 200\n?? body includes "cookie":null\n'
        "# @no-cookie-jar\nGET /echo\n",
    )
    results = run_file(path, base)
    assert [r.problems for r in results] == [(), (), (), ()]
