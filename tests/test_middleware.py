"""AgeGateMiddleware: every row of the README's table of gate answers, through Starlette's
test client and through a real uvicorn server, plus the block cookie, the
notices, profile-update flags, FastAPI and a plain ASGI app."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI, Request
from gate_support import (
    ADULT,
    AGE_17,
    AGE_18,
    AGE_19,
    SECRET,
    Recorder,
    bc,
    make_app,
    uvicorn_server,
    years_ago,
)
from starlette.testclient import TestClient

from agegate import AgeGateMiddleware, FieldMap, Outcome, Policy, load_rules
from agegate.asgi.cookie import BlockCookie
from agegate.flags import FlagCode, SqliteFlagStore

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def gated() -> tuple[Recorder, Any]:
    recorder = Recorder()
    return recorder, make_app(recorder)


@pytest.fixture(scope="module")
def server_url(gated: tuple[Recorder, Any]) -> Iterator[str]:
    with uvicorn_server(gated[1]) as url:
        yield url


@pytest.fixture(params=["testclient", "uvicorn"])
def client(
    request: pytest.FixtureRequest, gated: tuple[Recorder, Any]
) -> Iterator[httpx2.Client]:
    recorder, app = gated
    recorder.requests.clear()
    if request.param == "testclient":
        with TestClient(app) as test_client:
            yield test_client
    else:
        url = request.getfixturevalue("server_url")
        with httpx2.Client(base_url=url, timeout=10) as http:
            yield http


@pytest.fixture
def recorder(gated: tuple[Recorder, Any]) -> Recorder:
    return gated[0]


def assert_gate_answer(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:agegate:problem:")
    return body


def assert_no_echo(response: httpx2.Response, *values: str) -> None:
    for value in values:
        assert value not in response.text


# -- the HTTP table ------------------------------------------------------------


def test_allowed_reaches_the_app_with_the_decision(
    client: httpx2.Client, recorder: Recorder
) -> None:
    payload = json.dumps(bc(AGE_19, name="Ada")).encode()
    response = client.post(
        "/signup", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"created": True, "outcome": "ALLOW"}
    [seen] = recorder.requests
    assert seen["body"] == payload  # the exact bytes
    decision = seen["decision"]
    assert decision.outcome is Outcome.ALLOW
    assert decision.jurisdiction == "CA-BC"
    assert decision.required_age == 19


@pytest.mark.parametrize("birthdate", [AGE_17, AGE_18])
def test_underage_in_british_columbia_is_blocked(
    client: httpx2.Client, recorder: Recorder, birthdate: str
) -> None:
    response = client.post("/signup", json=bc(birthdate, phone="+1 604 555 0100"))
    body = assert_gate_answer(response, 403)
    assert body["type"] == "urn:agegate:problem:underage"
    assert "personal information" in body["detail"]
    # A neutral screen: no threshold, computed age or passing date.
    assert "19" not in response.text
    assert "17" not in response.text
    assert_no_echo(response, birthdate, "604", "CA-BC")
    assert recorder.requests == []
    cookie = response.headers["set-cookie"]
    assert "agegate_block=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age=86400" in cookie


def test_block_notice_as_html_for_browsers(client: httpx2.Client) -> None:
    response = client.post(
        "/signup",
        data=bc(AGE_17),
        headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert '<html lang="en">' in response.text
    assert "<h1>" in response.text
    assert "personal information" in response.text
    assert AGE_17 not in response.text


def test_block_notice_in_french(client: httpx2.Client) -> None:
    response = client.post(
        "/signup",
        json=bc(AGE_17),
        headers={"accept-language": "fr-CA,fr;q=0.9,en;q=0.5"},
    )
    body = assert_gate_answer(response, 403)
    assert response.headers["content-language"] == "fr"
    assert "renseignement personnel" in body["detail"]
    html_response = client.post(
        "/signup",
        json=bc(AGE_17),
        headers={"accept-language": "fr", "accept": "text/html"},
    )
    assert '<html lang="fr">' in html_response.text
    assert "Ce service" in html_response.text


@pytest.mark.parametrize(
    ("payload", "fields", "reason"),
    [
        ({"country": "CA", "subdivision": "BC"}, ["birthdate"], "BIRTHDATE_MISSING"),
        ({"birthdate": ADULT}, ["country"], "JURISDICTION_MISSING"),
        (bc("2010-13-45"), ["birthdate"], "BIRTHDATE_MALFORMED"),
        (bc("03/04/2008"), ["birthdate"], "BIRTHDATE_AMBIGUOUS"),
        ({"birthdate": ADULT, "country": "XQ"}, ["country"], "COUNTRY_UNKNOWN"),
    ],
)
def test_missing_or_invalid_is_422_naming_fields(
    client: httpx2.Client,
    recorder: Recorder,
    payload: dict[str, str],
    fields: list[str],
    reason: str,
) -> None:
    response = client.post("/signup", json=payload)
    body = assert_gate_answer(response, 422)
    assert body["fields"] == fields
    assert reason in body["reasons"]
    assert_no_echo(response, *(v for v in payload.values() if len(v) > 2))
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{"birthdate": ', "BODY_MALFORMED"),
        (b'["not", "an", "object"]', "BODY_NOT_OBJECT"),
        (
            f'{{"birthdate": "{ADULT}", "birthdate": "{AGE_17}", "country": "CA"}}',
            "KEY_REPEATED",
        ),
        (b"\xef\xbb\xbf{}", "BODY_ENCODING"),
    ],
)
def test_unparseable_or_ambiguous_is_400(
    client: httpx2.Client, recorder: Recorder, content: bytes | str, code: str
) -> None:
    raw = content.encode() if isinstance(content, str) else content
    response = client.post(
        "/signup", content=raw, headers={"content-type": "application/json"}
    )
    body = assert_gate_answer(response, 400)
    assert body["code"] == code
    assert_no_echo(response, ADULT, AGE_17)
    assert recorder.requests == []


def test_oversize_is_413(client: httpx2.Client, recorder: Recorder) -> None:
    payload = json.dumps(bc(AGE_17, padding="x" * 70_000))
    response = client.post(
        "/signup", content=payload, headers={"content-type": "application/json"}
    )
    body = assert_gate_answer(response, 413)
    assert body["code"] == "BODY_TOO_LARGE"
    assert recorder.requests == []


def test_oversize_without_content_length_is_413(
    client: httpx2.Client, recorder: Recorder
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"birthdate": "' + AGE_17.encode() + b'", "pad": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/signup", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_gate_answer(response, 413)
    assert recorder.requests == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/octet-stream", None],
)
def test_unreadable_content_type_is_415(
    client: httpx2.Client, recorder: Recorder, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(
        "/signup", content=json.dumps(bc(AGE_17)).encode(), headers=headers
    )
    assert_gate_answer(response, 415)
    assert recorder.requests == []


# -- done when -----------------------------------------------------------------


def test_done_when_british_columbia(client: httpx2.Client, recorder: Recorder) -> None:
    """17 and 18 blocked, 19 passes, 415 to an unreadable body, and the app
    never sees a blocked body."""
    for birthdate in (AGE_17, AGE_18):
        response = client.post("/signup", json=bc(birthdate))
        assert response.status_code == 403
        client.cookies.clear()  # the next one is a new visitor
    assert client.post("/signup", json=bc(AGE_19)).status_code == 200
    response = client.post(
        "/signup", content=b"\x00\x01", headers={"content-type": "image/png"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "MEDIA_TYPE_UNSUPPORTED"
    assert len(recorder.requests) == 1
    assert not recorder.saw_underage()


# -- pass-through ----------------------------------------------------------------


def test_other_routes_and_the_signup_page_pass_through(
    client: httpx2.Client, recorder: Recorder
) -> None:
    assert client.get("/health").text == "ok"
    assert client.get("/signup").text == "signup form"
    assert client.get("/nowhere").status_code == 404


def test_gated_query_fields_are_screened(
    client: httpx2.Client, recorder: Recorder
) -> None:
    response = client.get(
        "/signup", params={"birthdate": AGE_17, "country": "CA", "subdivision": "BC"}
    )
    assert response.status_code == 403
    client.cookies.clear()
    # A gated field in both the query and the body could be read either way.
    response = client.post("/signup", params={"birthdate": AGE_17}, json=bc(ADULT))
    body = assert_gate_answer(response, 400)
    assert body["fields"] == ["birthdate"]
    assert not recorder.saw_underage()


# -- block cookie --------------------------------------------------------------


def test_block_cookie_keeps_the_browser_blocked(
    client: httpx2.Client, recorder: Recorder
) -> None:
    assert client.post("/signup", json=bc(AGE_17)).status_code == 403
    assert client.cookies.get("agegate_block")
    # Same browser, a new birthdate: still blocked, and no new cookie.
    response = client.post("/signup", json=bc(ADULT))
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert recorder.requests == []
    # The signup page and other routes still load.
    assert client.get("/signup").status_code == 200
    client.cookies.clear()
    assert client.post("/signup", json=bc(ADULT)).status_code == 200


def test_block_cookie_is_signed_and_carries_no_personal_data() -> None:
    cookie = BlockCookie(SECRET)
    value = cookie.value(now=1_000_000)
    version, expires, _signature = value.split(".")
    assert (version, expires) == ("1", str(1_000_000 + 86_400))
    assert cookie.is_valid(value, now=1_000_001)
    assert not cookie.is_valid(value, now=1_000_000 + 86_400)  # expired
    assert not BlockCookie("another-secret-of-enough-length").is_valid(
        value, now=1_000_001
    )
    forged = f"1.{1_000_000 + 86_400 + 1}.{_signature}"
    assert not cookie.is_valid(forged, now=1_000_001)
    for junk in ("", "1", "1..", "x.y.z", "1.99999999999999999.a", "1.5.é"):
        assert not cookie.is_valid(junk, now=1)


def test_forged_cookie_does_not_block() -> None:
    recorder = Recorder()
    with TestClient(make_app(recorder)) as test_client:
        test_client.cookies.set("agegate_block", "1.99999999999.AAAA")
        assert test_client.post("/signup", json=bc(ADULT)).status_code == 200


def test_cookie_lifetime_and_secure_are_configurable() -> None:
    recorder = Recorder()
    app = make_app(recorder, cookie_max_age=3600, cookie_same_site="strict")
    with TestClient(app, base_url="https://testserver") as test_client:
        cookie = test_client.post("/signup", json=bc(AGE_17)).headers["set-cookie"]
    assert "Max-Age=3600" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" in cookie


# -- configuration --------------------------------------------------------------


def _bare(scope: Any, receive: Any, send: Any) -> Any:
    raise AssertionError("not called")


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"paths": ["/signup"]}, ValueError),  # no secret
        ({"paths": ["/signup"], "secret": "short"}, ValueError),
        ({"paths": "/signup", "secret": SECRET}, TypeError),
        ({"paths": [], "secret": SECRET}, ValueError),
        ({"paths": ["signup"], "secret": SECRET}, ValueError),
        ({"paths": ["/a/x{id}"], "secret": SECRET}, ValueError),
        ({"profile_paths": ["/accounts/{id}"], "block_cookie": False}, ValueError),
        ({"paths": ["/s"], "secret": SECRET, "max_body_size": 0}, ValueError),
        ({"paths": ["/s"], "secret": SECRET, "policy": "strict"}, TypeError),
        (
            {
                "paths": ["/s"],
                "secret": SECRET,
                "fields": FieldMap(birthdate=None, birth_year=None, age=None),
            },
            ValueError,
        ),
        (
            {
                "profile_paths": ["/t/{tenant}/accounts/{id}"],
                "block_cookie": False,
                "flag_sink": "flags.jsonl",
            },
            ValueError,
        ),
    ],
)
def test_bad_configuration_refuses_to_start(
    settings: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        AgeGateMiddleware(_bare, rules=load_rules(), **settings)


def test_cookie_may_be_turned_off_explicitly() -> None:
    recorder = Recorder()
    app = make_app(recorder, secret=None, block_cookie=False)
    with TestClient(app) as test_client:
        response = test_client.post("/signup", json=bc(AGE_17))
        assert response.status_code == 403
        assert "set-cookie" not in response.headers


def test_without_secret_the_server_refuses_to_start() -> None:
    recorder = Recorder()
    app = make_app(recorder, secret=None)
    with pytest.raises(ValueError, match="secret"), TestClient(app):
        pass


# -- profile updates -----------------------------------------------------------


def test_profile_update_raises_a_flag_in_sqlite(tmp_path: Any) -> None:
    store_path = tmp_path / "flags.sqlite"
    recorder = Recorder()
    app = make_app(
        recorder,
        profile_paths=["/accounts/{account_id}"],
        flag_sink=store_path,
        # The holder of acc-42 sends these requests (see test_gate_security
        # for AuthenticationMiddleware itself).
        account_of=lambda scope: "acc-42",
    )
    with TestClient(app) as test_client:
        # An update that does not touch the birthdate passes untouched.
        response = test_client.patch("/accounts/acc-42", json={"nickname": "zed"})
        assert response.json() == {"updated": "acc-42"}
        # A birthdate showing the holder is under the required age: blocked.
        response = test_client.patch("/accounts/acc-42", json=bc(AGE_18))
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
        # An adult's birthdate change passes.
        assert test_client.put("/accounts/acc-7", json=bc(ADULT)).status_code == 200
    assert len(recorder.requests) == 2
    assert not recorder.saw_underage()
    with SqliteFlagStore(store_path) as store:
        [stored] = store.list()
    assert stored.flag.account_id == "acc-42"
    assert stored.flag.codes == (FlagCode.PROFILE_UNDERAGE,)
    assert stored.flag.action == "remove"
    assert stored.flag.jurisdiction == "CA-BC"
    assert stored.flag.required_age == 19
    assert stored.flag.source == "profile_update"
    assert stored.status == "open"


def test_profile_account_id_from_a_body_field(tmp_path: Any) -> None:
    flags = tmp_path / "flags.jsonl"
    recorder = Recorder()
    app = make_app(
        recorder,
        paths=[],
        profile_paths=["/signup"],
        flag_sink=flags,
        fields=FieldMap(account_id="user_id"),
        block_cookie=False,
        secret=None,
        account_of=lambda scope: "u-9",
    )
    with TestClient(app) as test_client:
        response = test_client.post("/signup", json=bc(AGE_17, user_id="u-9"))
        assert response.status_code == 403
        response = test_client.post("/signup", json=bc(AGE_17))
        body = assert_gate_answer(response, 422)
        assert body["fields"] == ["user_id"]
    [line] = flags.read_text().splitlines()
    flag = json.loads(line)
    assert flag["account_id"] == "u-9"
    assert flag["codes"] == ["PROFILE_UNDERAGE"]
    assert AGE_17 not in line


# -- FastAPI and a plain ASGI callable -------------------------------------------


def test_fastapi_app_is_gated() -> None:
    api = FastAPI()
    seen: list[Any] = []

    @api.post("/signup")
    async def signup(request: Request, payload: dict[str, Any]) -> dict[str, Any]:
        seen.append(payload)
        return {"outcome": request.state.agegate.outcome.value}

    api.add_middleware(
        AgeGateMiddleware, paths=["/signup"], secret=SECRET, rules=load_rules()
    )
    with TestClient(api) as test_client:
        assert test_client.post("/signup", json=bc(AGE_19)).json() == {
            "outcome": "ALLOW"
        }
        assert test_client.post("/signup", json=bc(AGE_17)).status_code == 403
        test_client.cookies.clear()
        # FastAPI reads a body without a content type as JSON: refused.
        response = test_client.post(
            "/signup", content=json.dumps(bc(AGE_17)), headers={"content-type": ""}
        )
        assert response.status_code == 415
        assert response.json()["code"] == "MEDIA_TYPE_UNSUPPORTED"
    assert seen == [bc(AGE_19)]


def test_fastapi_query_parameters_are_screened() -> None:
    api = FastAPI()
    seen: list[str] = []

    @api.post("/signup")
    async def signup(birthdate: str, country: str, subdivision: str) -> dict[str, str]:
        seen.append(birthdate)
        return {"ok": "yes"}

    api.add_middleware(
        AgeGateMiddleware, paths=["/signup"], secret=SECRET, rules=load_rules()
    )
    with TestClient(api) as test_client:
        query = {"birthdate": AGE_17, "country": "CA", "subdivision": "BC"}
        assert test_client.post("/signup", params=query).status_code == 403
        test_client.cookies.clear()
        query["birthdate"] = AGE_19
        assert test_client.post("/signup", params=query).status_code == 200
    assert seen == [AGE_19]


def test_plain_asgi_callable_is_gated() -> None:
    received: list[bytes] = []

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        received.append(body)
        outcome = scope["state"]["agegate"].outcome.value
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": outcome.encode()})

    gate = AgeGateMiddleware(
        plain,
        paths=["/register"],
        fields=FieldMap(birthdate="user.dob", country="user.country"),
        policy=Policy(minimum_age=21),
        block_cookie=False,
        rules=load_rules(),
    )
    with TestClient(gate) as test_client:
        adult = json.dumps({"user": {"dob": ADULT, "country": "FR"}}).encode()
        response = test_client.post(
            "/register", content=adult, headers={"content-type": "application/json"}
        )
        assert (response.status_code, response.text) == (201, "ALLOW")
        young = {"user": {"dob": years_ago(20), "country": "FR"}}
        response = test_client.post("/register", json=young)
        assert response.status_code == 403
        assert "21" in response.json()["detail"]  # the service's own floor
    assert received == [adult]


def test_websocket_and_lifespan_pass_through() -> None:
    scopes: list[str] = []

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope["type"])
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})
        elif scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})

    # Websockets on a gated path pass only when the operator says so.
    gate = AgeGateMiddleware(
        plain, paths=["/signup"], secret=SECRET, rules=load_rules(), websockets="pass"
    )
    with TestClient(gate) as test_client, test_client.websocket_connect("/signup"):
        pass
    assert scopes == ["lifespan", "websocket"]


def test_a_store_opened_from_a_path_is_closed_at_shutdown(tmp_path: Path) -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})

    gate = AgeGateMiddleware(
        plain,
        paths=["/signup"],
        profile_paths=["/accounts/{account_id}"],
        flag_sink=tmp_path / "flags.db",
        secret=SECRET,
        rules=load_rules(),
    )
    store = gate.flag_sink
    assert isinstance(store, SqliteFlagStore)
    with TestClient(gate):
        assert store.count() == 0
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        store.count()


def test_a_store_passed_in_stays_open(tmp_path: Path) -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})

    with SqliteFlagStore(tmp_path / "flags.db") as store:
        gate = AgeGateMiddleware(
            plain,
            paths=["/signup"],
            profile_paths=["/accounts/{account_id}"],
            flag_sink=store,
            secret=SECRET,
            rules=load_rules(),
        )
        with TestClient(gate):
            pass
        assert store.count() == 0


# -- logging ---------------------------------------------------------------------


def test_one_log_line_per_decision_without_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    with (
        caplog.at_level(logging.INFO, logger="agegate.middleware"),
        TestClient(make_app(recorder, block_cookie=False, secret=None)) as client,
    ):
        client.post("/signup", json=bc(AGE_17, phone="+1 604 555 0100"))
        client.post("/signup", json=bc(AGE_19))
        client.post("/signup", content=b"x", headers={"content-type": "text/plain"})
    lines = [r.getMessage() for r in caplog.records if r.name == "agegate.middleware"]
    assert lines == [
        "decision outcome=BLOCK reasons=UNDERAGE jurisdiction=CA-BC "
        "required_age=19 route=/signup",
        "decision outcome=ALLOW reasons=- jurisdiction=CA-BC "
        "required_age=19 route=/signup",
        "refused status=415 code=MEDIA_TYPE_UNSUPPORTED route=/signup",
    ]


def test_profile_update_without_jurisdiction_is_422(tmp_path: Any) -> None:
    recorder = Recorder()
    app = make_app(
        recorder,
        profile_paths=["/accounts/{account_id}"],
        flag_sink=tmp_path / "flags.sqlite",
    )
    with TestClient(app) as test_client:
        response = test_client.patch("/accounts/a1", json={"birthdate": AGE_18})
    body = assert_gate_answer(response, 422)
    assert body["fields"] == ["country"]
    assert recorder.requests == []


def test_a_flag_that_cannot_be_written_is_a_503_not_a_pass(tmp_path: Any) -> None:
    from agegate.flags import JsonlFlagSink

    unwritable = JsonlFlagSink(tmp_path)  # a directory: every append fails
    recorder = Recorder()
    app = make_app(
        recorder,
        profile_paths=["/accounts/{account_id}"],
        flag_sink=unwritable,
        account_of=lambda scope: "a1",
    )
    with TestClient(app) as test_client:
        response = test_client.patch("/accounts/a1", json=bc(AGE_17))
    body = assert_gate_answer(response, 503)
    assert body["code"] == "FLAG_NOT_RECORDED"
    assert response.headers["retry-after"] == "60"
    assert recorder.requests == []
