"""The minor-report intake, served by uvicorn on a loopback port, filing flags
into a real SQLite store."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from agegate.apps.form_tokens import FORM_COOKIE, new_binding
from agegate.apps.report import RateLimit, form_token, identifier_hash, report_app
from agegate.apps.serve import serve
from agegate.asgi.negotiate import prefers_html
from agegate.flags import Flag, FlagCode, JsonlFlagSink, SqliteFlagStore
from agegate.flags.output import flag_to_dict

SECRET = "report-test-secret-0123456789"
EMAIL = "Young.Person@Example.org"
PHONE = "+44 20 7946 0321"
REPORT_ID = re.compile(r"rep-[0-9a-f]{16}")


class _ReportId:
    """Equal to any well-formed report id."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and REPORT_ID.fullmatch(other) is not None

    def __hash__(self) -> int:
        return 0


ANY_REPORT_ID = _ReportId()


def _token() -> tuple[str, dict[str, str]]:
    """A form token and the cookie header it is bound to, as a form page
    gives them to a browser."""
    binding = new_binding()
    return form_token(SECRET, binding), {"Cookie": f"{FORM_COOKIE}={binding}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteFlagStore]:
    with SqliteFlagStore(tmp_path / "flags.db") as flags:
        yield flags


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def base(store: SqliteFlagStore, clock: Clock) -> Iterator[str]:
    intake = report_app(
        store=store,
        secret=SECRET,
        rate_limit=RateLimit(reports=3, seconds=60),
        clock=clock,
        max_body=1024,
    )
    app = Starlette(routes=[Mount("/report", app=intake)])
    with serve(app) as url:
        yield url + "/report/"


def test_form_page_is_accessible_html(base: str) -> None:
    response = httpx.get(base)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="en">' in page
    for name in ("account_id", "email", "phone"):
        assert f'<label for="{name}">' in page
        assert f'id="{name}" name="{name}"' in page
    assert 'action="/report/"' in page
    assert "not meant for anyone under 18" in page


def test_json_report_by_account_id_files_a_verify_flag(
    base: str, store: SqliteFlagStore
) -> None:
    response = httpx.post(base, json={"account_id": "acct-42"})
    assert response.status_code == 202
    answer = response.json()
    assert answer == {"status": "accepted", "flags": 1, "report_id": ANY_REPORT_ID}
    [stored] = list(store.list())
    assert stored.flag.account_id == "acct-42"
    assert stored.flag.codes == (FlagCode.REPORTED,)
    assert stored.flag.action == "verify"
    assert stored.flag.source == "report"
    assert stored.status == "open"


def test_email_and_phone_are_kept_only_as_keyed_hashes(
    base: str, store: SqliteFlagStore
) -> None:
    token, cookie = _token()
    response = httpx.post(
        base, data={"email": EMAIL, "phone": PHONE, "form_token": token}, headers=cookie
    )
    assert response.status_code == 202
    ids = sorted(s.flag.account_id for s in store.list())
    assert ids == sorted(
        [
            identifier_hash("email", EMAIL, SECRET),
            identifier_hash("phone", PHONE, SECRET),
        ]
    )
    # The same address written differently is the same account.
    assert identifier_hash("email", " young.person@example.ORG ", SECRET) in ids
    assert identifier_hash("phone", "+442079460321", SECRET) in ids
    # Another operator's secret gives other ids.
    assert identifier_hash("email", EMAIL, "another-secret-0123456789") not in ids
    raw = (Path(store.path)).read_bytes()
    with sqlite3.connect(store.path) as db:
        dump = "\n".join(db.iterdump())
    for clear in ("young.person", "Young.Person", "7946", "example.org"):
        assert clear not in dump
        assert clear.encode() not in raw


def test_multipart_report_is_read(base: str, store: SqliteFlagStore) -> None:
    token, cookie = _token()
    fields = {"account_id": (None, "acct-7"), "form_token": (None, token)}
    response = httpx.post(base, files=fields, headers=cookie)
    assert response.status_code == 202
    assert [s.flag.account_id for s in store.list()] == ["acct-7"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({}, "account_id", "IDENTIFIER_MISSING"),
        ({"account_id": "  "}, "account_id", "IDENTIFIER_MISSING"),
        ({"email": "not-an-address"}, "email", "EMAIL_MALFORMED"),
        ({"phone": "020 7946 0321"}, "phone", "PHONE_INVALID"),
        ({"phone": "+1 555"}, "phone", "PHONE_INVALID"),
        ({"account_id": "someone@example.org"}, "account_id", "ACCOUNT_ID_MALFORMED"),
        ({"account_id": "<script>"}, "account_id", "ACCOUNT_ID_MALFORMED"),
        ({"account_id": 42}, "account_id", "NOT_TEXT"),
        ({"account_id": "a" * 400}, "account_id", "TOO_LONG"),
    ],
)
def test_invalid_report_is_422_naming_the_field(
    base: str, store: SqliteFlagStore, body: dict[str, object], field: str, reason: str
) -> None:
    response = httpx.post(base, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["fields"] == [field]
    assert problem["errors"] == [{"field": field, "reason": reason}]
    text = response.text
    for value in ("not-an-address", "7946", "someone@example.org"):
        assert value not in text
    assert store.count() == 0


def test_invalid_html_report_shows_the_form_again(base: str) -> None:
    token, cookie = _token()
    response = httpx.post(
        base,
        data={"email": "nope", "form_token": token},
        headers={"Accept": "text/html", **cookie},
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert 'id="email"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "nope" not in response.text


def test_accepted_html_report_thanks_the_reporter(base: str) -> None:
    token, cookie = _token()
    response = httpx.post(
        base,
        data={"account_id": "acct-1", "form_token": token},
        headers={"Accept": "text/html", **cookie},
    )
    assert response.status_code == 202
    assert 'id="received"' in response.text


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (
            b'{"account_id": "a", "account_id": "b"}',
            "application/json",
            400,
            "KEY_REPEATED",
        ),
        (b"[1, 2]", "application/json", 400, "BODY_NOT_OBJECT"),
        (b"{not json", "application/json", 400, "BODY_MALFORMED"),
        (b"\xff\xfe", "application/x-www-form-urlencoded", 400, "BODY_ENCODING"),
        (
            b"account_id=a&account_id=b",
            "application/x-www-form-urlencoded",
            400,
            "FIELD_REPEATED",
        ),
        (b"account_id=a", "text/plain", 415, "MEDIA_TYPE_UNSUPPORTED"),
        (b"account_id=a", "", 415, "MEDIA_TYPE_UNSUPPORTED"),
        (
            b'{"account_id": "' + b"a" * 2000 + b'"}',
            "application/json",
            413,
            "BODY_TOO_LARGE",
        ),
    ],
)
def test_unreadable_bodies_are_refused(
    base: str,
    store: SqliteFlagStore,
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(base, content=content, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert store.count() == 0


def test_chunked_body_over_the_cap_is_413(base: str, store: SqliteFlagStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"account_id": "'
        for _ in range(40):
            yield b"a" * 64
        yield b'"}'

    response = httpx.post(
        base, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "BODY_TOO_LARGE"
    assert store.count() == 0


def test_rate_limit_per_client_address(
    base: str, store: SqliteFlagStore, clock: Clock
) -> None:
    for number in range(3):
        assert httpx.post(base, json={"account_id": f"a{number}"}).status_code == 202
    limited = httpx.post(base, json={"account_id": "a3"})
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    assert limited.headers["retry-after"] == "60"
    assert store.count() == 3
    # Malformed reports do not use up the allowance, nor are they limited
    # before being read.
    assert httpx.post(base, json={"email": "x"}).status_code == 422
    clock.now += 61
    assert httpx.post(base, json={"account_id": "a3"}).status_code == 202
    assert store.count() == 4


def test_the_same_report_again_that_day_keeps_the_review_decision(
    base: str, store: SqliteFlagStore
) -> None:
    assert httpx.post(base, json={"account_id": "acct-9"}).status_code == 202
    assert store.resolve("acct-9", "dismissed", by="reviewer") == 1
    # Sent again the same day: the reviewer's decision stands.
    assert httpx.post(base, json={"account_id": "acct-9"}).status_code == 202
    [stored] = list(store.list(account_id="acct-9"))
    assert stored.status == "dismissed"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"secret": "short"}, ValueError),
        ({"secret": 12345}, TypeError),
        ({"max_body": 10}, ValueError),
        ({"rate_limit": {"reports": 3}}, TypeError),
        ({"store": object()}, TypeError),
    ],
)
def test_bad_configuration_is_refused(
    store: SqliteFlagStore, kwargs: dict[str, object], error: type[Exception]
) -> None:
    settings: dict[str, object] = {"store": store, "secret": SECRET, **kwargs}
    with pytest.raises(error):
        report_app(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"reports": 0}, ValueError),
        ({"reports": True}, TypeError),
        ({"seconds": 0}, ValueError),
        ({"max_clients": 0}, ValueError),
    ],
)
def test_bad_rate_limit_is_refused(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        RateLimit(**kwargs)  # type: ignore[arg-type]


def test_identifier_hash_refuses_unusable_values_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="email") as caught:
        identifier_hash("email", "no-at-sign", SECRET)
    assert "no-at-sign" not in str(caught.value)
    with pytest.raises(ValueError, match="kind"):
        identifier_hash("account_id", "x", SECRET)


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("application/json;q=0.1, text/html;q=0.9", True),
        ("text/html;q=0, application/json", False),
        ("*/*", False),
    ],
)
def test_the_intake_negotiates_as_the_gate_does(
    base: str, accept: str, html: bool
) -> None:
    response = httpx.post(
        base, json={"account_id": "acct-7"}, headers={"Accept": accept}
    )
    assert response.status_code == 202
    assert response.headers["content-type"].startswith("text/html") is html
    assert prefers_html(accept) is html


