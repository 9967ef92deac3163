"""Attempts to get an underage birthdate past the gate.

Every test sends a body carrying a British Columbia 17- or 18-year-old in
some disguise and asserts that the gate answered (4xx) and that the app's
own parsers (Starlette's request.json(), request.form(), query_params) never
read an underage birthdate.
"""

from __future__ import annotations

import codecs
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from gate_support import (
    ADULT,
    AGE_17,
    AGE_18,
    AGE_19,
    Recorder,
    bc,
    make_app,
    uvicorn_server,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from agegate import FieldMap, load_rules
from agegate.asgi.body import Refused, classify

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[TestClient]:
    # No block cookie, so every attempt is judged on its own.
    app = make_app(recorder, block_cookie=False, secret=None)
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


def assert_refused(
    response: httpx2.Response, recorder: Recorder, status: int, code: str
) -> None:
    """Refused with `status` and `code`: the refusal's `code`, or for a 422
    about the values themselves, one of the decision's `reasons`."""
    assert response.status_code == status, response.status_code
    problem = response.json()
    assert code == problem.get("code") or code in problem.get("reasons", []), problem
    assert response.headers["cache-control"] == "no-store"
    assert not recorder.read_minor(19)
    assert not recorder.saw_underage()


def minor_json(birthdate: str = AGE_17) -> str:
    return json.dumps(bc(birthdate))


# -- content types -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "status", "code"),
    [
        ("text/plain", 415, "MEDIA_TYPE_UNSUPPORTED"),
        ("text/json", 415, "MEDIA_TYPE_UNSUPPORTED"),
        ("application/javascript", 415, "MEDIA_TYPE_UNSUPPORTED"),
        ("application/json; charset=utf-16", 415, "CHARSET_UNSUPPORTED"),
        ("application/json; charset=latin-1", 415, "CHARSET_UNSUPPORTED"),
        ("application/json; charset=utf-8; charset=utf-16", 415, "CHARSET_UNSUPPORTED"),
        ("application/json, text/plain", 415, "MEDIA_TYPE_UNSUPPORTED"),
        ("json", 415, "MEDIA_TYPE_UNSUPPORTED"),
        ("application/x-www-form-urlencoded", 400, "BODY_AMBIGUOUS"),
        ("multipart/form-data; boundary=x", 400, "BODY_AMBIGUOUS"),
        ("application/x-www-form-urlencoded; charset=utf-8", 400, "BODY_AMBIGUOUS"),
        ("", 415, "MEDIA_TYPE_UNSUPPORTED"),
    ],
)
def test_json_under_another_content_type(
    client: TestClient, recorder: Recorder, content_type: str, status: int, code: str
) -> None:
    response = client.post(
        "/signup", content=minor_json(), headers={"content-type": content_type}
    )
    assert_refused(response, recorder, status, code)


@pytest.mark.parametrize(
    "content_type",
    [
        "Application/JSON",
        "application/vnd.api+json",
        " application/json ; charset=UTF-8",
    ],
)
def test_json_spelled_differently_is_still_screened(
    client: TestClient, recorder: Recorder, content_type: str
) -> None:
    response = client.post(
        "/signup", content=minor_json(), headers={"content-type": content_type}
    )
    assert response.status_code == 403
    assert recorder.requests == []


def test_content_type_given_twice(client: TestClient, recorder: Recorder) -> None:
    response = client.post(
        "/signup",
        content=minor_json(),
        headers=[("content-type", "text/plain"), ("content-type", "application/json")],
    )
    assert_refused(response, recorder, 400, "HEADER_AMBIGUOUS")


def test_compressed_body(client: TestClient, recorder: Recorder) -> None:
    response = client.post(
        "/signup",
        content=minor_json(),
        headers={**JSON, "content-encoding": "gzip"},
    )
    assert response.status_code == 415
    assert_refused(response, recorder, 415, "CONTENT_ENCODING_UNSUPPORTED")


