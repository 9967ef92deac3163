"""Attacks on the minor-report intake, through a real app: bodies that used
to crash it, addresses that dodged its rate limit, and cross-site posts."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from agegate.apps.form_tokens import FORM_COOKIE, FormTokens, new_binding
from agegate.apps.report import (
    RateLimit,
    client_key,
    form_token,
    identifier_hash,
    normalise_email,
    report_app,
)
from agegate.apps.serve import serve
from agegate.flags import SqliteFlagStore

SECRET = "intake-security-secret-0123456789"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteFlagStore]:
    with SqliteFlagStore(tmp_path / "flags.db") as flags:
        yield flags


def _app(store: SqliteFlagStore, **options: Any) -> Starlette:
    intake = report_app(
        store=store, secret=SECRET, rate_limit=RateLimit(5, 3600), **options
    )
    return Starlette(routes=[Mount("/report", app=intake)])


@pytest.fixture
def base(store: SqliteFlagStore) -> Iterator[str]:
    with serve(_app(store)) as url:
        yield url


def _is_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert response.json()["code"] == code


# -- bodies that used to answer 500 ------------------------------------------


def test_deeply_nested_json_is_400_not_500(base: str, store: SqliteFlagStore) -> None:
    response = httpx.post(
        base + "/report/",
        content=b"[" * 5000,
        headers={"Content-Type": "application/json"},
    )
    _is_problem(response, 400, "BODY_MALFORMED")
    nested = b'{"a": ' * 3000 + b"1" + b"}" * 3000
    response = httpx.post(
        base + "/report/", content=nested, headers={"Content-Type": "application/json"}
    )
    _is_problem(response, 413, "BODY_TOO_LARGE")
    assert store.count() == 0


async def _call(app: Starlette, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """One POST straight through the ASGI interface: uvicorn's h11 refuses a
    malformed Content-Length itself, other servers hand it to the app."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/report/",
        "raw_path": b"/report/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "length",
    ["²".encode("latin-1"), "²".encode(), "١٢".encode(), b"9" * 5000, b"-1", b" "],
)
async def test_a_content_length_of_other_digits_is_400(
    store: SqliteFlagStore, length: bytes
) -> None:
    answer = await _call(
        _app(store),
        [(b"content-type", b"application/json"), (b"content-length", length)],
    )
    assert answer["status"] == 400
    assert answer["headers"][b"content-type"] == b"application/problem+json"
    assert json.loads(answer["body"])["status"] == 400
    assert json.loads(answer["body"])["code"] == "HEADER_AMBIGUOUS"
    assert store.count() == 0


# -- the rate limit counts an IPv6 client on its /64 --------------------------


def test_twenty_addresses_of_one_ipv6_64_share_one_limit(
    base: str, store: SqliteFlagStore
) -> None:
    # uvicorn takes the client address from X-Forwarded-For sent by a trusted
    # proxy (127.0.0.1 by default), as a deployment behind a proxy does.
    statuses = [
        httpx.post(
            base + "/report/",
            json={"account_id": f"acct-{n}"},
            headers={"X-Forwarded-For": f"2001:db8:1:2::{n + 1:x}"},
        ).status_code
        for n in range(20)
    ]
    assert statuses.count(202) == 5
    assert statuses.count(429) == 15
    assert store.count() == 5
    # Another /64 has an allowance of its own; so has each IPv4 address.
    other = httpx.post(
        base + "/report/",
        json={"account_id": "acct-x"},
        headers={"X-Forwarded-For": "2001:db8:1:3::1"},
    )
    assert other.status_code == 202
    for n in range(2):
        response = httpx.post(
            base + "/report/",
            json={"account_id": f"acct-v4-{n}"},
            headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
        )
        assert response.status_code == 202


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_client_key(host: str, key: str) -> None:
    assert client_key(host) == key


# -- cross-site posts ---------------------------------------------------------

CROSS_SITE: list[dict[str, str]] = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://attacker.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "https://attacker.example"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_json_files_no_report(
    base: str, store: SqliteFlagStore, headers: dict[str, str]
) -> None:
    response = httpx.post(
        base + "/report/", json={"account_id": "victim"}, headers=headers
    )
    _is_problem(response, 403, "CROSS_SITE_REFUSED")
    assert store.count() == 0


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_form_files_no_report_even_with_a_token(
    base: str, store: SqliteFlagStore, headers: dict[str, str]
) -> None:
    # An attacker can fetch a fresh token from the form page themselves.
    token = httpx.get(base + "/report/", headers={"Accept": "application/json"})
    data = {"account_id": "victim", "form_token": token.json()["form_token"]}
    response = httpx.post(base + "/report/", data=data, headers=headers)
    _is_problem(response, 403, "CROSS_SITE_REFUSED")
    assert store.count() == 0