def test_one_report_links_its_flags_by_one_report_id(
    base: str, store: SqliteFlagStore
) -> None:
    response = httpx.post(base, json={"account_id": "acct-5", "email": EMAIL})
    assert response.status_code == 202
    answer = response.json()
    assert answer["flags"] == 2
    assert REPORT_ID.fullmatch(answer["report_id"])
    flags = {s.flag.account_id: s.flag for s in store.list()}
    assert set(flags) == {"acct-5", identifier_hash("email", EMAIL, SECRET)}
    assert {f.report_id for f in flags.values()} == {answer["report_id"]}
    # The id names no one: neither the e-mail address nor the account.
    assert "acct" not in answer["report_id"]
    assert "example" not in answer["report_id"].lower()


def test_a_form_report_with_three_identifiers_files_three_linked_flags(
    base: str, store: SqliteFlagStore
) -> None:
    token, cookie = _token()
    fields = {
        "account_id": "acct-6",
        "email": EMAIL,
        "phone": PHONE,
        "form_token": token,
    }
    assert httpx.post(base, data=fields, headers=cookie).status_code == 202
    ids = {s.flag.report_id for s in store.list()}
    assert store.count() == 3
    assert len(ids) == 1
    assert REPORT_ID.fullmatch(str(ids.pop()))


