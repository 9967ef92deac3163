"""A small signup service gated by AgeGateMiddleware: the app `agegate demo`
serves and QA's example requests run against.

Routes:
  GET  /                      the signup page: a neutral age screen (no hint of
                              the age that passes) that links to /who-can-use
  GET  /who-can-use           who may use the service, and what a minor should do
  POST /signup                the page's form (HTML answers)
  POST /api/signup            the JSON signup API (JSON answers)
  PATCH /accounts/{id}        a profile update by the account's holder (the
                              token signup gave, as `Authorization: Bearer`);
                              an underage birthdate raises a removal flag
  GET  /accounts/{id}         an account's id, country and creation time
  GET  /admin/stats           how many accounts and open flags exist
  GET  /admin/flags           the open flags (they hold no personal data);
                              needs the admin token, as a bearer header or
                              `?token=`
  GET|POST /report-a-minor/   the minor-report intake
  /assurance/...              age assurance: Great Britain needs a
                              HIGHLY_EFFECTIVE proof (begin, complete, webhooks)
  /test-provider/             a TEST age-check provider (not a real check)
  /test-wallet/               a TEST wallet (only with `test_wallet_origin`:
                              `agegate demo --test-wallet`)

The holder of an account is known through Starlette's
`AuthenticationMiddleware`, which puts the user in `scope["user"]`: that is
where the gate looks for the account a profile flag may name, so an anonymous
update is refused without filing a flag for anyone.

Accounts live in `accounts.db` and flags in `flags.db`, both SQLite files in
the data directory, so a tester can see that a blocked signup stored nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import secrets
import sqlite3
import string
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ..asgi.middleware import AgeGateMiddleware
from ..asgi.notice import Notice
from ..asgi.pages import page
from ..flags import SqliteFlagStore, flag_to_dict
from ..place_names import Language, country_choices
from ..policy import FieldMap, Policy
from ..rules import Rules
from .assurance import assurance_app
from .demo_assurance import (
    ASSURANCE_PATH,
    TEST_PATH,
    demo_policy,
    new_test_key,
    test_provider,
    test_provider_app,
)
from .demo_wallet import (
    SCRIPT_PATH,
    TEST_WALLET_PATH,
    test_wallet_app,
    test_wallet_verifier,
)
from .report import RateLimit, report_app

logger = logging.getLogger("agegate.demo")

SERVICE = "Example Voice"
SIGNUP_PATHS = ("/signup", "/api/signup")
PROFILE_PATH = "/accounts/{account_id}"
REPORT_PATH = "/report-a-minor"
WHO_PATH = "/who-can-use"
MAX_BODY = 8 * 1024
_SECRET_FILE = "secret.key"  # noqa: S105 (a file name, not a secret)
_FIELDS = ("birthdate", "country", "subdivision", "phone", "email")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    phone TEXT,
    birthdate TEXT NOT NULL,
    country TEXT,
    subdivision TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""
# A table of its own, so a data directory from an older demo still opens.
_TOKENS = """
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL
)
"""


def _token_hash(token: str) -> str:
    # Only a hash is kept: a copy of the database holds no usable token.
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Accounts:
    """The example's account table."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.execute(_TOKENS)

    def create(self, data: dict[str, str]) -> tuple[str, str]:
        """A new account's id, and the token its holder signs in with."""
        # Letters only: an id with a long run of digits would read like a
        # phone number in logs and in reviewers' eyes.
        account_id = "acct-" + "".join(
            secrets.choice(string.ascii_lowercase) for _ in range(12)
        )
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._db.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    data["email"],
                    data.get("phone"),
                    data["birthdate"],
                    data.get("country"),
                    data.get("subdivision"),
                    now,
                    now,
                ),
            )
            token = secrets.token_urlsafe(32)
            self._db.execute(
                "INSERT INTO tokens VALUES (?, ?)", (_token_hash(token), account_id)
            )
        return account_id, token

    def holder_of(self, token: str) -> str | None:
        """The account a token belongs to, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT account_id FROM tokens WHERE token_hash = ?",
                (_token_hash(token),),
            ).fetchone()
        return None if row is None else str(row[0])

    def update(self, account_id: str, data: dict[str, str]) -> bool:
        changes = {k: v for k, v in data.items() if k in _FIELDS}
        now = datetime.now(UTC).isoformat()
        with self._lock:
            if not self.exists(account_id, locked=True):
                return False
            for column, value in changes.items():
                # Column names come from the fixed _FIELDS tuple, never input.
                self._db.execute(
                    f"UPDATE accounts SET {column} = ?, updated_at = ? WHERE id = ?",  # noqa: S608
                    (value, now, account_id),
                )
        return True

    def exists(self, account_id: str, *, locked: bool = False) -> bool:
        query = "SELECT 1 FROM accounts WHERE id = ?"
        if locked:
            return self._db.execute(query, (account_id,)).fetchone() is not None
        with self._lock:
            return self._db.execute(query, (account_id,)).fetchone() is not None

    def public(self, account_id: str) -> dict[str, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, country, created_at FROM accounts WHERE id = ?",
                (account_id,),
            ).fetchone()
        if row is None:
            return None
        return {"id": row[0], "country": row[1], "created_at": row[2]}

    def count(self) -> int:
        with self._lock:
            value: int = self._db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
        return value

    def close(self) -> None:
        with self._lock:
            self._db.close()


def load_or_create_secret(data_dir: Path) -> str:
    """The data directory's secret, created on first use, readable by its owner
    only; a stable secret keeps report hashes comparable across restarts."""
    path = data_dir / _SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    return value


def _page(title: str, body: str) -> str:
    return page(title, body)


def _country_options(language: Language = "en") -> str:
    # Sorted as the reader reads, accents folded: not by code point.
    return '<option value="">Choose a country</option>' + "".join(
        f'<option value="{code}">{html.escape(name)}</option>'
        for code, name in country_choices(language)
    )


# The signup page is a neutral age screen, as the FTC's COPPA guidance asks:
# the date of birth is asked with no hint of the age that passes and no
# pre-filled date, so that it does not invite a child to lie. Who may use the
# service is one plainly linked click away (WHO_PATH), and the gate's block
# notice tells a minor, after the screen, not to send personal data.
_FIELDS_HTML = (
    '<label for="birthdate">Date of birth</label>'
    '<input id="birthdate" name="birthdate" type="date" required'
    ' autocomplete="bday">'
    '<label for="country">Country where you live</label>'
    '<select id="country" name="country" required>{countries}</select>'
    '<label for="subdivision">Province, state or region</label>'
    '<input id="subdivision" name="subdivision" aria-describedby="subdivision-hint"'
    ' autocomplete="address-level1">'
    '<p class="hint" id="subdivision-hint">For example BC, Ontario or MS.</p>'
    '<label for="phone">Phone number</label>'
    '<input id="phone" name="phone" type="tel" autocomplete="tel"'
    ' aria-describedby="phone-hint">'
    '<p class="hint" id="phone-hint">International form, for example'
    " +1 604 555 0100.</p>"
    '<label for="email">E-mail address</label>'
    '<input id="email" name="email" type="email" required autocomplete="email">'
)


def signup_page() -> str:
    fields = _FIELDS_HTML.format(countries=_country_options())
    return _page(
        f"Sign up - {SERVICE}",
        f"<h1>Sign up for {SERVICE}</h1>"
        f'<p><a href="{WHO_PATH}" id="who-link">Who can use this service</a></p>'
        f'<form method="post" action="/signup" id="signup">{fields}'
        '<button type="submit">Create my account</button></form>',
    )


def who_page() -> str:
    """Who may use the service, and what a younger person should do."""
    return _page(
        f"Who can use {SERVICE}",
        f'<h1 id="who">Who can use {SERVICE}</h1>'
        f"<p>{SERVICE} is only for adults: you must be 18 or older, or older"
        " still if the legal age where you live is higher.</p>"
        "<p>If you are younger, please do not sign up and do not send us any"
        " personal information, not even your e-mail address or phone"
        " number.</p>"
        f'<p>If a minor has already given us their details, <a href="{REPORT_PATH}/">'
        "tell us</a> and we will delete them.</p>"
        '<p><a href="/">Back to the sign-up page</a></p>',
    )


def created_page(account_id: str, token: str) -> str:
    return _page(
        f"Welcome - {SERVICE}",
        f'<h1 id="welcome">Welcome to {SERVICE}</h1>'
        f"<p>Your account <code>{html.escape(account_id)}</code> is ready.</p>"
        "<p>To change your profile through the API, send this token as"
        f" <code>Authorization: Bearer</code>: <code>{html.escape(token)}</code></p>",
    )


def _bearer(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    return value


class AccountTokens(AuthenticationBackend):
    """Signs in the holder of an account by the token signup gave them.

    An unknown or missing token is an anonymous request, not an error: the
    routes that need a holder say so themselves.
    """

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, BaseUser] | None:
        token = _bearer(conn)
        if token is None:
            return None
        account_id = await run_in_threadpool(self.accounts.holder_of, token)
        if account_id is None:
            return None
        return AuthCredentials(["account"]), SimpleUser(account_id)


def admin_allowed(request: Request, admin_token: str) -> bool:
    """Whether the request carries the admin token, as a bearer header or
    `?token=`; compared in constant time."""
    given = _bearer(request) or request.query_params.get("token") or ""
    return hmac.compare_digest(given.encode("utf-8", "replace"), admin_token.encode())


def _unauthorized(title: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": 401}
    return JSONResponse(
        body,
        status_code=401,
        media_type="application/problem+json",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _fields(request: Request) -> dict[str, str] | None:
    """The body's known fields as text, read as JSON or as a form.

    The gate has already refused what it cannot read; this is the app's own
    parse of the same bytes.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: Any
    if media == "application/json":
        try:
            raw = json.loads(await request.body())
        except ValueError:
            return None
    else:
        async with request.form(max_files=0) as form:
            raw = {k: v for k, v in form.items() if isinstance(v, str)}
    if not isinstance(raw, dict):
        return None
    return {
        k: str(v).strip()
        for k, v in raw.items()
        if k in _FIELDS and isinstance(v, str | int) and str(v).strip()
    }