# -- encodings and byte order marks ---------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF8 + t.encode(),
        lambda t: t.encode("utf-16"),
        lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("utf-16-be"),
        lambda t: t.encode("utf-32"),
        lambda t: t.encode("utf-32-le"),
    ],
    ids=["utf8-bom", "utf16", "utf16le", "utf16be", "utf32", "utf32le"],
)
def test_json_in_other_encodings(
    client: TestClient, recorder: Recorder, encode: Any
) -> None:
    body = encode(minor_json())
    assert json.loads(body)["birthdate"] == AGE_17  # the app could read it
    response = client.post("/signup", content=body, headers=JSON)
    assert response.status_code == 400
    assert_refused(response, recorder, 400, "BODY_ENCODING")


def test_json_with_invalid_utf8(client: TestClient, recorder: Recorder) -> None:
    body = minor_json().encode()[:-1] + b'\xff"}'
    response = client.post("/signup", content=body, headers=JSON)
    assert_refused(response, recorder, 400, "BODY_ENCODING")


def test_form_with_raw_non_ascii(client: TestClient, recorder: Recorder) -> None:
    body = f"birthdate={AGE_17}&country=CA&subdivision=BC&name=\xe9".encode("latin-1")
    response = client.post("/signup", content=body, headers=FORM)
    assert_refused(response, recorder, 400, "BODY_ENCODING")


def test_form_with_a_charset(client: TestClient, recorder: Recorder) -> None:
    body = f"birthdate={AGE_17}&country=CA&subdivision=BC".encode("utf-16")
    response = client.post(
        "/signup",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-16"},
    )
    assert response.status_code == 415
    assert_refused(response, recorder, 415, "CHARSET_UNSUPPORTED")


# -- duplicate keys ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        f'{{"birthdate": "{ADULT}", "country": "CA", "subdivision": "BC", '
        f'"birthdate": "{AGE_17}"}}',
        f'{{"birthdate": "{AGE_17}", "country": "CA", "subdivision": "BC", '
        f'"birthdate": "{ADULT}"}}',
        f'{{"birthdate": "{ADULT}", "country": "CA", "subdivision": "BC", '
        f'"birth\\u0064ate": "{AGE_17}"}}',
        f'{{"birthdate": "{ADULT}", "country": "FR", "country": "CA", '
        f'"subdivision": "BC", "x": {{"a": 1, "a": 2}}}}',
    ],
    ids=["minor-last", "minor-first", "escaped-key", "other-duplicates"],
)
def test_duplicate_json_keys(client: TestClient, recorder: Recorder, body: str) -> None:
    response = client.post("/signup", content=body, headers=JSON)
    assert response.status_code == 400
    assert_refused(response, recorder, 400, "KEY_REPEATED")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            f"birthdate={ADULT}&birthdate={AGE_17}&country=CA&subdivision=BC",
            400,
            "FIELD_REPEATED",
        ),
        (
            f"birthdate={AGE_17}&birthdate={ADULT}&country=CA&subdivision=BC",
            400,
            "FIELD_REPEATED",
        ),
        (
            f"birth%64ate={AGE_17}&birthdate={ADULT}&country=CA&subdivision=BC",
            400,
            "FIELD_REPEATED",
        ),
        # Both readers take `;` as part of the value: not a date.
        (
            f"birthdate={ADULT};birthdate={AGE_17}&country=CA&subdivision=BC",
            422,
            "BIRTHDATE_MALFORMED",
        ),
    ],
)
def test_repeated_form_fields(
    client: TestClient, recorder: Recorder, body: str, status: int, code: str
) -> None:
    response = client.post("/signup", content=body, headers=FORM)
    assert_refused(response, recorder, status, code)


def test_form_body_that_is_also_json(client: TestClient, recorder: Recorder) -> None:
    # Read as a form: an adult. Read as JSON (request.json()): a minor.
    body = json.dumps(
        {
            "a": f"&birthdate={ADULT}&country=CA&subdivision=BC&",
            **bc(AGE_17),
        }
    )
    response = client.post("/signup", content=body, headers=FORM)
    assert response.status_code == 400
    assert_refused(response, recorder, 400, "BODY_AMBIGUOUS")