def test_separate_reports_get_separate_ids(base: str, store: SqliteFlagStore) -> None:
    first = httpx.post(base, json={"account_id": "acct-a", "phone": PHONE})
    second = httpx.post(base, json={"account_id": "acct-b"})
    assert first.status_code == second.status_code == 202
    assert first.json()["report_id"] != second.json()["report_id"]
    by_account = {s.flag.account_id: s.flag.report_id for s in store.list()}
    assert by_account["acct-a"] == first.json()["report_id"]
    assert (
        by_account[identifier_hash("phone", PHONE, SECRET)]
        == (first.json()["report_id"])
    )
    assert by_account["acct-b"] == second.json()["report_id"]


def test_a_repeated_report_links_the_flags_of_the_latest(
    base: str, store: SqliteFlagStore
) -> None:
    first = httpx.post(base, json={"account_id": "acct-r"}).json()["report_id"]
    second = httpx.post(base, json={"account_id": "acct-r", "email": EMAIL})
    latest = second.json()["report_id"]
    assert latest != first
    # The account named again the same day keeps its flag as it was (no
    # reopening) but is linked to the e-mail address of the latest report.
    assert {s.flag.report_id for s in store.list()} == {latest}
    assert store.count() == 2


def test_the_store_round_trips_the_report_id(store: SqliteFlagStore) -> None:
    store.add_many(
        [
            Flag("acct-1", ("REPORTED",), "verify", source="report", report_id="rep-1"),
            Flag("acct-2", ("MINOR_NOW",), "remove"),
        ]
    )
    found = {s.flag.account_id: s.flag.report_id for s in store.list()}
    assert found == {"acct-1": "rep-1", "acct-2": None}


def test_flag_writers_carry_the_report_id(tmp_path: Path) -> None:
    flag = Flag("acct-1", ("REPORTED",), "verify", source="report", report_id="rep-9")
    assert flag_to_dict(flag)["report_id"] == "rep-9"
    sink = JsonlFlagSink(tmp_path / "flags.jsonl")
    sink.add(flag)
    assert '"report_id": "rep-9"' in (tmp_path / "flags.jsonl").read_text()


def test_a_store_made_before_report_ids_opens_and_gains_the_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE flags (account_id TEXT NOT NULL, source TEXT NOT NULL,"
            " codes TEXT NOT NULL, action TEXT NOT NULL, jurisdiction TEXT,"
            " required_age INTEGER, fingerprint TEXT,"
            " status TEXT NOT NULL DEFAULT 'open', raised_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL, resolved_by TEXT, resolved_at TEXT,"
            " resolution_note TEXT, PRIMARY KEY (account_id, source))"
        )
        db.execute(
            "INSERT INTO flags (account_id, source, codes, action, raised_at,"
            " updated_at) VALUES ('old', 'report', '[\"REPORTED\"]', 'verify',"
            " '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00')"
        )
    db.close()
    with SqliteFlagStore(path) as flags:
        [old] = list(flags.list())
        assert old.flag.report_id is None
        flags.add(
            Flag("new", ("REPORTED",), "verify", source="report", report_id="rep-2")
        )
        found = {s.flag.account_id: s.flag.report_id for s in flags.list()}
    assert found == {"old": None, "new": "rep-2"}
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(flags)")}
    db.close()
    assert {"report_id", "line", "input_rowid"} <= columns
