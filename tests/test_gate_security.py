"""Attacks on the gate through a real FastAPI app behind uvicorn on loopback:
profile updates that dodge screening, websockets, removal flags filed by
strangers, broken lengths, cross-site block cookies and slow headers.

The app authenticates its account holders with Starlette's
AuthenticationMiddleware (a bearer token), as the README tells operators to.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import websockets.exceptions
import websockets.sync.client
from fastapi import FastAPI, Request, WebSocket
from gate_support import (
    ADULT,
    AGE_17,
    SECRET,
    bc,
    uvicorn_server,
    years_ago,
)
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from agegate import AgeGateMiddleware, FieldMap, load_rules
from agegate.asgi.body import Refused, declared_length
from agegate.asgi.cookie import BlockCookie, cookie_values
from agegate.errors import AccountIdInvalid
from agegate.flags import Flag, FlagCode, JsonlFlagSink, SqliteFlagStore

TOKENS = {"tok-bob": "bob", "tok-alice": "alice"}
BOB = {"authorization": "Bearer tok-bob"}


class Bearer(AuthenticationBackend):
    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, BaseUser] | None:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in TOKENS:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(TOKENS[token])


class Served:
    def __init__(self, url: str, store: SqliteFlagStore) -> None:
        self.url = url
        self.store = store
        self.reached: list[str] = []


def make_api(served: Served, **gate: Any) -> FastAPI:
    api = FastAPI()

    @api.post("/signup")
    async def signup(request: Request) -> dict[str, str]:
        served.reached.append((await request.body()).decode())
        return {"created": "yes"}

    @api.patch("/accounts/{account_id}")
    async def update(account_id: str, request: Request) -> dict[str, str]:
        served.reached.append((await request.body()).decode())
        return {"updated": account_id}

    async def talk(websocket: WebSocket) -> None:
        await websocket.accept()
        served.reached.append("websocket " + websocket.url.path)
        await websocket.send_text("hello")
        await websocket.close()

    api.add_api_websocket_route("/signup", talk)
    api.add_api_websocket_route("/live", talk)

    settings: dict[str, Any] = {
        "paths": ["/signup"],
        "profile_paths": ["/accounts/{account_id}"],
        "flag_sink": served.store,
        "secret": SECRET,
        "rules": load_rules(),
    }
    settings.update(gate)
    api.add_middleware(AgeGateMiddleware, **settings)
    # Added last, so it runs first: the gate sees scope["user"].
    api.add_middleware(AuthenticationMiddleware, backend=Bearer())
    return api


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteFlagStore]:
    with SqliteFlagStore(tmp_path / "flags.db") as opened:
        yield opened


def serve(store: SqliteFlagStore, ws: str = "none", **gate: Any) -> Any:
    served = Served("", store)
    api = make_api(served, **gate)

    class Context:
        def __enter__(self) -> Served:
            self._server = uvicorn_server(api, ws=ws)
            served.url = self._server.__enter__()
            return served

        def __exit__(self, *exc: object) -> None:
            self._server.__exit__(None, None, None)

    return Context()


def problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


# -- profile updates that touch the birthdate are screened ---------------------


def test_profile_update_holding_a_birth_key_two_ways_is_400(
    store: SqliteFlagStore,
) -> None:
    fields = FieldMap(
        birthdate="user.dob", country="user.country", subdivision="user.region"
    )
    nested = {"user": {"dob": AGE_17, "country": "CA", "region": "BC"}}
    with serve(store, fields=fields) as served, httpx2.Client() as client:
        url = served.url + "/accounts/bob"
        # A literal dotted key beside the nested one.
        response = client.patch(url, json={"user.dob": ADULT, **nested}, headers=BOB)
        assert problem(response, 400)["code"] == "FIELD_AMBIGUOUS"
        assert problem(response, 400)["fields"] == ["user.dob"]
        # The same literal key in the query string.
        response = client.patch(url, params={"user.dob": "x"}, json=nested, headers=BOB)
        assert problem(response, 400)["code"] == "FIELD_AMBIGUOUS"
        # An update without any birth key still passes untouched.
        response = client.patch(url, json={"nickname": "zed"}, headers=BOB)
        assert response.json() == {"updated": "bob"}
    assert served.reached == ['{"nickname":"zed"}']
    assert store.count() == 0


def test_profile_update_with_part_of_a_birthdate_is_422(
    store: SqliteFlagStore,
) -> None:
    with serve(store) as served, httpx2.Client() as client:
        url = served.url + "/accounts/bob"
        parts = bc("")
        del parts["birthdate"]
        for update, query in [
            ({**parts, "birth_month": "5", "birth_day": "1"}, {}),
            ({**parts, "birth_year": "2012"}, {}),
            ({"nickname": "zed"}, {"birth_day": "1"}),
        ]:
            response = client.patch(url, json=update, params=query, headers=BOB)
            body = problem(response, 422)
            assert body["code"] == "BIRTHDATE_PARTIAL"
            assert body["fields"] == ["birthdate"]
        # A null birthdate still touches the birthdate: screened, not passed.
        response = client.patch(url, json={"birthdate": None}, headers=BOB)
        assert "BIRTHDATE_MISSING" in problem(response, 422)["reasons"]
        # The whole date in parts is screened like a date.
        year, month, day = AGE_17.split("-")
        whole = {**parts, "birth_year": year, "birth_month": month, "birth_day": day}
        assert client.patch(url, json=whole, headers=BOB).status_code == 403
    assert served.reached == []
    assert [s.flag.account_id for s in store.list()] == ["bob"]


# -- websockets ------------------------------------------------------------------


def test_websocket_on_a_gated_path_is_refused(store: SqliteFlagStore) -> None:
    # uvicorn's sans-I/O websockets server offers websocket.http.response.
    with serve(store, ws="websockets-sansio") as served:
        ws_url = served.url.replace("http://", "ws://")
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            websockets.sync.client.connect(ws_url + "/signup", open_timeout=5)
        assert refused.value.response.status_code == 403
        # An ungated path is not the gate's business.
        with websockets.sync.client.connect(ws_url + "/live", open_timeout=5) as ws:
            assert ws.recv(timeout=5) == "hello"
    assert served.reached == ["websocket /live"]


def test_websockets_pass_when_the_operator_says_so(store: SqliteFlagStore) -> None:
    with serve(store, ws="websockets-sansio", websockets="pass") as served:
        ws_url = served.url.replace("http://", "ws://")
        with websockets.sync.client.connect(ws_url + "/signup", open_timeout=5) as ws:
            assert ws.recv(timeout=5) == "hello"
    assert served.reached == ["websocket /signup"]


@pytest.mark.anyio
async def test_websocket_refused_by_close_where_no_http_response() -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    gate = AgeGateMiddleware(app, paths=["/signup"], secret=SECRET, rules=load_rules())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/signup/", "headers": [], "extensions": {}}
    await gate(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert reached == []
    with pytest.raises(ValueError, match="websockets"):
        AgeGateMiddleware(app, paths=["/s"], secret=SECRET, websockets="open")  # type: ignore[arg-type]


# -- profile flags only for the account's holder ---------------------------------


def test_anonymous_updates_file_no_flag(
    store: SqliteFlagStore, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="agegate.middleware"),
        serve(store) as served,
        httpx2.Client() as client,
    ):
        for n in range(60):
            response = client.patch(
                f"{served.url}/accounts/victim-{n}", json=bc(AGE_17)
            )
            assert response.status_code == 403
        # Bob authenticated, but the account is Alice's.
        response = client.patch(
            served.url + "/accounts/alice", json=bc(AGE_17), headers=BOB
        )
        assert response.status_code == 403
    assert store.count() == 0
    assert served.reached == []
    lines = [r.getMessage() for r in caplog.records if "flag not filed" in r.message]
    assert len(lines) == 61
    assert lines[0].startswith("flag not filed: reason=NOT_AUTHENTICATED")
    assert lines[-1].startswith("flag not filed: reason=NOT_ACCOUNT_HOLDER")
    assert not any("victim" in line or "alice" in line for line in lines)


def test_the_holder_files_one_flag_however_often(store: SqliteFlagStore) -> None:
    with serve(store) as served, httpx2.Client() as client:
        for _ in range(5):
            response = client.patch(
                served.url + "/accounts/bob", json=bc(AGE_17), headers=BOB
            )
            assert response.status_code == 403
            assert "set-cookie" not in response.headers
    [stored] = store.list()
    assert stored.flag.account_id == "bob"
    assert stored.flag.codes == (FlagCode.PROFILE_UNDERAGE,)
    assert stored.status == "open"


def test_a_jsonl_sink_writes_a_repeated_flag_once(tmp_path: Path) -> None:
    sink = JsonlFlagSink(tmp_path / "flags.jsonl")
    flag = Flag(account_id="bob", codes=(FlagCode.PROFILE_UNDERAGE,), action="remove")
    for _ in range(5):
        sink.add(flag)
    sink.add(Flag(account_id="carol", codes=flag.codes, action="remove"))
    lines = (tmp_path / "flags.jsonl").read_text().splitlines()
    assert [json.loads(line)["account_id"] for line in lines] == ["bob", "carol"]


def test_unusable_account_ids_are_400_not_503(tmp_path: Path) -> None:
    store_path = tmp_path / "flags.db"
    with SqliteFlagStore(store_path) as store:
        gate: dict[str, Any] = {
            "paths": [],
            "profile_paths": ["/accounts/{account_id}", "/signup"],
            "account_id_param": None,
            "block_cookie": False,
            "secret": None,
        }
        with serve(store, **gate) as served, httpx2.Client() as client:
            # A lone surrogate, escaped in JSON, read from the body.
            body = json.dumps(bc(AGE_17, account_id="\ud800"))
            response = client.post(
                served.url + "/signup",
                content=body,
                headers={"content-type": "application/json", **BOB},
            )
            assert problem(response, 400)["code"] == "ACCOUNT_ID_INVALID"
            response = client.patch(
                served.url + "/accounts/" + "b" * 300, json=bc(AGE_17), headers=BOB
            )
            assert problem(response, 400)["code"] == "ACCOUNT_ID_INVALID"
        assert store.count() == 0
        for bad in ("\ud800", "x" * 257, ""):
            with pytest.raises(AccountIdInvalid) as error:
                store.add(Flag(account_id=bad, codes=("X",), action="remove"))
            assert bad not in str(error.value) or not bad
        store.add(Flag(account_id="y" * 256, codes=("X",), action="remove"))
        assert store.count() == 1


# -- Content-Length ----------------------------------------------------------------


@pytest.mark.parametrize("length", ["9" * 5000, "0" * 5000 + "1", "²", "1 2", "-1"])
def test_broken_content_length_is_400(length: str) -> None:
    headers = [(b"content-length", length.encode("utf-8"))]
    with pytest.raises(Refused) as refused:
        declared_length(headers, 1024)
    assert refused.value.status == 400
    assert refused.value.code == "HEADER_AMBIGUOUS"


@pytest.mark.anyio
async def test_broken_content_length_through_the_gate() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not be reached")

    gate = AgeGateMiddleware(app, paths=["/signup"], secret=SECRET, rules=load_rules())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/signup",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"7" * 5000),
        ],
        "query_string": b"",
    }
    await gate(scope, receive, send)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["code"] == "HEADER_AMBIGUOUS"


# -- cross-site requests plant no block cookie -----------------------------------


@pytest.mark.parametrize(
    ("headers", "cookie"),
    [
        ({"sec-fetch-site": "cross-site"}, False),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "null"}, False),
        ({"sec-fetch-site": "same-site", "origin": "https://a.evil.example"}, False),
        ({"sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "none"}, True),
        ({"origin": "https://127.0.0.1"}, True),
        ({}, True),
    ],
)
def test_cross_site_minor_is_refused_without_a_cookie(
    store: SqliteFlagStore, headers: dict[str, str], cookie: bool
) -> None:
    with serve(store) as served:
        response = httpx2.post(served.url + "/signup", json=bc(AGE_17), headers=headers)
    assert response.status_code == 403
    assert ("set-cookie" in response.headers) is cookie
    assert served.reached == []


# -- headers are read in linear time and bounded -----------------------------------


def _timed(client: httpx2.Client, url: str, **request: Any) -> tuple[int, float]:
    started = time.perf_counter()
    response = client.post(url, **request)
    return response.status_code, time.perf_counter() - started


@pytest.mark.parametrize(
    ("size", "cookie_status", "type_status"),
    [
        # Over the header cap: refused before anything reads it.
        (15 * 1024, 431, 431),
        # Under it: the gate reads both in linear time; the app's own cookie
        # reader (http.cookies, quadratic in escapes) is spared too many.
        (8 * 1024 - 200, 400, 415),
    ],
)
def test_long_quoted_headers_answer_fast(
    store: SqliteFlagStore, size: int, cookie_status: int, type_status: int
) -> None:
    quoted_cookie = 'a="' + '\\"' * (size // 2) + '"; agegate_block="x"'
    open_quote = 'application/json; charset="' + "a" * size
    with serve(store) as served, httpx2.Client() as client:
        url = served.url + "/signup"
        assert client.post(url, json=bc(ADULT)).status_code == 200  # warm up
        status, took = _timed(
            client, url, json=bc(ADULT), headers={"cookie": quoted_cookie}
        )
        assert (status, took < 0.2) == (cookie_status, True)
        status, took = _timed(
            client,
            url,
            content=json.dumps(bc(ADULT)),
            headers={"content-type": open_quote},
        )
        assert (status, took < 0.2) == (type_status, True)
        # A cookie Python's SimpleCookie quoted, with a few escapes, passes.
        few = {"cookie": 'name="caf\\303\\251 \\"ok\\""; theme=dark'}
        status, took = _timed(client, url, json=bc(ADULT), headers=few)
        assert (status, took < 0.2) == (200, True)


def test_block_cookie_is_found_by_its_name_only() -> None:
    cookie = BlockCookie(SECRET)
    value = cookie.value()
    assert cookie.blocks([f"theme=dark; agegate_block={value}; x=1"])
    assert cookie.blocks([f"agegate_block={value}"])
    assert not cookie.blocks([f'agegate_block="{value}"'])
    assert not cookie.blocks([f"xagegate_block={value}"])
    assert not cookie.blocks([f"agegate_block={value}\\"])
    assert cookie_values("a=1;;=; agegate_block=1.2.a-_", "agegate_block") == [
        "1.2.a-_"
    ]


@pytest.mark.parametrize(
    "content_type",
    [
        'application/json; charset="utf-8',
        'application/json; charset="utf\\"-8"',
        "application/json; charset=utf-8; charset=utf-16",
        "application/json;",
        "application/json; boundary=a; boundary=b",
        "application/ json",
        "application/json; charset=utf-8 (comment)",
    ],
)
def test_unusual_content_types_are_415(
    store: SqliteFlagStore, content_type: str
) -> None:
    with serve(store) as served:
        response = httpx2.post(
            served.url + "/signup",
            content=json.dumps(bc(years_ago(17))),
            headers={"content-type": content_type},
        )
    code = (
        "CHARSET_UNSUPPORTED" if "utf-16" in content_type else "MEDIA_TYPE_UNSUPPORTED"
    )
    assert problem(response, 415)["code"] == code
    assert served.reached == []


# -- a form field hidden behind a semicolon -------------------------------------


def _semicolon_splits_fields() -> bool:
    """Whether the installed python-multipart, like the app behind the gate,
    reads `;` as a field separator (releases up to 0.0.26 do)."""
    from python_multipart.multipart import QuerystringParser

    names: list[bytes] = []
    parser = QuerystringParser(
        {"on_field_name": lambda data, start, end: names.append(data[start:end])}
    )
    parser.write(b"a=1;b=2")
    parser.finalize()
    return b"b" in names


def test_a_birthdate_behind_a_semicolon_is_read_as_the_app_reads_it(
    store: SqliteFlagStore,
) -> None:
    body = f"birthdate={ADULT}&country=CA&subdivision=BC&x=1;birthdate={AGE_17}"
    with serve(store) as served:
        response = httpx2.post(
            served.url + "/signup",
            content=body.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    if _semicolon_splits_fields():
        # The app would read two birthdates: the gate refuses rather than
        # choose the adult one.
        assert problem(response, 400)["code"] == "FIELD_REPEATED"
        assert served.reached == []
    else:
        # The app reads `x` as "1;birthdate=..." and the adult date only, as
        # the gate does.
        assert response.status_code == 200
