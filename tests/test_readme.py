"""The README's Python examples run, and say what they print."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
# `expression  # value` lines; the value may be followed by a remark in ().
CLAIM = re.compile(r"^(?P<expr>[\w.]+(?:\(.*\))?)  # (?P<value>.+?)(?: \(.*\))?$")


def run(block: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme"}
    # As a user runs it: without this file's `from __future__` import.
    exec(compile(block, "README.md", "exec", dont_inherit=True), namespace)
    return namespace


def block_defining(name: str) -> str:
    return next(b for b in BLOCKS if re.search(rf"^{name} = ", b, re.M))


def test_every_python_block_is_tested() -> None:
    # The wallet verifier's block runs in tests/test_assurance.py.
    assert len(BLOCKS) == 8


def test_screening_example_says_what_it_prints() -> None:
    block = block_defining("d")
    namespace = run(block)
    claims = [m for line in block.splitlines() if (m := CLAIM.match(line))]
    assert len(claims) == 7
    for claim in claims:
        actual = eval(claim["expr"], namespace)
        expected = eval(claim["value"], namespace)
        assert actual == expected, claim.group(0)


@pytest.mark.parametrize(
    ("birthdate", "status"), [("2008-05-01", 403), ("2000-05-01", 201)]
)
def test_starlette_example_gates_signups(birthdate: str, status: int) -> None:
    app = run(block_defining("app"))["app"]
    with TestClient(app) as client:
        answer = client.post(
            "/signup", json={"dob": birthdate, "country": "CA", "region": "BC"}
        )
    assert answer.status_code == status
    if status == 201:
        assert answer.json() == {"jurisdiction": "CA-BC"}


@pytest.mark.parametrize(
    ("birthdate", "status"), [("2010-05-01", 403), ("2000-05-01", 201)]
)
def test_fastapi_example_gates_signups(birthdate: str, status: int) -> None:
    api = run(block_defining("api"))["api"]
    with TestClient(api) as client:
        answer = client.post(
            "/signup", json={"user": {"dob": birthdate, "country": "JP"}}
        )
    assert answer.status_code == status
    if status == 201:
        assert answer.json() == {"jurisdiction": "JP"}


def test_check_app_example_runs_on_the_fastapi_example() -> None:
    api = run(block_defining("api"))["api"]
    scope: dict[str, Any] = {"__name__": "readme", "api": api}
    exec(
        compile(block_defining("findings"), "README.md", "exec", dont_inherit=True),
        scope,
    )
    assert scope["findings"] == []


@pytest.mark.parametrize(
    ("birthdate", "status"), [("2012-05-01", 403), ("2000-05-01", 201)]
)
def test_mount_example_gates_the_full_path(birthdate: str, status: int) -> None:
    from agegate.asgi.app_check import check_app

    outer = run(block_defining("outer"))["outer"]
    assert check_app(outer) == []
    with TestClient(outer) as client:
        answer = client.post("/v2/signup", json={"dob": birthdate, "country": "FR"})
    assert answer.status_code == status


def test_cors_example_puts_cors_outside_the_gate() -> None:
    from agegate.asgi.app_check import check_app

    spa = run(block_defining("spa"))["spa"]
    assert check_app(spa) == []
    with TestClient(spa) as client:
        answer = client.post(
            "/signup",
            json={"dob": "2012-05-01", "country": "FR"},
            headers={"Origin": "https://app.example"},
        )
    assert answer.status_code == 403
    assert answer.headers["access-control-allow-origin"] == "https://app.example"


def test_openapi_example_documents_the_gates_answers() -> None:
    documented = run(block_defining("documented"))["documented"]
    with TestClient(documented) as client:
        paths = client.get("/openapi.json").json()["paths"]
    answers = paths["/signup"]["post"]["responses"]
    assert {"400", "403", "413", "415", "422"} <= set(answers)
    assert "application/problem+json" in answers["403"]["content"]
