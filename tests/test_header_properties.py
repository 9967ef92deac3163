"""No client header makes the gate, the report intake or the demo answer 5xx.

Every header the gate or a shipped app reads (Referer, Origin, Host,
Forwarded and X-Forwarded-*, Accept, Accept-Language, Cookie, Sec-Fetch-Site,
Authorization, a trusted country header) is driven with random bytes: in
bulk straight through the ASGI interface, where any byte string at all may
arrive (other servers are laxer than uvicorn's), and for a sample over a
real uvicorn with each of its HTTP parsers, h11 and httptools, where the
server's own reading (its proxy-header handling included) comes first.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from gate_support import ADULT, AGE_17, SECRET, Recorder, make_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

from agegate.apps.demo import create_app
from agegate.apps.report import RateLimit, report_app
from agegate.apps.serve import serve
from agegate.asgi import Notice
from agegate.flags import SqliteFlagStore
from agegate.origins import origin_of

PARSERS = ("h11", "httptools")
# Pieces the parsers branch on, so that random values reach past the first
# check of each: URL delimiters, IPv6 brackets, q-values, cookie names.
FRAGMENTS = (
    b"http://",
    b"https://",
    b"//",
    b"[",
    b"]",
    b"::1",
    b"[::1",
    b"127.0.0.1",
    b":",
    b":99999",
    b":-1",
    b"@",
    b"/",
    b"\\",
    b"?",
    b"#",
    b"%",
    b"%zz",
    b";",
    b",",
    b"=",
    b" ",
    b"\t",
    b'"',
    b"q=",
    b"q=nan",
    b"q=1e999",
    b"0.5",
    b"text/html",
    b"application/json",
    b"*/*",
    b"fr",
    b"en-GB",
    b"agegate_block=",
    b"agegate_report_form=",
    b"1.9999999999.",
    b"Bearer ",
    b"same-origin",
    b"cross-site",
    b"for=",
    b"proto=https",
    b"GB",
    b"example.org",
    "\N{FULLWIDTH SOLIDUS}".encode(),
    "\N{FULLWIDTH COLON}".encode(),
    "\N{ZERO WIDTH SPACE}".encode(),
    "é".encode("latin-1"),
    b"\xff\xfe",
    b"\x00",
    b"\x7f",
)
VALUES = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from(FRAGMENTS), max_size=8).map(b"".join),
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=4)), max_size=8
    ).map(b"".join),
)
# Hosts, URLs and media ranges near the real ones, where a parser's later
# steps run; each header also takes any value at all.
ODD_HOSTS = [b"[::1", b"[x", b"a]b", b"h:p", b"a:b:c", b":99999", b"[", b"", b"[::1]x"]
HOSTS = st.one_of(
    st.sampled_from([b"127.0.0.1", b"[::1]:8000", b"example.org"]),
    st.sampled_from(ODD_HOSTS),
    st.builds(bytes.__add__, st.sampled_from(ODD_HOSTS), VALUES),
    VALUES,
)
URLS = st.one_of(
    st.builds(
        bytes.__add__,
        st.sampled_from([b"http://", b"https://", b"//", b"", b"ftp://"]),
        st.builds(bytes.__add__, HOSTS, st.sampled_from([b"", b"/", b"/signup?x#y"])),
    ),
    VALUES,
)
MEDIA = st.one_of(
    st.sampled_from(
        [b"text/html", b"application/json", b"*/*", b"text/html;q=0.9, */*;q=x"]
    ),
    VALUES,
)
BY_NAME = {
    b"referer": URLS,
    b"origin": URLS,
    b"host": HOSTS,
    b"forwarded": VALUES,
    b"x-forwarded-for": HOSTS,
    b"x-forwarded-proto": st.one_of(st.sampled_from([b"https", b"http"]), VALUES),
    b"x-forwarded-host": HOSTS,
    b"x-real-ip": HOSTS,
    b"accept": MEDIA,
    b"accept-language": VALUES,
    b"cookie": VALUES,
    b"sec-fetch-site": st.one_of(
        st.sampled_from([b"same-origin", b"none", b"cross-site"]), VALUES
    ),
    b"authorization": VALUES,
    b"x-country": st.one_of(st.sampled_from([b"GB", b"FR-75"]), VALUES),
}
HEADER_NAMES = tuple(BY_NAME)
# What a browser and a script send: most requests start from one of these,
# so that a value changed in one header meets the others as they would be.
BROWSER = {
    b"host": b"127.0.0.1",
    b"accept": b"text/html,application/xhtml+xml,*/*;q=0.8",
    b"accept-language": b"fr-FR,fr;q=0.9,en;q=0.5",
    b"referer": b"http://127.0.0.1/signup",
    b"origin": b"http://127.0.0.1",
    b"sec-fetch-site": b"same-origin",
    b"cookie": b"agegate_block=1.2.x; agegate_report_form=abc; theme=dark",
}
SCRIPT = {b"host": b"127.0.0.1", b"accept": b"application/json"}


@st.composite
def _headers(draw: st.DrawFn, clean: bool = False) -> list[tuple[bytes, bytes]]:
    """A browser's, a script's or no headers, with one to four of them
    replaced, dropped or given twice, in a random order; `clean`: without
    the line breaks a wire cannot carry."""
    base = dict(draw(st.sampled_from([BROWSER, BROWSER, SCRIPT, {}])))
    found = [(name, [value]) for name, value in base.items()]
    found += [(name, []) for name in HEADER_NAMES if name not in base]
    for index in draw(
        st.lists(st.integers(0, len(found) - 1), min_size=1, max_size=4, unique=True)
    ):
        name, values = found[index]
        action = draw(st.sampled_from(["replace", "replace", "drop", "twice"]))
        if action == "drop":
            values = []
        elif action == "twice" or not values:
            values = [*values, draw(BY_NAME[name])]
        else:
            values = [draw(BY_NAME[name])]
        found[index] = (name, values)
    pairs = [(name, value) for name, values in found for value in values]
    if clean:
        pairs = [(n, v.replace(b"\r", b"").replace(b"\n", b"")) for n, v in pairs]
    return draw(st.permutations(pairs))


HEADERS = _headers()
FORM = b"application/x-www-form-urlencoded"
JSON = b"application/json"


def _json(**fields: str) -> bytes:
    return json.dumps(fields).encode()


# (method, path, content type, body): the paths through each app where a
# header is read (a refusal page's back link, a block and its cookie, the
# intake's cross-site check and token, the demo's bearer token).
GATE_REQUESTS = (
    ("POST", "/signup", FORM, b"country=FR"),
    ("POST", "/signup", JSON, _json(country="FR")),
    ("POST", "/signup", FORM, f"birthdate={AGE_17}&country=FR".encode()),
    ("POST", "/signup", JSON, _json(birthdate=ADULT, country="FR")),
    ("POST", "/signup", b"text/plain", b"x"),
    ("PATCH", "/accounts/alice", JSON, _json(birthdate=AGE_17, country="FR")),
    ("GET", "/signup", b"", b""),
)
INTAKE_REQUESTS = (
    ("GET", "/report/", b"", b""),
    ("POST", "/report/", FORM, b"account_id=acct-1&form_token=1.2"),
    ("POST", "/report/", JSON, _json(account_id="acct-1")),
    ("POST", "/report/", JSON, _json(email="a@example.org")),
    ("POST", "/report/", JSON, b"{}"),
)
DEMO_REQUESTS = (
    ("GET", "/", b"", b""),
    ("GET", "/who-can-use", b"", b""),
    ("POST", "/signup", FORM, f"email=a%40b.org&birthdate={ADULT}&country=FR".encode()),
    ("POST", "/signup", FORM, b"email=a%40b.org"),
    ("POST", "/api/signup", JSON, _json(email="a@b.org", birthdate=AGE_17)),
    ("PATCH", "/accounts/acct-1", JSON, _json(birthdate=AGE_17, country="FR")),
    ("GET", "/accounts/acct-1", b"", b""),
    ("GET", "/admin/flags", b"", b""),
    ("GET", "/report-a-minor", b"", b""),
    ("GET", "/report-a-minor/", b"", b""),
    ("POST", "/report-a-minor/", JSON, _json(account_id="acct-1")),
)
REQUESTS = {"gate": GATE_REQUESTS, "intake": INTAKE_REQUESTS, "demo": DEMO_REQUESTS}


def _gate(store: SqliteFlagStore) -> Starlette:
    return make_app(
        Recorder(),
        profile_paths=["/accounts/{account_id}"],
        flag_sink=store,
        account_of=lambda scope: "alice",
        trusted_country_header="x-country",
        notice=Notice(service_name="Example", contact_url="/report-a-minor/"),
        form_url="/signup",
    )


def _intake(store: SqliteFlagStore) -> Starlette:
    intake = report_app(
        store=store,
        secret=SECRET,
        rate_limit=RateLimit(1000, 60),
        trusted_origins=["https://reports.example.org"],
    )
    return Starlette(routes=[Mount("/report", app=intake)])


def _apps(directory: Path, store: SqliteFlagStore) -> dict[str, Starlette]:
    # A demo per server: its shutdown closes its databases.
    return {
        "gate": _gate(store),
        "intake": _intake(store),
        "demo": create_app(directory / "demo", secret=SECRET),
    }


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Starlette]]:
    directory = tmp_path_factory.mktemp("headers")
    with SqliteFlagStore(directory / "flags.db") as store:
        yield _apps(directory, store)


async def _asgi(
    app: Starlette,
    request: tuple[str, str, bytes, bytes],
    headers: list[tuple[bytes, bytes]],
) -> int:
    """One request straight through the ASGI interface; the response status.
    An exception the app lets out fails the test as it is."""
    method, path, media, body = request
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client stays; the app must not wait
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    framing = [(b"content-length", str(len(body)).encode())]
    if media:
        framing.append((b"content-type", media))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [*headers, *framing],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    status: int = starts[0]["status"]
    return status


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_no_header_bytes_make_an_app_answer_5xx(
    apps: dict[str, Starlette], name: str
) -> None:
    app = apps[name]

    @settings(
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(request=st.sampled_from(REQUESTS[name]), headers=HEADERS)
    def check(request: tuple[str, str, bytes, bytes], headers: Any) -> None:
        status = asyncio.run(_asgi(app, request, headers))
        assert status < 500, (request[:2], headers)

    check()


# -- over a real uvicorn, h11 and httptools ------------------------------------


@pytest.fixture(scope="module", params=PARSERS)
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp(request.param)
    http = {"http": request.param, "access_log": False}
    with SqliteFlagStore(directory / "flags.db") as store:
        apps = _apps(directory, store)
        with (
            serve(apps["gate"], **http) as gate,
            serve(apps["intake"], **http) as intake,
            serve(apps["demo"], **http) as demo,
        ):
            yield {"gate": gate, "intake": intake, "demo": demo}


def _wire(
    base: str,
    request: tuple[str, str, bytes, bytes],
    headers: list[tuple[bytes, bytes]],
) -> int | None:
    """One request on its own connection, written byte for byte; the status
    line's code, or None when the server refused the bytes without one."""
    method, path, media, body = request
    lines = [f"{method} {path} HTTP/1.1".encode()]
    if not any(name == b"host" for name, _ in headers):
        lines.append(b"host: 127.0.0.1")
    lines += [name + b": " + value for name, value in headers]
    if media:
        lines.append(b"content-type: " + media)
    lines += [b"content-length: " + str(len(body)).encode(), b"connection: close"]
    address = urlsplit(base)
    assert address.hostname is not None
    with socket.create_connection((address.hostname, address.port), timeout=30) as s:
        s.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


