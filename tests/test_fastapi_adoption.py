"""What a FastAPI team meets when it adopts the gate, through real FastAPI apps.

In-process with Starlette's TestClient and on a real uvicorn server: the
configuration check (`check_app`, `check_routes=`, `agegate check-app`),
paths under mounts, `request.state.agegate`, the CORS order, the OpenAPI
answers, several keys per field, the spellings real clients send, and the
block cookie in tests.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from cli_support import agegate
from fastapi import Depends, FastAPI, Form, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.testclient import TestClient
from gate_support import uvicorn_server, years_ago
from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field

from agegate import AgeGateMiddleware, FieldMap, Reason, screen
from agegate.asgi.app_check import Finding, check_app
from agegate.asgi.config import GateConfig
from agegate.asgi.openapi import PROBLEM_SCHEMA, gate_responses

SECRET = "a test secret of enough length"
ADULT = years_ago(30)
MINOR = years_ago(15)
ORIGIN = "https://spa.example"


def config(**options: Any) -> GateConfig:
    return GateConfig.from_options(block_cookie=False, **options)


def errors(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.code, f.key) for f in findings if f.severity == "error"]


# -- the models a signup service has -----------------------------------------


class Member(BaseModel):
    email: str
    dob: date = Field(validation_alias=AliasChoices("dob", "birthdate"))
    age: int | None = None
    country: str


class Profile(BaseModel):
    dob: date = Field(validation_alias=AliasChoices("dob", "birthdate"))
    country: str


class Nested(BaseModel):
    email: str
    profile: Profile


class FormMember(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    birth: date = Field(alias="birthDate")
    country: str


class Extra(BaseModel):
    born_on: date


def extra(more: Extra) -> Extra:
    return more


class Listed(BaseModel):
    dob: date | None = Field(default=None, validation_alias=AliasPath("p", 0))
    people: list[Profile] = []
    start: date | None = None


def member_app(stored: list[date], **gate: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/signup", status_code=201)
    def signup(body: Member) -> dict[str, str]:
        stored.append(body.dob)
        return {"ok": "yes"}

    if gate:
        app.add_middleware(AgeGateMiddleware, **gate)
    return app


# -- item 14: the check finds the key a birth value is read from -------------


def test_a_missed_alias_choice_lets_a_minor_in_and_the_check_names_it() -> None:
    stored: list[date] = []
    only_dob = FieldMap(birthdate="dob")
    app = member_app(stored, paths=["/signup"], fields=only_dob, secret=SECRET)
    with TestClient(app) as client:
        # The attack: the minor's date under the alias the gate does not
        # read, a decoy adult age for the gate.
        sent = {"email": "a@x", "birthdate": MINOR, "age": 30, "country": "GB"}
        assert client.post("/signup", json=sent).status_code == 201
    assert stored == [date.fromisoformat(MINOR)]
    found = check_app(app)
    assert ("BIRTH_KEY_UNMAPPED", "birthdate") in errors(found)
    assert ("BIRTH_KEY_UNMAPPED", "dob") not in errors(found)
    assert "Member.dob" in str(found[0])
    assert MINOR not in "".join(map(str, found))


def test_once_mapped_the_decoy_is_caught_and_the_check_is_clean() -> None:
    stored: list[date] = []
    both = FieldMap(birthdate=("dob", "birthdate"))
    app = member_app(stored, paths=["/signup"], fields=both, secret=SECRET)
    assert errors(check_app(app)) == []
    with TestClient(app) as client:
        sent = {"email": "a@x", "birthdate": MINOR, "age": 30, "country": "GB"}
        assert client.post("/signup", json=sent).status_code == 403
    with uvicorn_server(app) as base:
        sent = {"email": "a@x", "birthdate": MINOR, "age": 30, "country": "GB"}
        assert httpx.post(base + "/signup", json=sent).status_code == 403
        sent = {"email": "a@x", "dob": ADULT, "country": "GB"}
        assert httpx.post(base + "/signup", json=sent).status_code == 201
    assert stored == [date.fromisoformat(ADULT)]


def test_nested_models_embedded_bodies_and_dependencies() -> None:
    app = FastAPI()

    @app.post("/signup")
    def signup(body: Nested) -> None: ...

    @app.post("/embedded")
    def embedded(user: Nested, member: Member) -> None: ...

    @app.post("/depends")
    def depends(body: Nested, more: Annotated[Extra, Depends(extra)]) -> None: ...

    fields = FieldMap(birthdate="profile.dob", country="profile.country")
    found = check_app(app, config(paths=["/signup"], fields=fields))
    assert errors(found) == [("BIRTH_KEY_UNMAPPED", "profile.birthdate")]
    found = check_app(app, config(paths=["/embedded"], fields=fields))
    assert set(errors(found)) == {
        ("BIRTH_KEY_UNMAPPED", "user.profile.dob"),
        ("BIRTH_KEY_UNMAPPED", "user.profile.birthdate"),
        ("BIRTH_KEY_UNMAPPED", "member.dob"),
        ("BIRTH_KEY_UNMAPPED", "member.birthdate"),
        ("BIRTH_KEY_UNMAPPED", "member.age"),
    }
    found = check_app(app, config(paths=["/depends"], fields=fields))
    assert ("BIRTH_KEY_UNMAPPED", "more.born_on") in errors(found)


def test_form_models_form_parameters_and_query_parameters() -> None:
    app = FastAPI()

    @app.post("/form-model")
    def form_model(data: Annotated[FormMember, Form()]) -> None: ...

    @app.post("/form-fields")
    def form_fields(
        date_of_birth: Annotated[date, Form()], country: Annotated[str, Form()]
    ) -> None: ...

    @app.post("/query")
    def query(body: Member, yob: int | None = None) -> None: ...

    fields = FieldMap(birthdate="birthDate")
    found = check_app(app, config(paths=["/form-model"], fields=fields))
    # populate_by_name: the field's own name is read too.
    assert errors(found) == [("BIRTH_KEY_UNMAPPED", "birth")]
    found = check_app(app, config(paths=["/form-fields"], fields=fields))
    assert errors(found) == [("BIRTH_KEY_UNMAPPED", "date_of_birth")]
    mapped = FieldMap(birthdate=("dob", "birthdate"))
    found = check_app(app, config(paths=["/query"], fields=mapped))
    assert errors(found) == [("BIRTH_KEY_UNMAPPED", "yob")]


def test_keys_the_gate_cannot_read_and_dates_under_other_names() -> None:
    app = FastAPI()

    @app.post("/signup")
    def signup(body: Listed) -> None: ...

    found = check_app(app, config(paths=["/signup"], fields=FieldMap()))
    assert ("BIRTH_KEY_UNREADABLE", "p.0") in errors(found)
    assert ("BIRTH_KEY_UNREADABLE", "people.dob") in errors(found)
    warnings = [(f.code, f.key) for f in found if f.severity == "warning"]
    assert warnings == [("DATE_KEY_UNMAPPED", "start")]


def test_strict_start_up_refuses_an_app_that_misses_a_key() -> None:
    app = member_app(
        [],
        paths=["/signup"],
        fields=FieldMap(birthdate="dob"),
        secret=SECRET,
        check_routes="strict",
    )
    with pytest.raises(RuntimeError, match="BIRTH_KEY_UNMAPPED"), TestClient(app):
        pass


APP_MODULE = """
from datetime import date
from fastapi import FastAPI
from pydantic import AliasChoices, BaseModel, Field
from agegate import AgeGateMiddleware, FieldMap