def test_field_in_query_and_body(client: TestClient, recorder: Recorder) -> None:
    response = client.post(
        f"/signup?birthdate={AGE_17}", content=json.dumps(bc(ADULT)), headers=JSON
    )
    assert_refused(response, recorder, 400, "FIELD_IN_QUERY_AND_BODY")
    response = client.post(
        f"/signup?birthdate={ADULT}&birthdate={AGE_17}&country=CA&subdivision=BC"
    )
    assert_refused(response, recorder, 400, "FIELD_REPEATED")


def test_dotted_field_given_two_ways(recorder: Recorder) -> None:
    app = make_app(
        recorder,
        block_cookie=False,
        secret=None,
        fields=FieldMap(birthdate="user.birthdate"),
    )
    body = {"user.birthdate": ADULT, "user": {"birthdate": AGE_17}, "country": "CA"}
    with TestClient(app) as test_client:
        response = test_client.post("/signup", json={**body, "subdivision": "BC"})
    assert_refused(response, recorder, 422, "FIELD_AMBIGUOUS")
    assert recorder.requests == []


# -- multipart -----------------------------------------------------------------


def multipart(*parts: bytes, boundary: bytes = b"XyZ") -> tuple[bytes, dict[str, str]]:
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    body += b"--" + boundary + b"--\r\n"
    return body, {"content-type": f"multipart/form-data; boundary={boundary.decode()}"}


def part(name: str, value: str, *headers: str) -> bytes:
    lines = [f'Content-Disposition: form-data; name="{name}"', *headers, "", value]
    return "\r\n".join(lines).encode()


LOCATION = (part("country", "CA"), part("subdivision", "BC"))


def test_multipart_minor_is_blocked(client: TestClient, recorder: Recorder) -> None:
    body, headers = multipart(part("birthdate", AGE_18), *LOCATION)
    response = client.post("/signup", content=body, headers=headers)
    assert response.status_code == 403
    assert recorder.requests == []


def test_multipart_adult_passes_with_exact_bytes(
    client: TestClient, recorder: Recorder
) -> None:
    body, headers = multipart(part("birthdate", AGE_19), *LOCATION)
    assert client.post("/signup", content=body, headers=headers).status_code == 200
    assert recorder.requests[0]["body"] == body


def _raw_part(text: str) -> bytes:
    return text.encode()


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        pytest.param(
            (part("birthdate", ADULT), part("birthdate", AGE_17)),
            "FIELD_REPEATED",
            id="repeated",
        ),
        pytest.param(
            (part("birthdate", ADULT, "Content-Transfer-Encoding: base64"),),
            "PART_AMBIGUOUS",
            id="transfer-encoding",
        ),
        pytest.param(
            (part("birthdate", ADULT, "Content-Type: text/plain; charset=utf-16"),),
            "PART_AMBIGUOUS",
            id="part-charset",
        ),
        pytest.param(
            (part("birthdate", ADULT, "Content-Type: application/json"),),
            "PART_AMBIGUOUS",
            id="part-json",
        ),
        pytest.param(
            (
                _raw_part(
                    'Content-Disposition: form-data; name="birthdate"; '
                    f"name*=UTF-8''other\r\n\r\n{ADULT}"
                ),
            ),
            "PART_AMBIGUOUS",
            id="extended-name",
        ),
        pytest.param(
            (
                _raw_part(
                    'Content-Disposition: form-data; name="x"; name="birthdate"'
                    f"\r\n\r\n{ADULT}"
                ),
            ),
            "PART_AMBIGUOUS",
            id="two-names",
        ),
        pytest.param(
            (
                _raw_part(
                    'Content-Disposition: form-data; name="birthdate"; '
                    f'filename="b.txt"\r\nContent-Type: text/plain\r\n\r\n{AGE_17}'
                ),
            ),
            "FIELD_NOT_TEXT",
            id="file",
        ),
    ],
)
def test_multipart_parts_readable_two_ways(
    client: TestClient, recorder: Recorder, parts: tuple[bytes, ...], code: str
) -> None:
    body, headers = multipart(*parts, *LOCATION)
    response = client.post("/signup", content=body, headers=headers)
    assert_refused(response, recorder, 400, code)


