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
    exec(compile(block, "README.md", "exec"), namespace)
    return namespace


def block_defining(name: str) -> str:
    return next(b for b in BLOCKS if re.search(rf"^{name} = ", b, re.M))


def test_every_python_block_is_tested() -> None:
    # The wallet verifier's block runs in tests/test_assurance.py.
    assert len(BLOCKS) == 4


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
