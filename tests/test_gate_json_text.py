"""A mapped dotted key reached through JSON text: `FieldMap(birthdate=
"profile.dob")` while the app takes `profile` as a string (a form field, or a
JSON string member) and reads it with `model_validate_json`.

The gate reads such text as the object it holds, with the same duplicate-key
rule as a body; a node on the way that is neither an object, JSON object
text nor null is refused 400 FIELD_NOT_OBJECT. Through a real FastAPI app
over uvicorn, on profile PATCH routes (form and JSON) and a signup route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI, Form
from gate_support import ADULT, AGE_17, SECRET, Recorder, make_app, uvicorn_server
from pydantic import BaseModel
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from agegate import AgeGateMiddleware, FieldMap, load_rules
from agegate.flags import SqliteFlagStore

BOB = {"authorization": "Bearer tok-bob"}
FIELDS = FieldMap(
    birthdate=("dob", "profile.dob"), country="country", subdivision="region"
)
PLACE = {"country": "CA", "region": "BC"}


class Profile(BaseModel):
    dob: str | None = None
    nick: str | None = None


class JsonUpdate(BaseModel):
    profile: str | None = None
    country: str | None = None
    region: str | None = None


class Bearer(AuthenticationBackend):
    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.headers.get("authorization") != BOB["authorization"]:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser("bob")


def make_api(stored: list[str | None], store: SqliteFlagStore) -> FastAPI:
    api = FastAPI()

    @api.patch("/accounts/{account_id}")
    async def update_form(account_id: str, profile: str = Form()) -> dict[str, str]:
        stored.append(Profile.model_validate_json(profile).dob)
        return {"updated": account_id}

    @api.patch("/json/accounts/{account_id}")
    async def update_json(account_id: str, update: JsonUpdate) -> dict[str, str]:
        if update.profile is not None:
            stored.append(Profile.model_validate_json(update.profile).dob)
        return {"updated": account_id}

    @api.post("/signup")
    async def signup(
        dob: str = Form(), profile: str = Form("{}"), country: str = Form()
    ) -> dict[str, str]:
        stored.extend([dob, Profile.model_validate_json(profile).dob])
        return {"created": "yes"}

    api.add_middleware(
        AgeGateMiddleware,
        paths=["/signup"],
        profile_paths=["/accounts/{account_id}", "/json/accounts/{account_id}"],
        fields=FIELDS,
        flag_sink=store,
        secret=SECRET,
        rules=load_rules(),
    )
    api.add_middleware(AuthenticationMiddleware, backend=Bearer())
    return api


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteFlagStore]:
    with SqliteFlagStore(tmp_path / "flags.db") as opened:
        yield opened


@pytest.fixture
def served(store: SqliteFlagStore) -> Iterator[tuple[str, list[str | None]]]:
    stored: list[str | None] = []
    with uvicorn_server(make_api(stored, store)) as url:
        yield url, stored


def profile_text(**members: Any) -> str:
    return json.dumps(members)


def test_form_field_holding_json_is_screened_on_a_profile_patch(
    served: tuple[str, list[str | None]], store: SqliteFlagStore
) -> None:
    url, stored = served
    with httpx2.Client() as client:
        response = client.patch(
            url + "/accounts/bob",
            data={"profile": profile_text(dob=AGE_17), **PLACE},
            headers=BOB,
        )
        assert response.status_code == 403, response.text
        assert stored == []
        assert [s.flag.account_id for s in store.list()] == ["bob"]
        # The same update as multipart, the usual shape beside a file.
        response = client.patch(
            url + "/accounts/bob",
            files={"avatar": ("a.png", b"\x89PNG")},
            data={"profile": profile_text(dob=AGE_17), **PLACE},
            headers=BOB,
        )
        assert response.status_code == 403, response.text
        # An adult's update reaches the app; one without a birth key too.
        for profile in (profile_text(dob=ADULT), profile_text(nick="zed")):
            response = client.patch(
                url + "/accounts/bob", data={"profile": profile, **PLACE}, headers=BOB
            )
            assert response.json() == {"updated": "bob"}, response.text
    assert stored == [ADULT, None]


def test_json_string_holding_json_is_screened_on_a_profile_patch(
    served: tuple[str, list[str | None]], store: SqliteFlagStore
) -> None:
    url, stored = served
    with httpx2.Client() as client:
        for profile in (profile_text(dob=AGE_17), {"dob": AGE_17}):
            response = client.patch(
                url + "/json/accounts/bob",
                json={"profile": profile, **PLACE},
                headers=BOB,
            )
            assert response.status_code == 403, response.text
        # A null profile holds nothing to read: it passes.
        response = client.patch(
            url + "/json/accounts/bob", json={"profile": None}, headers=BOB
        )
        assert response.json() == {"updated": "bob"}
    assert stored == []
    assert store.count() == 1


def test_json_text_on_a_signup_beside_an_adult_key_is_screened(
    served: tuple[str, list[str | None]],
) -> None:
    url, stored = served
    with httpx2.Client() as client:
        response = client.post(
            url + "/signup",
            data={"dob": ADULT, "profile": profile_text(dob=AGE_17), **PLACE},
        )
        assert response.status_code == 403, response.text
        assert "set-cookie" in response.headers
    # Another browser, without the block cookie.
    response = httpx2.post(
        url + "/signup",
        data={"dob": ADULT, "profile": profile_text(dob=ADULT), **PLACE},
    )
    assert response.status_code == 200, response.text
    assert stored == [ADULT, ADULT]


@pytest.mark.parametrize(
    ("profile", "code"),
    [
        ("not json", "FIELD_NOT_OBJECT"),
        ("", "FIELD_NOT_OBJECT"),
        ('["' + AGE_17 + '"]', "FIELD_NOT_OBJECT"),
        ('"' + AGE_17 + '"', "FIELD_NOT_OBJECT"),
        ("\ufeff" + profile_text(dob=AGE_17), "FIELD_NOT_OBJECT"),
        (f'{{"dob": "{ADULT}", "dob": "{AGE_17}"}}', "KEY_REPEATED"),
        (f'{{"nick": "a", "nick": "b", "dob": "{ADULT}"}}', "KEY_REPEATED"),
    ],
)
def test_text_that_is_no_single_object_is_refused(
    served: tuple[str, list[str | None]], profile: str, code: str
) -> None:
    url, stored = served
    with httpx2.Client() as client:
        for route, request in [
            ("/accounts/bob", {"data": {"profile": profile, **PLACE}}),
            ("/json/accounts/bob", {"json": {"profile": profile, **PLACE}}),
            ("/signup", {"data": {"dob": ADULT, "profile": profile, **PLACE}}),
        ]:
            method = "POST" if route == "/signup" else "PATCH"
            response = client.request(method, url + route, headers=BOB, **request)
            assert response.status_code == 400, (route, response.text)
            assert response.json()["code"] == code
            assert response.json()["fields"] == ["profile"]
    assert stored == []


@pytest.mark.parametrize("profile", [7, True, [{"dob": AGE_17}], 1.5])
def test_json_member_that_is_no_object_is_refused(
    served: tuple[str, list[str | None]], profile: Any
) -> None:
    url, stored = served
    response = httpx2.patch(
        url + "/json/accounts/bob", json={"profile": profile, **PLACE}, headers=BOB
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "FIELD_NOT_OBJECT"
    assert stored == []


def test_json_text_beside_a_literal_dotted_key_or_twice_is_refused(
    served: tuple[str, list[str | None]], store: SqliteFlagStore
) -> None:
    url, stored = served
    with httpx2.Client() as client:
        # The literal key beside the same key inside the text: two ways.
        response = client.patch(
            url + "/accounts/bob",
            data={"profile.dob": ADULT, "profile": profile_text(dob=AGE_17), **PLACE},
            headers=BOB,
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "FIELD_AMBIGUOUS"
        # The field twice: readers keep the first or the last.
        response = client.patch(
            url + "/accounts/bob",
            content=f"profile={profile_text(dob=ADULT)}&profile={profile_text(dob=AGE_17)}"
            "&country=CA&region=BC",
            headers={**BOB, "content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "FIELD_REPEATED"
        # A file under the name: the gate keeps no file's bytes.
        response = client.patch(
            url + "/accounts/bob",
            files={"profile": ("p.json", profile_text(dob=AGE_17).encode())},
            data=PLACE,
            headers=BOB,
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] in ("FIELD_NOT_TEXT", "PART_AMBIGUOUS")
        # In the query string, where an app may read it too.
        response = client.patch(
            url + "/json/accounts/bob",
            params={"profile": profile_text(dob=AGE_17)},
            json=PLACE,
            headers=BOB,
        )
        assert response.status_code == 403, response.text
    assert stored == []
    assert store.count() == 1


def test_json_text_deeper_in_the_body_is_screened() -> None:
    recorder = Recorder()
    fields = FieldMap(
        birthdate="user.profile.dob", country="country", subdivision="subdivision"
    )
    app = make_app(recorder, fields=fields)
    place = {"country": "CA", "subdivision": "BC"}
    # One request per client: a block cookie would block the rest.
    with uvicorn_server(app) as url:
        for user in (
            {"profile": profile_text(dob=AGE_17)},
            json.dumps({"profile": profile_text(dob=AGE_17)}),
            json.dumps({"profile": {"dob": AGE_17}}),
        ):
            response = httpx2.post(url + "/signup", json={"user": user, **place})
            assert response.status_code == 403, response.text
        response = httpx2.post(url + "/signup", json={"user": {"profile": 5}, **place})
        assert response.json()["fields"] == ["user.profile"], response.text
        response = httpx2.post(
            url + "/signup",
            json={"user": {"profile": profile_text(dob=ADULT)}, **place},
        )
        assert response.status_code == 200, response.text
    assert len(recorder.requests) == 1