def test_same_origin_and_non_browser_json_reports_are_taken(
    base: str, store: SqliteFlagStore
) -> None:
    same = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
    assert httpx.post(base + "/report/", json={"account_id": "a1"}, headers=same)
    for headers in (same, {"Sec-Fetch-Site": "none"}, {}):
        response = httpx.post(
            base + "/report/", json={"account_id": "a1"}, headers=headers
        )
        assert response.status_code == 202
    assert store.count() == 1


def _token_in(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def _form(client: httpx.Client, base: str) -> str:
    """The token of the form page, as a browser fetches it (its cookie goes
    into the client's jar)."""
    page = client.get(base + "/report/")
    assert page.status_code == 200
    return _token_in(page.text)


def _json_token(client: httpx.Client, base: str) -> str:
    answer = client.get(base + "/report/", headers={"Accept": "application/json"})
    assert answer.status_code == 200
    token: str = answer.json()["form_token"]
    return token


def test_the_html_form_carries_a_token_and_a_post_with_it_is_taken(
    base: str, store: SqliteFlagStore
) -> None:
    same = {"Origin": base, "Sec-Fetch-Site": "same-origin", "Accept": "text/html"}
    with httpx.Client() as browser:
        token = _form(browser, base)
        response = browser.post(
            base + "/report/",
            data={"account_id": "acct-1", "form_token": token},
            headers=same,
        )
        assert response.status_code == 202
        assert 'id="received"' in response.text
        multipart = {
            "account_id": (None, "acct-2"),
            "form_token": (None, _json_token(browser, base)),
        }
        assert browser.post(base + "/report/", files=multipart).status_code == 202
    assert store.count() == 2


def test_the_form_cookie_is_strict_and_http_only(base: str) -> None:
    page = httpx.get(base + "/report/")
    cookie = page.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == FORM_COOKIE
    attributes = {part.strip() for part in rest.split(";")[1:]}
    assert attributes == {
        "Path=/report/",
        "Max-Age=7200",
        "HttpOnly",
        "SameSite=Strict",
    }


@pytest.mark.parametrize(
    "forge",
    [
        lambda binding: None,
        lambda binding: "",
        lambda binding: "garbage",
        # The earlier form of token (a time and a MAC of it alone).
        lambda binding: f"{int(time.time())}.{'0' * 64}",
        lambda binding: form_token("another-operators-secret-0123", binding),
        lambda binding: form_token(SECRET, binding, time.time() - 3 * 3600),
        lambda binding: form_token(SECRET, binding, time.time() + 3600),
        # A token of ours, bound to another browser's cookie.
        lambda binding: form_token(SECRET, new_binding()),
        lambda binding: "²." + "0" * 64,
        lambda binding: "9" * 5000 + ".00",
    ],
)
def test_a_form_post_without_a_valid_token_is_refused(
    base: str, store: SqliteFlagStore, forge: Callable[[str], str | None]
) -> None:
    with httpx.Client() as browser:
        _form(browser, base)
        binding = browser.cookies[FORM_COOKIE]
        data = {"account_id": "victim"}
        token = forge(binding)
        if token is not None:
            data["form_token"] = token
        response = browser.post(base + "/report/", data=data)
        _is_problem(response, 403, "FORM_TOKEN_INVALID")
        files = {k: (None, v) for k, v in data.items()}
        response = browser.post(base + "/report/", files=files)
        _is_problem(response, 403, "FORM_TOKEN_INVALID")
    assert store.count() == 0


def test_a_token_is_refused_from_clients_without_its_cookie(
    base: str, store: SqliteFlagStore
) -> None:
    with httpx.Client() as first:
        tokens = [_form(first, base), _json_token(first, base)]
        # Six other clients, sending neither Origin nor Sec-Fetch-Site (as
        # older browsers and some privacy tools do): with no cookie, a cookie
        # of their own, or a cookie value they made up.
        for number in range(6):
            with httpx.Client() as other:
                if number % 3 == 1:
                    _form(other, base)
                elif number % 3 == 2:
                    other.cookies.set(FORM_COOKIE, new_binding())
                for token in tokens:
                    data = {"account_id": f"victim-{number}", "form_token": token}
                    response = other.post(base + "/report/", data=data)
                    _is_problem(response, 403, "FORM_TOKEN_INVALID")
        assert store.count() == 0
        # The attempts spent nothing: the client that holds the cookie may
        # still use both of its tokens.
        for number, token in enumerate(tokens):
            data = {"account_id": f"acct-{number}", "form_token": token}
            assert first.post(base + "/report/", data=data).status_code == 202
    assert store.count() == 2


def test_a_token_is_taken_once(base: str, store: SqliteFlagStore) -> None:
    with httpx.Client() as browser:
        token = _form(browser, base)
        data = {"account_id": "acct-1", "form_token": token}
        assert browser.post(base + "/report/", data=data).status_code == 202
        for again in ({"account_id": "acct-2"}, {"phone": "+44 20 7946 0000"}):
            response = browser.post(
                base + "/report/", data={**again, "form_token": token}
            )
            _is_problem(response, 403, "FORM_TOKEN_INVALID")
            files = {k: (None, v) for k, v in {**again, "form_token": token}.items()}
            response = browser.post(base + "/report/", files=files)
            _is_problem(response, 403, "FORM_TOKEN_INVALID")
    assert store.count() == 1


def test_a_form_shown_again_carries_a_new_token_that_is_taken(
    base: str, store: SqliteFlagStore
) -> None:
    html = {"Accept": "text/html"}
    with httpx.Client() as browser:
        token = _form(browser, base)
        data = {"email": "not-an-address", "form_token": token}
        again = browser.post(base + "/report/", data=data, headers=html)
        assert again.status_code == 422
        fresh = _token_in(again.text)
        assert fresh != token
        # The token of the first page is spent; the page shown again works.
        data = {"email": "someone@example.org", "form_token": token}
        assert browser.post(base + "/report/", data=data).status_code == 403
        data["form_token"] = fresh
        assert (
            browser.post(base + "/report/", data=data, headers=html).status_code == 202
        )
    assert store.count() == 1


def test_a_token_sent_twice_at_once_is_taken_once(
    base: str, store: SqliteFlagStore
) -> None:
    with httpx.Client() as browser:
        token = _form(browser, base)
        cookie = {"Cookie": f"{FORM_COOKIE}={browser.cookies[FORM_COOKIE]}"}

    def post(number: int) -> int:
        data = {"account_id": f"acct-{number}", "form_token": token}
        return httpx.post(base + "/report/", data=data, headers=cookie).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(post, range(8)))
    assert statuses == [202] + [403] * 7
    assert store.count() == 1