@attrs.frozen
class _Handlers:
    """The app's own routes, over its account table and flag store."""

    accounts: Accounts
    flags: SqliteFlagStore
    admin_token: str

    async def home(self, request: Request) -> Response:
        return HTMLResponse(signup_page())

    async def who(self, request: Request) -> Response:
        return HTMLResponse(who_page())

    async def signup(self, request: Request) -> Response:
        wants_json = request.url.path == "/api/signup"
        data = await _fields(request)
        if data is None or "email" not in data:
            body = {
                "type": "about:blank",
                "title": "e-mail address missing",
                "status": 422,
                "fields": ["email"],
            }
            return JSONResponse(
                body, status_code=422, media_type="application/problem+json"
            )
        account_id, token = await run_in_threadpool(self.accounts.create, data)
        logger.info("account created: id=%s", account_id)
        if wants_json:
            return JSONResponse({"id": account_id, "token": token}, status_code=201)
        return HTMLResponse(created_page(account_id, token), status_code=201)

    async def update(self, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        if not request.user.is_authenticated:
            return _unauthorized("sign in with the token signup gave")
        if request.user.identity != account_id:
            # Not the holder: said as "no such account", to hide which exist.
            return JSONResponse({"title": "no such account"}, status_code=404)
        data = await _fields(request)
        if data is None:
            return JSONResponse({"title": "unreadable body"}, status_code=400)
        found = await run_in_threadpool(self.accounts.update, account_id, data)
        if not found:
            return JSONResponse({"title": "no such account"}, status_code=404)
        logger.info("account updated: id=%s fields=%s", account_id, ",".join(data))
        return JSONResponse({"id": account_id, "updated": sorted(data)})

    async def show(self, request: Request) -> Response:
        account = await run_in_threadpool(
            self.accounts.public, request.path_params["account_id"]
        )
        if account is None:
            return JSONResponse({"title": "no such account"}, status_code=404)
        return JSONResponse(account)

    async def stats(self, request: Request) -> Response:
        return JSONResponse(
            {
                "accounts": await run_in_threadpool(self.accounts.count),
                "flags_open": await run_in_threadpool(self.flags.count, "open"),
            }
        )

    async def open_flags(self, request: Request) -> Response:
        if not admin_allowed(request, self.admin_token):
            return _unauthorized("the admin token is needed")
        found = await run_in_threadpool(lambda: list(self.flags.list(status="open")))
        return JSONResponse([flag_to_dict(s.flag) for s in found])

    def routes(self, intake: Any, extra: list[BaseRoute]) -> list[BaseRoute]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route(WHO_PATH, self.who, methods=["GET"]),
            Route("/signup", self.signup, methods=["POST"]),
            Route("/api/signup", self.signup, methods=["POST"]),
            Route(PROFILE_PATH, self.update, methods=["PATCH"]),
            Route(PROFILE_PATH, self.show, methods=["GET"]),
            Route("/admin/stats", self.stats, methods=["GET"]),
            Route("/admin/flags", self.open_flags, methods=["GET"]),
            Mount(REPORT_PATH, app=intake),
            *extra,
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        self.accounts.close()
        self.flags.close()


def _checked_admin_token(admin_token: str | None) -> str:
    if admin_token is None:
        return secrets.token_urlsafe(24)
    if not isinstance(admin_token, str) or len(admin_token) < 16:
        raise ValueError("admin_token must be a string of at least 16 characters")
    return admin_token


def create_app(
    data_dir: str | os.PathLike[str],
    *,
    secret: str | None = None,
    rules: Rules | None = None,
    report_limit: RateLimit | None = None,
    admin_token: str | None = None,
    test_wallet_origin: str | None = None,
) -> Starlette:
    """The example app with its SQLite files in `data_dir` (created if needed).

    `secret` keys the gate's block cookie and the report hashes; by default a
    random one is kept in the data directory. `admin_token` opens
    `/admin/flags`; by default a new random one, in `app.state.admin_token`.
    `test_wallet_origin` (the origin the browser shows, such as
    `http://127.0.0.1:8000`) turns on the TEST wallet and a wallet verifier
    that trusts its TEST issuer; without it the demo has no wallet at all.
    """
    token_of_admin = _checked_admin_token(admin_token)
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    key = secret if secret is not None else load_or_create_secret(directory)
    accounts = Accounts(directory / "accounts.db")
    flags = SqliteFlagStore(directory / "flags.db")
    handlers = _Handlers(accounts, flags, token_of_admin)
    # Generous enough for QA to replay the catalogue again and again.
    limit = report_limit if report_limit is not None else RateLimit(30, 60)
    intake = report_app(store=flags, secret=key, rate_limit=limit, service_name=SERVICE)
    # Great Britain asks for a verified proof; the TEST provider gives one.
    test_key = new_test_key()
    provider = test_provider(test_key)
    extra: list[BaseRoute] = [
        Mount(TEST_PATH, app=test_provider_app(provider, test_key))
    ]
    if test_wallet_origin is None:
        assurance = demo_policy(key, provider)
    else:
        verifier, wallet = test_wallet_verifier(test_wallet_origin)
        assurance = demo_policy(key, provider, verifier, SCRIPT_PATH)
        extra.append(Mount(TEST_WALLET_PATH, app=test_wallet_app(wallet)))
    # A tester replays the catalogue and the wallet flow many times a minute.
    checks = assurance_app(assurance, rate_limit=RateLimit(300, 60))
    extra.append(Mount(ASSURANCE_PATH, app=checks))
    app = Starlette(routes=handlers.routes(intake, extra), lifespan=handlers.lifespan)
    app.add_middleware(
        AgeGateMiddleware,
        paths=list(SIGNUP_PATHS),
        fields=FieldMap(),
        policy=Policy(),
        secret=key,
        rules=rules,
        profile_paths=[PROFILE_PATH],
        flag_sink=flags,
        # A signup form is well under 1 KiB; a small cap keeps QA's
        # oversized example small too.
        max_body_size=MAX_BODY,
        # The block notice says where to ask for a minor's data to go: the
        # demo's own report intake.
        notice=Notice(service_name=SERVICE, contact_url=f"{REPORT_PATH}/"),
        # A refused form links back to the signup page.
        form_url="/",
        assurance=assurance,
    )
    # Added last, so it runs first: the gate then finds the holder in
    # scope["user"] and files a profile flag only for them.
    app.add_middleware(AuthenticationMiddleware, backend=AccountTokens(accounts))
    app.state.accounts = accounts
    app.state.admin_token = token_of_admin
    app.state.flags = flags
    app.state.data_dir = directory
    return app
