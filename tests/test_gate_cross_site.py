"""Another site makes a visitor's browser send the update: no flag, no cookie.

A page on another site can send a GET (a link, an image) or auto-submit a
form POST to the gate, and the browser adds the visitor's own session
cookie. The gate still refuses what shows a minor, but files no removal
flag and sets no block cookie for such a request, whatever its method; a
GET is never grounds for a flag or a cookie, since any page can send one
with its `Referer` withheld. Through a real Starlette app whose holders sign
in with a session cookie, over uvicorn, with a real SQLite flag store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from gate_support import ADULT, SECRET, uvicorn_server, years_ago
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agegate import AgeGateMiddleware, load_rules
from agegate.asgi.sites import cross_site, may_act
from agegate.flags import SqliteFlagStore

MINOR = years_ago(12)
GB_MINOR = {"birthdate": MINOR, "country": "GB"}
SESSION = {"session": "alice-session"}


class SessionCookie(AuthenticationBackend):
    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.cookies.get("session") != SESSION["session"]:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser("alice")


def make_app(reached: list[str], store: SqliteFlagStore) -> Starlette:
    async def handle(request: Request) -> Response:
        reached.append(request.method + " " + request.url.path)
        return JSONResponse({"ok": True})

    methods = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/accounts/{account_id}", handle, methods=methods),
            Route("/signup", handle, methods=methods),
        ]
    )
    app.add_middleware(
        AgeGateMiddleware,
        paths=["/signup"],
        profile_paths=["/accounts/{account_id}"],
        flag_sink=store,
        secret=SECRET,
        rules=load_rules(),
    )
    app.add_middleware(AuthenticationMiddleware, backend=SessionCookie())
    return app


class Site:
    def __init__(self, url: str, store: SqliteFlagStore, reached: list[str]):
        self.url = url
        self.store = store
        self.reached = reached
        self.host = url.removeprefix("http://")

    def send(self, method: str, path: str, **request: Any) -> httpx2.Response:
        # A fresh client each time: no block cookie carries over.
        with httpx2.Client(cookies=SESSION) as client:
            return client.request(method, self.url + path, **request)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    reached: list[str] = []
    with (
        SqliteFlagStore(tmp_path / "flags.db") as store,
        uvicorn_server(make_app(reached, store)) as url,
    ):
        yield Site(url, store, reached)


# Headers another site's page makes the browser send (or, for old browsers
# and a withheld Referer, none at all on a GET).
CROSS_SITE = [
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
    {"sec-fetch-site": "cross-site", "referer": "https://evil.example/"},
    {"origin": "https://evil.example"},
    {"origin": "null"},
    {"referer": "https://evil.example/page"},
    {"referer": "http://[::1"},
    {"origin": "http://[::1"},
    {"origin": "http://127.0.0.1.evil.example"},
    {"sec-fetch-site": "SOMETHING"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS"])
def test_cross_site_query_update_files_no_flag(
    site: Site, method: str, headers: dict[str, str]
) -> None:
    response = site.send(method, "/accounts/alice", params=GB_MINOR, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert site.store.count() == 0
    assert site.reached == []


@pytest.mark.parametrize("headers", CROSS_SITE)
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_cross_site_form_post_files_no_flag(
    site: Site, method: str, headers: dict[str, str]
) -> None:
    response = site.send(method, "/accounts/alice", data=GB_MINOR, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert site.store.count() == 0


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_query_of_a_safe_method_is_never_grounds_for_a_flag(
    site: Site, method: str
) -> None:
    """Even with every header saying same-origin: a GET proves nothing."""
    same = {"sec-fetch-site": "same-origin", "referer": site.url + "/me"}
    response = site.send(method, "/accounts/alice", params=GB_MINOR, headers=same)
    assert response.status_code == 403
    assert site.store.count() == 0
    # An adult's date in the query passes to the app as before.
    response = site.send(
        method, "/accounts/alice", params={**GB_MINOR, "birthdate": ADULT}
    )
    assert response.status_code == 200
    assert site.reached == [method + " /accounts/alice"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {"origin": "http://{host}"},
        {"origin": "https://{host}", "referer": "https://{host}/profile"},
        {"referer": "http://{host}/profile?tab=me"},
    ],
)
def test_same_origin_update_files_the_flag(site: Site, headers: dict[str, str]) -> None:
    filled = {k: v.format(host=site.host) for k, v in headers.items()}
    response = site.send("PATCH", "/accounts/alice", data=GB_MINOR, headers=filled)
    assert response.status_code == 403
    assert [s.flag.account_id for s in site.store.list()] == ["alice"]


@pytest.mark.parametrize(
    "headers",
    [
        # Two of a header the browser sends once: no telling which counts.
        [("origin", "http://{host}"), ("origin", "http://{host}")],
        [("referer", "http://{host}/"), ("referer", "https://evil.example/")],
        [("sec-fetch-site", "same-origin"), ("sec-fetch-site", "same-origin")],
        # A same-origin Origin with a foreign Referer, and the other way round.
        [("origin", "http://{host}"), ("referer", "https://evil.example/")],
        [("origin", "https://evil.example"), ("referer", "http://{host}/")],
    ],
)
def test_headers_that_cannot_tell_file_no_flag(
    site: Site, headers: list[tuple[str, str]]
) -> None:
    filled = [(k, v.format(host=site.host)) for k, v in headers]
    response = site.send("POST", "/accounts/alice", data=GB_MINOR, headers=filled)
    assert response.status_code == 403
    assert site.store.count() == 0


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_signup_sets_no_cookie(site: Site, headers: dict[str, str]) -> None:
    for method, request in [
        ("GET", {"params": GB_MINOR}),
        ("POST", {"data": GB_MINOR}),
        ("POST", {"json": GB_MINOR}),
    ]:
        response = site.send(method, "/signup", headers=headers, **request)
        assert response.status_code == 403
        assert "set-cookie" not in response.headers


def test_signup_cookie_needs_a_same_origin_post(site: Site) -> None:
    # A GET signup showing a minor is refused without planting the cookie.
    response = site.send("GET", "/signup", params=GB_MINOR)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    same = {"origin": site.url, "sec-fetch-site": "same-origin"}
    response = site.send("POST", "/signup", data=GB_MINOR, headers=same)
    assert response.status_code == 403
    assert "set-cookie" in response.headers


# -- the judgement itself, on header values that cannot be parsed ----------------


@pytest.mark.parametrize(
    "value",
    [
        "http://[::1",
        "http://[x",
        "http://a:b",
        "http://%zz",
        "\x00",
        "http://[::1]:99999",
    ],
)
def test_unparseable_headers_count_as_another_site(value: str) -> None:
    for name in (b"origin", b"referer", b"host"):
        headers = [(b"host", b"example.com"), (name, value.encode("latin-1"))]
        if name == b"host":
            headers = [(b"host", value.encode("latin-1")), (b"origin", b"http://x")]
        assert cross_site(headers)
        assert not may_act("POST", headers)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"host", b"origin", b"referer", b"sec-fetch-site"]),
            st.binary(max_size=40)
            | st.sampled_from(
                [b"http://[", b"http://[::1", b"https://a:99999", b"null"]
            ),
        ),
        max_size=4,
    ),
    st.sampled_from(["GET", "POST", "patch", ""]),
)
def test_the_judgement_never_raises(
    headers: list[tuple[bytes, bytes]], method: str
) -> None:
    acts = may_act(method, headers)
    assert isinstance(acts, bool)
    if acts:
        assert not cross_site(headers)