@pytest.mark.parametrize(
    "cookie",
    ["<script>", "short", "a" * 65, "ok_value_but;", "x" * 30 + "\\"],
)
def test_a_cookie_value_we_did_not_issue_is_replaced(base: str, cookie: str) -> None:
    page = httpx.get(base + "/report/", headers={"Cookie": f"{FORM_COOKIE}={cookie}"})
    issued = page.headers["set-cookie"].split(";")[0].partition("=")[2]
    assert issued != cookie
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", issued)


def test_a_browser_holding_two_form_cookies_is_served(base: str) -> None:
    # One cookie per path the intake was reached under.
    with httpx.Client() as browser:
        token = _form(browser, base)
        binding = browser.cookies[FORM_COOKIE]
    header = f"{FORM_COOKIE}={new_binding()}; theme=dark; {FORM_COOKIE}={binding}"
    data = {"account_id": "acct-1", "form_token": token}
    response = httpx.post(base + "/report/", data=data, headers={"Cookie": header})
    assert response.status_code == 202


def test_an_expired_form_is_shown_again_with_a_fresh_token(base: str) -> None:
    with httpx.Client() as browser:
        _form(browser, base)
        stale = form_token(SECRET, browser.cookies[FORM_COOKIE], time.time() - 3 * 3600)
        response = browser.post(
            base + "/report/",
            data={"account_id": "acct-1", "form_token": stale},
            headers={"Accept": "text/html"},
        )
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert "expired" in response.text
        fresh = _token_in(response.text)
        assert fresh != stale
        data = {"account_id": "acct-1", "form_token": fresh}
        assert browser.post(base + "/report/", data=data).status_code == 202


def test_tokens_taken_are_remembered_up_to_a_bound() -> None:
    tokens = FormTokens(SECRET, ttl=7200, capacity=2)
    binding = new_binding()
    now = time.time()
    issued = [tokens.issue(binding, now) for _ in range(3)]
    assert all(tokens.take(token, [binding], now) for token in issued)
    assert not tokens.take(issued[2], [binding], now)
    # The oldest was forgotten to keep the bound: taking it again costs as
    # many other tokens as the bound, more than fetching a new form.
    assert tokens.take(issued[0], [binding], now)
    # A token past its lifetime is refused, remembered or not.
    assert not tokens.take(issued[1], [binding], now + 7200 + 61)


