"""Charsets and extended parameters: a form the app would decode otherwise
than the gate is refused.

python-multipart releases before 0.0.30 decode RFC 2231 parameters
(`charset*0=utf-7`) and let them override the plain ones; Starlette then
decodes every part's name and value with that charset, so a part named
`+AGI-irthdate` is `birthdate` to the app and something else to a reader
that ignores the parameter. The attacks run through a real Starlette app, a
real FastAPI `Form()` app and the demo, each over uvicorn on loopback, on
whichever python-multipart release is installed (CI runs them on the oldest
one too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI, Form
from gate_support import ADULT, AGE_17, SECRET, uvicorn_server
from python_multipart.multipart import parse_options_header
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agegate import AgeGateMiddleware, load_rules
from agegate.apps.demo import create_app

BOUNDARY = "agegateXyZ"
UTF7_BIRTHDATE = "+AGI-irthdate"  # `birthdate` in UTF-7


def multipart(
    fields: list[tuple[str, str]], part_headers: dict[str, list[str]] | None = None
) -> bytes:
    """A multipart body; `part_headers[name]` replaces that part's headers."""
    chunks: list[bytes] = []
    for name, value in fields:
        headers = (part_headers or {}).get(
            name, [f'Content-Disposition: form-data; name="{name}"']
        )
        chunks.append(
            f"--{BOUNDARY}\r\n{''.join(h + chr(13) + chr(10) for h in headers)}"
            f"\r\n{value}\r\n".encode()
        )
    chunks.append(f"--{BOUNDARY}--".encode())
    return b"".join(chunks)


def utf7_signup(**extra: str) -> list[tuple[str, str]]:
    """An adult `birthdate` beside a minor's under its UTF-7 name, last (the
    one a form's `get` returns)."""
    fields = [("birthdate", ADULT), ("country", "CA"), ("subdivision", "BC")]
    fields += list(extra.items())
    return [*fields, (UTF7_BIRTHDATE, AGE_17)]


def extended(content_type: str) -> bool:
    """Whether the installed python-multipart decodes the extended charset."""
    return parse_options_header(content_type)[1].get(b"charset") == b"utf-7"


async def _form_of(request: Request) -> list[list[str]]:
    async with request.form() as form:
        return [[k, v] for k, v in form.multi_items() if isinstance(v, str)]


def starlette_app(reads: list[list[list[str]]]) -> Starlette:
    """`/signup` gated, `/open` not: both record what `request.form()` read."""

    async def record(request: Request) -> Response:
        reads.append(await _form_of(request))
        return JSONResponse({"created": True})

    app = Starlette(
        routes=[
            Route("/signup", record, methods=["POST"]),
            Route("/open", record, methods=["POST"]),
        ]
    )
    app.add_middleware(
        AgeGateMiddleware, paths=["/signup"], secret=SECRET, rules=load_rules()
    )
    return app


# The extended parameter the app's parser may honour, in its spellings.
EXTENDED = [
    f"multipart/form-data; boundary={BOUNDARY}; charset*0=utf-7",
    f"multipart/form-data; boundary={BOUNDARY}; charset*=utf-7''",
    f"multipart/form-data; boundary={BOUNDARY}; charset=utf-8; charset*0=utf-7",
    f"multipart/form-data; boundary={BOUNDARY}; Charset*0*=utf-7",
    f'multipart/form-data; boundary={BOUNDARY}; charset*0="utf-7"',
    f"multipart/form-data; boundary*0={BOUNDARY}; boundary={BOUNDARY}",
]
# A charset the app would decode with, other than UTF-8 or ASCII.
OTHER_CHARSETS = [
    f"multipart/form-data; boundary={BOUNDARY}; charset=utf-7",
    f'multipart/form-data; boundary={BOUNDARY}; charset="UTF-7"',
    f"multipart/form-data; boundary={BOUNDARY}; charset=latin-1",
    f"multipart/form-data; boundary={BOUNDARY}; charset=utf-16",
    f'multipart/form-data; boundary={BOUNDARY}; charset=""',
    f"multipart/form-data; boundary={BOUNDARY}; charset=utf-8; charset=utf-7",
]


@pytest.mark.parametrize("content_type", EXTENDED)
def test_extended_parameter_on_multipart_is_refused(content_type: str) -> None:
    reads: list[list[list[str]]] = []
    body = multipart(utf7_signup())
    headers = {"content-type": content_type}
    with uvicorn_server(starlette_app(reads)) as url, httpx2.Client() as client:
        response = client.post(url + "/signup", content=body, headers=headers)
        assert response.status_code == 415, response.text
        assert response.json()["code"] == "MEDIA_TYPE_UNSUPPORTED"
        assert reads == []
        # The attack is real where the installed release decodes it: the
        # same bytes on an ungated route give the app the minor's date.
        assert client.post(url + "/open", content=body, headers=headers).is_success
    if extended(content_type):
        assert ["birthdate", AGE_17] in reads[0]