class Member(BaseModel):
    dob: date = Field(validation_alias=AliasChoices("dob", "birthdate"))
    country: str

app = FastAPI()

@app.post("/signup")
def signup(body: Member) -> None: ...

app.add_middleware(
    AgeGateMiddleware, paths=["/signup"], fields=FieldMap(birthdate={keys}),
    secret="a test secret of enough length", check_routes={mode!r},
)
"""


def write_app(directory: Path, name: str, keys: str, mode: str = "warn") -> None:
    text = APP_MODULE.format(keys=keys, mode=mode)
    (directory / f"{name}.py").write_text(textwrap.dedent(text))


def test_check_app_command(tmp_path: Path) -> None:
    write_app(tmp_path, "missed", '"dob"')
    write_app(tmp_path, "mapped", '("dob", "birthdate")')
    result = agegate("check-app", "missed:app", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "BIRTH_KEY_UNMAPPED /signup key 'birthdate'" in result.stdout
    assert "1 error(s)" in result.stderr
    result = agegate("check-app", "mapped:app", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for bad in ("nomodule:app", "mapped:nothing", "mapped"):
        result = agegate("check-app", bad, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr


def test_uvicorn_does_not_start_a_strict_app_that_misses_a_key(tmp_path: Path) -> None:
    write_app(tmp_path, "strict_missed", '"dob"', mode="strict")
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "strict_missed:app", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "BIRTH_KEY_UNMAPPED" in result.stderr


# -- issue items: mounts ------------------------------------------------------


def mounted(paths: list[str], **gate: Any) -> tuple[FastAPI, list[date]]:
    stored: list[date] = []
    outer = FastAPI()
    sub = FastAPI()

    @sub.post("/signup", status_code=201)
    def signup(body: Member) -> dict[str, str]:
        stored.append(body.dob)
        return {}

    outer.mount("/v2", sub)
    outer.add_middleware(
        AgeGateMiddleware,
        paths=paths,
        fields=FieldMap(birthdate=("dob", "birthdate")),
        secret=SECRET,
        **gate,
    )
    return outer, stored


def test_a_gated_path_under_a_mount_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, stored = mounted(["/signup"])
    found = check_app(app)
    assert errors(found) == [("PATH_NOT_SERVED", None)]
    assert "/v2/signup" in found[0].message
    caplog.set_level(logging.WARNING, logger="agegate.middleware")
    client = TestClient(app)  # no lifespan: the check runs at the first request
    sent = {"email": "a@x", "dob": MINOR, "country": "GB"}
    assert client.post("/v2/signup", json=sent).status_code == 201
    assert any("PATH_NOT_SERVED" in r.getMessage() for r in caplog.records)
    assert stored == [date.fromisoformat(MINOR)]
    strict, _ = mounted(["/signup"], check_routes="strict")
    with pytest.raises(RuntimeError, match="PATH_NOT_SERVED"), TestClient(strict):
        pass


def test_gating_the_full_path_under_a_mount_screens_it() -> None:
    app, stored = mounted(["/v2/signup"], check_routes="strict")
    assert errors(check_app(app)) == []
    with uvicorn_server(app) as base:
        sent = {"email": "a@x", "dob": MINOR, "country": "GB"}
        assert httpx.post(base + "/v2/signup", json=sent).status_code == 403
        sent["dob"] = ADULT
        assert httpx.post(base + "/v2/signup", json=sent).status_code == 201
    assert stored == [date.fromisoformat(ADULT)]


# -- request.state.agegate on every request ----------------------------------


def state_app() -> FastAPI:
    app = FastAPI()

    def seen(request: Request) -> dict[str, Any]:
        decision = request.state.agegate
        return {"screened": decision is not None}

    @app.get("/health")
    def health(request: Request) -> dict[str, Any]:
        return seen(request)

    @app.post("/signup")
    def signup(request: Request, body: Member) -> dict[str, Any]:
        return seen(request)

    @app.patch("/users/{user_id}")
    def update(request: Request, user_id: str, body: dict[str, Any]) -> Any:
        return seen(request)

    app.add_middleware(
        AgeGateMiddleware,
        paths=["/signup"],
        profile_paths=["/users/{user_id}"],
        flag_sink=":memory:",
        fields=FieldMap(birthdate=("dob", "birthdate")),
        secret=SECRET,
    )
    return app


def test_request_state_agegate_is_set_on_every_request() -> None:
    app = state_app()
    with uvicorn_server(app) as base:
        assert httpx.get(base + "/health").json() == {"screened": False}
        name = httpx.patch(base + "/users/alice", json={"name": "Alice"})
        assert name.json() == {"screened": False}
        sent = {"email": "a@x", "dob": ADULT, "country": "GB"}
        assert httpx.post(base + "/signup", json=sent).json() == {"screened": True}
        # The signup page itself (a GET without gated fields) is not screened.
        assert httpx.get(base + "/signup").status_code == 405


# -- CORS ------------------------------------------------------------------


def cors_app(gate_first: bool) -> FastAPI:
    app = member_app([])
    gate = {
        "paths": ["/signup"],
        "fields": FieldMap(birthdate=("dob", "birthdate")),
        "secret": SECRET,
    }
    cors = {"allow_origins": [ORIGIN], "allow_methods": ["*"], "allow_headers": ["*"]}
    if gate_first:  # the last added runs first: CORS wraps the gate
        app.add_middleware(AgeGateMiddleware, **gate)
        app.add_middleware(CORSMiddleware, **cors)
    else:
        app.add_middleware(CORSMiddleware, **cors)
        app.add_middleware(AgeGateMiddleware, **gate)
    return app


def test_cors_must_wrap_the_gate(caplog: pytest.LogCaptureFixture) -> None:
    sent = {"email": "a@x", "dob": MINOR, "country": "GB"}
    wrong = cors_app(gate_first=False)
    assert [f.code for f in check_app(wrong)] == ["CORS_INSIDE_GATE"]
    caplog.set_level(logging.WARNING, logger="agegate.middleware")
    with TestClient(wrong) as client:
        answer = client.post("/signup", json=sent, headers={"Origin": ORIGIN})
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers
    assert any("CORS_INSIDE_GATE" in r.getMessage() for r in caplog.records)
    right = cors_app(gate_first=True)
    assert check_app(right) == []
    with uvicorn_server(right) as base:
        answer = httpx.post(base + "/signup", json=sent, headers={"Origin": ORIGIN})
        assert answer.status_code == 403
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        sent.pop("dob")
        answer = httpx.post(base + "/signup", json=sent, headers={"Origin": ORIGIN})
        assert answer.status_code == 422
        assert answer.headers["access-control-allow-origin"] == ORIGIN


# -- OpenAPI -----------------------------------------------------------------


def test_openapi_lists_the_gates_answers_with_their_schema() -> None:
    app = FastAPI()

    @app.post("/signup", status_code=201, responses=gate_responses())
    def signup(body: Member) -> dict[str, str]:
        return {}

    app.add_middleware(
        AgeGateMiddleware,
        paths=["/signup"],
        fields=FieldMap(birthdate=("dob", "birthdate")),
        secret=SECRET,
    )
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        answers = document["paths"]["/signup"]["post"]["responses"]
        assert {"201", "400", "403", "413", "415", "422"} <= set(answers)
        schema = answers["403"]["content"]["application/problem+json"]["schema"]
        assert schema["required"] == ["type", "title", "status"]
        blocked = client.post("/signup", json={"dob": MINOR, "country": "GB"})
        missing = client.post("/signup", json={"country": "GB"})
    for answer in (blocked, missing):
        body = answer.json()
        assert set(body) <= set(PROBLEM_SCHEMA["properties"])
        assert set(PROBLEM_SCHEMA["required"]) <= set(body)
    with pytest.raises(ValueError, match="never answers 500"):
        gate_responses([500])


# -- one gate, two layouts ---------------------------------------------------


def test_one_gate_for_a_json_api_and_an_html_form() -> None:
    app = FastAPI()

    @app.post("/api/signup", status_code=201)
    def api(body: Nested) -> dict[str, str]:
        return {}

    @app.post("/signup", status_code=201)
    def form(
        dob: Annotated[date, Form()], country: Annotated[str, Form()]
    ) -> dict[str, str]:
        return {}

    fields = FieldMap(
        birthdate=("profile.dob", "profile.birthdate", "dob"),
        country=("profile.country", "country"),
    )
    app.add_middleware(
        AgeGateMiddleware,
        paths=["/api/signup", "/signup"],
        fields=fields,
        block_cookie=False,
    )
    assert errors(check_app(app)) == []
    with TestClient(app) as client:
        for dob, status in ((MINOR, 403), (ADULT, 201)):
            nested = {"email": "a@x", "profile": {"dob": dob, "country": "GB"}}
            assert client.post("/api/signup", json=nested).status_code == status
            form_data = {"dob": dob, "country": "GB"}
            assert client.post("/signup", data=form_data).status_code == status


def test_keys_that_disagree_take_the_strictest_and_say_so() -> None:
    fields = FieldMap(country=("profile.country", "country"))
    # 18 in Great Britain, 19 in British Columbia.
    eighteen = years_ago(18)
    record = {"birthdate": eighteen, "profile": {"country": "GB"}, "country": "CA"}
    record["subdivision"] = "BC"
    decision = screen(record, fields=fields)
    assert decision.outcome.value == "BLOCK"
    assert decision.required_age == 19
    assert Reason.SIGNALS_CONFLICT in decision.reasons
    agree = screen({"birthdate": eighteen, "profile": {"country": "GB"}}, fields=fields)
    assert agree.outcome.value == "ALLOW"
    phones = FieldMap(phone=("phone", "contact.phone"))
    both = {"birthdate": ADULT, "phone": "+44 20 7946 0958"}
    both["contact"] = {"phone": "+1 604 555 0100"}
    decision = screen(both, fields=phones)
    assert Reason.SIGNALS_CONFLICT in decision.reasons
    bad = screen(
        {"birthdate": ADULT, "country": "GB", "profile": {"country": "Atlantis"}},
        fields=fields,
    )
    assert bad.outcome.value == "INVALID"
    assert bad.fields == ("profile.country",)


# -- profile updates of the date alone ---------------------------------------


def test_a_profile_update_of_the_date_alone_needs_the_country() -> None:
    app = state_app()
    with TestClient(app) as client:
        alone = client.patch("/users/alice", json={"dob": ADULT})
        assert alone.status_code == 422
        assert alone.json()["reasons"] == [Reason.JURISDICTION_MISSING]
        full = client.patch("/users/alice", json={"dob": ADULT, "country": "GB"})
        assert full.json() == {"screened": True}


# -- spellings real clients send ---------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "status"),
    [
        ("T00:00:00.000Z", 201),
        ("T00:00:00Z", 201),
        ("T00:00:00+00:00", 201),
        ("T23:00:00.000Z", 422),
        ("T00:00:00+02:00", 422),
        ("T00:00:00", 422),
    ],
)
def test_a_datetime_birthdate_only_at_midnight_utc(suffix: str, status: int) -> None:
    stored: list[date] = []
    app = member_app(
        stored, paths=["/signup"], fields=FieldMap(birthdate="dob"), block_cookie=False
    )
    with TestClient(app) as client:
        sent = {"email": "a@x", "dob": ADULT + suffix, "country": "GB"}
        assert client.post("/signup", json=sent).status_code == status
        minor = {"email": "a@x", "dob": MINOR + suffix, "country": "GB"}
        assert client.post("/signup", json=minor).status_code in (403, 422)
    assert stored == ([date.fromisoformat(ADULT)] if status == 201 else [])


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("Deutschland", "DE"),
        ("España", "ES"),
        ("Österreich", "AT"),
        ("British Columbia", "CA-BC"),
        ("Colombie-Britannique", "CA-BC"),
    ],
)
def test_common_country_spellings(country: str, code: str) -> None:
    decision = screen({"birthdate": ADULT, "country": country})
    assert decision.outcome.value == "ALLOW"
    assert decision.jurisdictions == (code,)


def test_a_subdivision_name_two_countries_have_is_ambiguous() -> None:
    decision = screen({"birthdate": ADULT, "country": "Punjab"})
    assert decision.reasons == (Reason.COUNTRY_AMBIGUOUS,)
    # A country's own name wins over a subdivision's (Georgia, US-GA).
    assert screen({"birthdate": ADULT, "country": "Georgia"}).jurisdictions == ("GE",)


def test_british_columbia_as_country_under_uvicorn() -> None:
    app = member_app(
        [], paths=["/signup"], fields=FieldMap(birthdate="dob"), block_cookie=False
    )
    with uvicorn_server(app) as base:
        sent = {"email": "a@x", "dob": years_ago(18), "country": "British Columbia"}
        assert httpx.post(base + "/signup", json=sent).status_code == 403
        sent["country"] = "UK"
        assert httpx.post(base + "/signup", json=sent).status_code == 201


# -- the block cookie in an app's own tests ----------------------------------


def test_a_shared_test_client_keeps_the_block_cookie() -> None:
    minor = {"email": "a@x", "dob": MINOR, "country": "GB"}
    adult = {"email": "a@x", "dob": ADULT, "country": "GB"}
    fields = FieldMap(birthdate="dob")
    with TestClient(
        member_app([], paths=["/signup"], fields=fields, secret=SECRET)
    ) as c:
        assert c.post("/signup", json=minor).status_code == 403
        assert c.post("/signup", json=adult).status_code == 403  # the cookie
    app = member_app([], paths=["/signup"], fields=fields, block_cookie=False)
    with TestClient(app) as client:
        assert client.post("/signup", json=minor).status_code == 403
        assert client.post("/signup", json=adult).status_code == 201


# -- the batch review reads several keys per field as the gate does ----------


def test_both_review_engines_read_several_keys_of_a_field_alike(
    tmp_path: Path,
) -> None:
    from agegate import Policy
    from agegate.review.batches import read_batches
    from agegate.review.columnar import review_batches
    from agegate.review.readers import read
    from agegate.review.reviewer import ReviewSettings
    from agegate.review.run import screen_batches

    today = date(2026, 11, 28)
    source = tmp_path / "accounts.csv"
    source.write_text(
        "account_id,birthdate,country,nation\n"
        "bc-18,2008-01-01,GB,British Columbia\n"
        "gb-de,1990-01-01,GB,DE\n"
        "uk-iso,2010-01-01T00:00:00.000Z,UK,\n"
        "atlantis,1990-01-01,GB,Atlantis\n"
        "de-name,2010-06-01,Deutschland,\n"
        "late-utc,2010-06-01T22:00:00.000Z,DE,\n",
        encoding="utf-8",
    )
    settings = ReviewSettings(
        today=today,
        secret=b"differential test key, 32 bytes",
        fields=FieldMap(country=("country", "nation")),
        policy=Policy(),
        locator="line",
    )

    def flags(batches: Any) -> list[tuple[str, tuple[str, ...], str | None]]:
        return [
            (f.account_id, f.codes, f.jurisdiction) for b in batches for f in b.flags
        ]

    with read(source) as items:
        rows = flags(screen_batches(items, settings, batch_size=7))
    columns = flags(review_batches(read_batches(source, batch_rows=5), settings))
    assert rows == columns
    found = {account: (codes, where) for account, codes, where in rows}
    assert found["bc-18"][1] == "CA-BC"  # 18 in Great Britain, 19 there
    assert found["uk-iso"][1] == "GB"
    assert found["de-name"][1] == "DE"
    assert "gb-de" not in found
    assert "atlantis" in found
    assert "late-utc" in found  # a shifted date is unreadable, never guessed