WIRE_HEADERS = _headers(clean=True)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_no_header_bytes_make_a_served_app_answer_5xx(
    servers: dict[str, str], name: str
) -> None:
    base = servers[name]
    answered: list[int] = []

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(request=st.sampled_from(REQUESTS[name]), headers=WIRE_HEADERS)
    def check(request: tuple[str, str, bytes, bytes], headers: Any) -> None:
        status = _wire(base, request, headers)
        assert status is None or status < 500, (request[:2], headers)
        if status is not None:
            answered.append(status)

    check()
    # Most values are taken by both parsers: the sample reached the apps.
    assert len(answered) > 30
    assert any(status < 400 for status in answered)


# -- the reproductions, and their neighbours ----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[::1/signup",
        "https://[x]/",
        "http://a]b/",
        "http://[::1]:99999/",
        "http://host:port/",
        "http://ex\N{FULLWIDTH SOLIDUS}ample.org/",
        "http://a\N{FULLWIDTH COLON}b@c/",
        "",
        "[",
    ],
)
def test_origin_of_answers_none_for_what_it_cannot_read(url: str) -> None:
    assert origin_of(url) is None


def test_origin_of_still_reads_origins() -> None:
    assert origin_of("https://Example.org") == ("https", "example.org", 443)
    assert origin_of(" http://[::1]:8000/x ") == ("http", "::1", 8000)