def test_multipart_with_a_charset(client: TestClient, recorder: Recorder) -> None:
    body, _ = multipart(part("birthdate", AGE_17), *LOCATION)
    response = client.post(
        "/signup",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=XyZ; charset=utf-16"},
    )
    assert response.status_code == 415
    assert_refused(response, recorder, 415, "CHARSET_UNSUPPORTED")


def test_multipart_wrapped_in_json(client: TestClient, recorder: Recorder) -> None:
    inner, headers = multipart(part("birthdate", ADULT), *LOCATION)
    body = json.dumps({**bc(AGE_17), "x": "\r\n" + inner.decode()})
    response = client.post("/signup", content=body, headers=headers)
    assert_refused(response, recorder, 400, "BODY_AMBIGUOUS")


def test_multipart_without_boundary(client: TestClient, recorder: Recorder) -> None:
    body, _ = multipart(part("birthdate", AGE_17), *LOCATION)
    response = client.post(
        "/signup", content=body, headers={"content-type": "multipart/form-data"}
    )
    assert_refused(response, recorder, 400, "BODY_MALFORMED")


# -- JSON surprises ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("[" * 50_000 + "]" * 50_000, 413, "BODY_TOO_LARGE"),
        ('{"a": ' * 20_000 + "1" + "}" * 20_000, 413, "BODY_TOO_LARGE"),
        ('{"birthdate": ' + "9" * 5000 + "}", 400, "BODY_MALFORMED"),
        (
            f'{{"birthdate": ["{AGE_17}"], "country": "CA", "subdivision": "BC"}}',
            422,
            "BIRTHDATE_MALFORMED",
        ),
        (
            f'{{"birthdate": {{"value": "{AGE_17}"}}, "country": "CA"}}',
            422,
            "BIRTHDATE_MALFORMED",
        ),
        ("", 400, "BODY_MALFORMED"),
        ("null", 400, "BODY_NOT_OBJECT"),
    ],
    ids=["deep-list", "deep-object", "huge-int", "list", "object", "empty", "null"],
)
def test_json_surprises_never_5xx(
    client: TestClient, recorder: Recorder, body: str, status: int, code: str
) -> None:
    response = client.post("/signup", content=body, headers=JSON)
    assert_refused(response, recorder, status, code)


# -- paths and methods ---------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/signup/",
        "/SIGNUP",
        "/SignUp/",
        "//signup",
        "/signup//",
        "/./signup",
        "/x/../signup",
        "/signup;jsessionid=1",
        "/sign%75p",
    ],
)
def test_path_variants_are_gated(
    client: TestClient, recorder: Recorder, path: str
) -> None:
    response = client.post(
        "http://testserver" + path, content=minor_json(), headers=JSON
    )
    assert response.status_code == 403
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("path", "root_path"),
    [
        ("//signup", ""),
        ("/signup/.", ""),
        ("/a/b/../../signup", ""),
        ("/SIGNUP;x=1/", ""),
        ("/api/signup", "/api"),
        ("/api//Signup/", "/api"),
        ("/accounts/42/", ""),
        ("/Accounts//42", ""),
    ],
)
def test_router_matches_every_spelling(path: str, root_path: str) -> None:
    from agegate.asgi.routes import Route, Router

    router = Router(
        [
            Route.from_template("/signup", "signup"),
            Route.from_template("/accounts/{account_id}", "profile"),
        ]
    )
    found = router.match({"path": path, "root_path": root_path})
    assert found is not None
    if found.route.kind == "profile":
        assert found.params == {"account_id": "42"}