def test_trusted_origins_are_taken_as_the_intakes_own(
    store: SqliteFlagStore,
) -> None:
    app = _app(store, trusted_origins=["https://reports.example.org"])
    with serve(app) as url:
        response = httpx.post(
            url + "/report/",
            json={"account_id": "acct-1"},
            headers={"Origin": "https://reports.example.org"},
        )
        assert response.status_code == 202
        response = httpx.post(
            url + "/report/",
            json={"account_id": "acct-1"},
            headers={"Origin": "https://example.org"},
        )
        _is_problem(response, 403, "CROSS_SITE_REFUSED")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"trusted_origins": "https://example.org"}, TypeError),
        ({"trusted_origins": ["example.org"]}, ValueError),
        ({"form_token_ttl": 0}, ValueError),
    ],
)
def test_bad_options_are_refused(
    store: SqliteFlagStore, options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        _app(store, **options)


# -- one mailbox, one hash -----------------------------------------------------

# One address four ways: NFC, NFD, its domain as an A-label, and a zero-width
# space inside (as a copy from a web page or a chat may carry).
JOSE = "José@Bücher.example"
JOSE_SPELLINGS = [
    unicodedata.normalize("NFC", JOSE),
    unicodedata.normalize("NFD", JOSE),
    "josé@xn--bcher-kva.example",
    "Jo\N{ZERO WIDTH SPACE}sé@bücher.example",
]
# The normal form the README gives operators.
JOSE_NORMAL = "josé@xn--bcher-kva.example"


def _operator_hash(kind: str, normal: str) -> str:
    """The hash as an operator computes it from the documented normal form,
    without agegate."""
    digest = hmac.new(SECRET.encode(), f"{kind}:{normal}".encode(), hashlib.sha256)
    return f"{kind}-hmac:{digest.hexdigest()}"


def _reported_ids(store: SqliteFlagStore) -> set[str]:
    return {stored.flag.account_id for stored in store.list()}


def test_one_address_written_four_ways_files_one_hash(
    base: str, store: SqliteFlagStore
) -> None:
    assert len(set(JOSE_SPELLINGS)) == 4
    for spelling in JOSE_SPELLINGS:
        response = httpx.post(base + "/report/", json={"email": spelling})
        assert response.status_code == 202, response.text
    assert _reported_ids(store) == {_operator_hash("email", JOSE_NORMAL)}
    # The operator matches their own stored spelling, whichever it is.
    for stored in (JOSE, "JOSÉ@BÜCHER.EXAMPLE", *JOSE_SPELLINGS):
        assert identifier_hash("email", stored, SECRET) in _reported_ids(store)


@pytest.mark.parametrize(
    ("spellings", "normal"),
    [
        # An ASCII address hashes as before: trimmed, lower case.
        (["Alice@Example.ORG", " alice@example.org\t"], "alice@example.org"),
        # Width, the ideographic full stop, a soft hyphen and a word joiner.
        (
            [
                "bob@ｅｘａｍｐｌｅ.org",
                "bob@example。org",
                "b\N{SOFT HYPHEN}ob@example.org",
                "bob\N{WORD JOINER}@example.org\N{ZERO WIDTH NO-BREAK SPACE}",
            ],
            "bob@example.org",
        ),
        # IDNA 2008 keeps ß (no transitional mapping to "ss").
        (["x@straße.de", "x@XN--STRAE-OQA.DE"], "x@xn--strae-oqa.de"),
    ],
)
def test_neighbouring_spellings_share_one_hash(
    spellings: list[str], normal: str
) -> None:
    for spelling in spellings:
        assert normalise_email(spelling) == normal
        assert identifier_hash("email", spelling, SECRET) == _operator_hash(
            "email", normal
        )


@pytest.mark.parametrize(
    "address",
    [
        "a\x01b@example.org",
        "a b@example.org",
        "a@b..org",
        "a@xn--abc.org",  # not Punycode of anything IDNA allows
        "a@\N{ZERO WIDTH SPACE}.org",
        "a@⒈b.org",
        "a@example.org.",
        "ab@c@example.org",
    ],
)
def test_unusable_addresses_are_refused_by_name(
    base: str, store: SqliteFlagStore, address: str
) -> None:
    response = httpx.post(base + "/report/", json={"email": address})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "email", "reason": "EMAIL_MALFORMED"}
    ]
    assert address not in response.text
    assert store.count() == 0


def test_one_phone_number_written_four_ways_files_one_hash(
    base: str, store: SqliteFlagStore
) -> None:
    spellings = [
        "+44 20 7946 0000",
        "+44 (20) 7946-0000",
        "＋４４ ２０ ７９４６ ００００",
        "+44\N{ZERO WIDTH SPACE}20 7946 0000",
    ]
    for spelling in spellings:
        response = httpx.post(base + "/report/", json={"phone": spelling})
        assert response.status_code == 202, response.text
    assert _reported_ids(store) == {_operator_hash("phone", "+442079460000")}