@pytest.mark.parametrize("content_type", OTHER_CHARSETS)
def test_other_charset_on_multipart_is_refused(content_type: str) -> None:
    reads: list[list[list[str]]] = []
    with uvicorn_server(starlette_app(reads)) as url:
        response = httpx2.post(
            url + "/signup",
            content=multipart(utf7_signup()),
            headers={"content-type": content_type},
        )
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "CHARSET_UNSUPPORTED"
    assert reads == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset*0=utf-7",
        "application/x-www-form-urlencoded; charset*=utf-8''",
        "application/x-www-form-urlencoded; charset=utf-7",
        "application/json; charset*=utf-8''",
        "application/json; charset*0=utf-16",
    ],
)
def test_extended_or_other_charset_on_urlencoded_and_json_is_refused(
    content_type: str,
) -> None:
    reads: list[list[list[str]]] = []
    body = f"birthdate={ADULT}&country=CA&subdivision=BC&%2BAGI-irthdate={AGE_17}"
    if content_type.startswith("application/json"):
        body = f'{{"birthdate": "{ADULT}", "country": "CA", "subdivision": "BC"}}'
    with uvicorn_server(starlette_app(reads)) as url:
        response = httpx2.post(
            url + "/signup", content=body, headers={"content-type": content_type}
        )
    assert response.status_code == 415, response.text
    assert response.json()["code"] in ("MEDIA_TYPE_UNSUPPORTED", "CHARSET_UNSUPPORTED")
    assert reads == []


@pytest.mark.parametrize(
    ("charset", "birthdate", "status"),
    [
        ("utf-8", ADULT, 200),
        ("UTF-8", ADULT, 200),
        ('"utf-8"', ADULT, 200),
        ("utf8", ADULT, 200),
        ("us-ascii", ADULT, 200),
        ("us-ascii", AGE_17, 403),
        ("ascii", AGE_17, 403),
    ],
)
def test_utf8_and_ascii_forms_are_read(
    charset: str, birthdate: str, status: int
) -> None:
    reads: list[list[list[str]]] = []
    fields = [("birthdate", birthdate), ("country", "CA"), ("subdivision", "BC")]
    with uvicorn_server(starlette_app(reads)) as url:
        response = httpx2.post(
            url + "/signup",
            content=multipart(fields),
            headers={
                "content-type": f"multipart/form-data; boundary={BOUNDARY}; "
                f"charset={charset}"
            },
        )
    assert response.status_code == status, response.text
    assert len(reads) == (status == 200)


# -- part headers that name a part, or decode it, otherwise -----------------------


@pytest.mark.parametrize(
    "headers",
    [
        # The part's name, extended or continued (RFC 7578 forbids both).
        ['Content-Disposition: form-data; name="nick"; name*0="birthdate"'],
        ['Content-Disposition: form-data; name*0="birth"; name*1="date"'],
        ["Content-Disposition: form-data; name=\"nick\"; name*=utf-8''birthdate"],
        ["Content-Disposition: form-data; name=\"nick\"; name*0*=utf-8''birthdate"],
        # A gated part with a charset of its own.
        [
            'Content-Disposition: form-data; name="birthdate"',
            "Content-Type: text/plain; charset=utf-7",
        ],
        [
            'Content-Disposition: form-data; name="birthdate"',
            "Content-Type: text/plain; charset*=utf-7''",
        ],
    ],
)
def test_part_named_or_decoded_two_ways_is_refused(headers: list[str]) -> None:
    reads: list[list[list[str]]] = []
    fields = [("nick", AGE_17), ("country", "CA"), ("subdivision", "BC")]
    if "birthdate" in headers[0] and "nick" not in headers[0]:
        # An adult's date: only the refusal keeps it from the app.
        fields[0] = ("birthdate", ADULT)
    name = fields[0][0]
    with uvicorn_server(starlette_app(reads)) as url:
        response = httpx2.post(
            url + "/signup",
            content=multipart(fields, {name: headers}),
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["code"] in ("PART_AMBIGUOUS", "BODY_MALFORMED")
    assert reads == []


# -- a FastAPI `Form()` app and the demo -------------------------------------------


def test_fastapi_form_app_never_reads_the_utf7_minor() -> None:
    stored: list[str] = []
    api = FastAPI()

    @api.post("/signup")
    async def signup(
        birthdate: str = Form(), country: str = Form(), subdivision: str = Form()
    ) -> dict[str, str]:
        stored.append(birthdate)
        return {"created": "yes"}

    @api.post("/open")
    async def open_signup(birthdate: str = Form()) -> dict[str, str]:
        stored.append(birthdate)
        return {"created": "yes"}

    api.add_middleware(
        AgeGateMiddleware, paths=["/signup"], secret=SECRET, rules=load_rules()
    )
    body = multipart(utf7_signup())
    for content_type in EXTENDED[:3]:
        headers = {"content-type": content_type}
        with uvicorn_server(api) as url, httpx2.Client() as client:
            response = client.post(url + "/signup", content=body, headers=headers)
            assert response.status_code == 415, response.text
            assert stored == []
            assert client.post(url + "/open", content=body, headers=headers)
        # `Form()` takes the last `birthdate`: the minor's, where decoded.
        assert stored.pop() == (AGE_17 if extended(content_type) else ADULT)


def test_demo_signup_refuses_the_utf7_minor(tmp_path: Path) -> None:
    app = create_app(tmp_path, secret=SECRET, rules=load_rules())
    accounts: Any = app.state.accounts
    fields = utf7_signup(email="kid@example.com")
    with uvicorn_server(app) as url, httpx2.Client() as client:
        for content_type in (*EXTENDED[:3], *OTHER_CHARSETS[:1]):
            response = client.post(
                url + "/api/signup",
                content=multipart(fields),
                headers={"content-type": content_type},
            )
            assert response.status_code == 415, response.text
        assert accounts.count() == 0
        # The same signup without the extended parameter is the adult's.
        response = client.post(
            url + "/api/signup",
            content=multipart(fields),
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert response.status_code == 201, response.text
        assert accounts.count() == 1