@pytest.mark.parametrize("path", ["/signupx", "/sign/up", "/accounts", "/"])
def test_router_leaves_other_paths_alone(path: str) -> None:
    from agegate.asgi.routes import Route, Router

    router = Router(
        [
            Route.from_template("/signup", "signup"),
            Route.from_template("/accounts/{account_id}", "profile"),
        ]
    )
    assert router.match({"path": path, "root_path": ""}) is None


@pytest.mark.parametrize("path", ["/api/signup", "/api/SignUp/", "/api/signup//"])
def test_mounted_under_a_root_path(recorder: Recorder, path: str) -> None:
    inner = make_app(recorder, block_cookie=False, secret=None)
    outer = Starlette(routes=[Mount("/api", app=inner)])
    with TestClient(outer) as test_client:
        response = test_client.post(path, content=minor_json(), headers=JSON)
    assert response.status_code == 403
    assert recorder.requests == []


def test_full_path_may_be_configured_under_a_mount(recorder: Recorder) -> None:
    inner = make_app(recorder, paths=["/api/signup"], block_cookie=False, secret=None)
    outer = Starlette(routes=[Mount("/api", app=inner)])
    with TestClient(outer) as test_client:
        response = test_client.post("/api/signup", content=minor_json(), headers=JSON)
    assert response.status_code == 403


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "GET"])
def test_every_method_with_a_body_is_screened(
    client: TestClient, recorder: Recorder, method: str
) -> None:
    response = client.request(method, "/signup", content=minor_json(), headers=JSON)
    assert response.status_code == 403
    assert recorder.requests == []


def test_post_with_an_empty_body_is_screened(
    client: TestClient, recorder: Recorder
) -> None:
    response = client.post("/signup")
    assert_refused(response, recorder, 422, "BIRTHDATE_MISSING")
    assert recorder.requests == []


# -- through a real server: chunked bodies and raw requests ----------------------


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()
    app = make_app(recorder, block_cookie=False, secret=None)
    with uvicorn_server(app) as url:
        yield recorder, url


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_chunked_body_without_content_length(server: tuple[Recorder, str]) -> None:
    recorder, url = server
    recorder.requests.clear()
    payload = minor_json().encode()

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(payload), 7):
            yield payload[i : i + 7]

    with httpx2.Client(base_url=url) as http:
        response = http.post("/signup", content=pieces(), headers=JSON)
        assert response.request.headers.get("transfer-encoding") == "chunked"
        assert response.status_code == 403
        adult = json.dumps(bc(AGE_19)).encode()
        response = http.post(
            "/signup", content=iter([adult[:5], adult[5:]]), headers=JSON
        )
        assert response.status_code == 200
    assert [seen["body"] for seen in recorder.requests] == [adult]


def test_raw_chunked_request_with_duplicate_headers(
    server: tuple[Recorder, str],
) -> None:
    recorder, url = server
    recorder.requests.clear()
    payload = minor_json().encode()
    request = (
        b"POST /signup HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: text/plain\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(payload):x}\r\n".encode()
        + payload
        + b"\r\n0\r\n\r\n"
    )
    answer = raw_request(url, request)
    assert answer.startswith(b"HTTP/1.1 400")
    assert recorder.requests == []


def test_raw_oversize_chunked_request(server: tuple[Recorder, str]) -> None:
    recorder, url = server
    recorder.requests.clear()
    chunk = b"x" * 8192
    request = (
        b"POST /SignUp/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(9))
        + b"0\r\n\r\n"
    )
    assert raw_request(url, request).startswith(b"HTTP/1.1 413")
    assert recorder.requests == []


# -- trusted country header ------------------------------------------------------