@pytest.mark.parametrize("http", PARSERS)
@pytest.mark.parametrize(
    "referer", ["http://[::1", "http://[::1]x", "http://\xff[", "//[", "[::1]"]
)
def test_a_refusal_page_with_an_unreadable_referer_links_the_form(
    apps: dict[str, Starlette], http: str, referer: str
) -> None:
    with serve(apps["gate"], http=http, access_log=False) as base:
        response = httpx.post(
            base + "/signup",
            data={"country": "FR"},
            headers={"Accept": "text/html", "Referer": referer.encode("latin-1")},
        )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/signup"' in response.text


@pytest.mark.parametrize("http", PARSERS)
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://[::1"},
        {"Origin": "http://[::1]:99999"},
        {"Origin": "https://\N{FULLWIDTH SOLIDUS}x"},
        {"Host": "[x", "Origin": "http://127.0.0.1"},
        {"Host": "[::1", "Origin": "http://[::1"},
        {"Host": "a:b:c", "Origin": "http://a"},
    ],
)
def test_the_intake_refuses_an_unreadable_origin_or_host_as_cross_site(
    apps: dict[str, Starlette], http: str, headers: dict[str, str]
) -> None:
    with serve(apps["intake"], http=http, access_log=False) as base:
        response = httpx.post(
            base + "/report/",
            json={"account_id": "acct-1"},
            headers={k: v.encode() for k, v in headers.items()},
        )
    assert response.status_code == 403
    assert response.json()["code"] == "CROSS_SITE_REFUSED"


@pytest.mark.parametrize("http", PARSERS)
def test_odd_forwarded_addresses_reach_the_rate_limit_not_a_500(
    tmp_path: Path, http: str
) -> None:
    # uvicorn takes X-Forwarded-For from a loopback proxy by default, so the
    # intake counts under whatever address it names.
    forwarded = [
        "[x",
        "::1%eth0",
        "unknown",
        "a" * 200,
        "1.2.3.4, [::1",
        "[::ffff:1.2.3.4]",
        "::ffff:1.2.3.4",
        ",",
    ]
    with (
        SqliteFlagStore(tmp_path / "flags.db") as store,
        serve(_intake(store), http=http, access_log=False) as base,
    ):
        for value in forwarded:
            response = httpx.post(
                base + "/report/",
                json={"account_id": "acct-1"},
                headers={"X-Forwarded-For": value, "Forwarded": f"for={value}"},
            )
            assert response.status_code == 202, value