def test_country_header_is_ignored_unless_trusted(recorder: Recorder) -> None:
    body = {"birthdate": AGE_18, "country": "FR"}  # 18 may join from France
    untrusted = make_app(recorder, block_cookie=False, secret=None)
    with TestClient(untrusted) as test_client:
        response = test_client.post(
            "/signup", json=body, headers={"cf-ipcountry": "CA"}
        )
        assert response.status_code == 200
    trusted = make_app(
        recorder, block_cookie=False, secret=None, trusted_country_header="X-Country"
    )
    rules = load_rules()
    stricter = next(c for c in sorted(rules.countries) if rules.majority_age(c) > 18)
    with TestClient(trusted) as test_client:
        # The stricter country wins over France's 18.
        response = test_client.post(
            "/signup", json=body, headers={"x-country": stricter}
        )
        assert response.status_code == 403
        response = test_client.post(
            "/signup",
            json=body,
            headers=[("x-country", "FR"), ("x-country", "CA")],
        )
        assert response.status_code == 400
        assert response.json()["code"] == "HEADER_AMBIGUOUS"


# -- anything at all ---------------------------------------------------------------

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/ld+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=XyZ",
        "multipart/form-data",
        "text/plain",
        "",
    ]
) | st.text(max_size=40)
VALUES = st.sampled_from([AGE_17, AGE_18, ADULT, "CA", "BC", "FR", "", "x"]) | st.text(
    max_size=12
)
KEYS = st.sampled_from(
    ["birthdate", "country", "subdivision", "phone", "age"]
) | st.text(max_size=8)
RECORDS = st.lists(st.tuples(KEYS, VALUES | st.integers() | st.none()), max_size=6)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    pairs = draw(RECORDS)
    shape = draw(st.sampled_from(["json", "form", "multipart", "bytes"]))
    if shape == "json":
        text = (
            "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
        )
        body = text.encode(draw(st.sampled_from(["utf-8", "utf-16", "utf-8-sig"])))
    elif shape == "form":
        body = "&".join(f"{k}={'' if v is None else v}" for k, v in pairs).encode()
    elif shape == "multipart":
        body, _ = multipart(*(part(k, str(v)) for k, v in pairs))
    else:
        body = draw(st.binary(max_size=200))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.binary(max_size=8)) + body[cut:]
    return body


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    body=bodies(),
    content_type=CONTENT_TYPES,
    method=st.sampled_from(["POST", "PUT", "PATCH", "GET", "DELETE"]),
    query=st.dictionaries(KEYS, VALUES, max_size=3),
    extra=st.lists(
        st.tuples(
            st.sampled_from(
                ["content-encoding", "accept", "accept-language", "cookie", "x-other"]
            ),
            st.text(
                alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20
            ),
        ),
        max_size=3,
    ),
)
def test_anything_at_a_gated_route(
    body: bytes,
    content_type: str,
    method: str,
    query: dict[str, str],
    extra: list[tuple[str, str]],
) -> None:
    recorder = Recorder()
    app = make_app(recorder)
    headers = list(extra)
    if content_type.isascii() and content_type.isprintable():
        headers.append(("content-type", content_type))
    with TestClient(app) as test_client:
        response = test_client.request(
            method, "/signup", content=body, headers=headers, params=query
        )
    assert response.status_code < 500
    assert not recorder.read_minor(18)
    if response.status_code >= 400:
        assert recorder.requests == []
        assert response.headers["cache-control"] == "no-store"


@settings(max_examples=300, deadline=None)
@given(
    content_type=st.text(
        alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=60
    ),
    encoding=st.none()
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=9),
    body=st.binary(max_size=40),
)
def test_any_header_value_is_classified_or_refused(
    content_type: str, encoding: str | None, body: bytes
) -> None:
    headers = [(b"content-type", content_type.encode("latin-1"))]
    if encoding is not None:
        headers.append((b"content-encoding", encoding.encode("latin-1")))
    try:
        outcome: object = classify(headers, body)
    except Refused as refused:
        outcome = refused.status
    assert outcome in ("json", "form", "multipart", "empty", 400, 415)
