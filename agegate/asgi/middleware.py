"""AgeGateMiddleware: a pure ASGI age gate for signup and profile-update routes.

    app.add_middleware(AgeGateMiddleware, paths=["/signup"], secret=SECRET)

On a gated route the gate reads the whole body (up to a cap), reads it as the
app will, screens it with `screen()` and either passes the exact bytes on,
with the Decision in `scope["state"]["agegate"]`, or answers itself: 403
notice, 422, 400, 413, 415 or 431. A websocket handshake on a gated path is
refused (closed before accept, code 1008, or an HTTP 403 where the server
offers `websocket.http.response`) unless `websockets="pass"`. Anything else,
lifespan scopes and ungated paths included, passes through untouched and
unbuffered.

Which requests on a gated route are screened: every request with a body,
every POST, PUT and PATCH (even with an empty body), and every request whose
query string carries a gated field (FastAPI reads scalar parameters from the
query). A GET, HEAD, OPTIONS or DELETE without a body or gated query fields
passes, so the signup page itself still loads.

Profile-update routes (`profile_paths`) are screened whenever the update
carries any mapped birth key (date, year, month, day or age; in the body or
the query, whatever its value); only an update with none passes untouched.
A birth key the update holds two ways (a literal `"user.dob"` beside a nested
`{"user": {"dob": ...}}`) is refused 400, and an update with only part of a
birthdate (a month or day without the year, or a year without the mapped
month and day) is refused 422 BIRTHDATE_PARTIAL: the gate cannot see the
stored part, so the client must send the whole date. When the update shows
the account holder is under the required age, it is blocked; a
PROFILE_UNDERAGE removal flag goes to the flag sink only when `account_of`
says the request comes from the holder of that account (by default
Starlette's `scope["user"]`, set by `AuthenticationMiddleware`, which must
run before the gate). The account id is the route's path parameter
(`/accounts/{account_id}`: the one parameter of the template, or the one named
by `account_id_param`); a template without parameters takes it from the body
field that `fields.account_id` names. An id a flag store will not keep (over
256 characters, not encodable as UTF-8) is refused 400 ACCOUNT_ID_INVALID.
The block cookie applies to signup routes only: a profile update is judged on
the account's own data.

A cross-site request (`Sec-Fetch-Site: cross-site`, or an `Origin` whose host
is not the request's `Host`) that shows a minor is refused like any other,
but sets no block cookie: another site could otherwise lock a visitor's
browser out of the signup form.

An update that changes the birthdate without naming a jurisdiction is
answered 422 like a signup, unless the policy says
`when_no_jurisdiction="minimum_age"`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..decision import Decision, Outcome, Reason
from ..errors import AccountIdInvalid
from ..flags.store import (
    Flag,
    FlagCode,
    FlagSink,
    SqliteFlagStore,
    account_id_problem,
    open_sink,
)
from ..policy import FieldMap, Policy
from ..rules import Rules, load_rules
from ..screen import lookup, present_birth_keys, screen
from . import notice
from .body import (
    Code,
    Disconnected,
    Limits,
    Refused,
    check_cookie_escapes,
    check_header_sizes,
    classify,
    declared_length,
    header_values,
    merge,
    read_body,
    read_query,
    read_record,
    single_header,
)
from .cookie import DEFAULT_MAX_AGE, BlockCookie, SameSite
from .negotiate import choose_language, prefers_html
from .routes import Match, Route, Router

logger = logging.getLogger("agegate.middleware")

# A birthdate is read from a full date, a birth year (with its parts) or an age.
_BIRTH_SOURCES = ("birthdate", "birth_year", "age")
_WHOLE_ON_THEIR_OWN = ("birthdate", "age")
_DATE_PARTS = ("birth_year", "birth_month", "birth_day")
_ALWAYS_SCREENED_METHODS = frozenset({"POST", "PUT", "PATCH"})

AccountOf = Callable[[Scope], "str | None"]
WebsocketPolicy = Literal["refuse", "pass"]


def starlette_user(scope: Scope) -> str | None:
    """The authenticated user's identity that Starlette's
    `AuthenticationMiddleware` put in `scope["user"]`, or None."""
    user = scope.get("user")
    if user is None:
        return None
    try:
        if getattr(user, "is_authenticated", False) is not True:
            return None
        identity = user.identity
    except Exception:  # a user class of the app's own that cannot say
        return None
    return identity if isinstance(identity, str) and identity else None


def _paths(value: Any, name: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} is a list of paths, e.g. {name}=['/signup']")
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} is a list of paths") from None


class AgeGateMiddleware:
    """Screens signups and profile updates before the app sees them.

    paths: signup routes (`/signup`, `/v1/{tenant}/register`).
    profile_paths: profile-update routes (`/accounts/{account_id}`).
    fields, policy, rules: as for `screen()` (rules: the bundled tables).
    secret: key of the signed block cookie (at least 16 bytes). Required
        unless `block_cookie=False`.
    flag_sink: a FlagSink, or a path (`.jsonl` for JSON Lines, else SQLite);
        required with profile_paths.
    trusted_country_header: the header in which a proxy the operator trusts
        puts the client's IP country (e.g. "cf-ipcountry"). Off by default: a
        client can send any header.
    max_body_size: bytes read at most (default 64 KiB); larger is a 413.
    max_header_size: bytes of one header value at most on a gated route
        (default 8 KiB); longer is a 431.
    account_of: scope -> the id of the account the request is authenticated
        as, or None. A profile flag is filed only when it equals the path's
        account id. Default: `starlette_user` (Starlette's `scope["user"]`).
    websockets: "refuse" (default) closes a websocket handshake on a gated
        path before it is accepted; "pass" hands it to the app ungated.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        paths: Iterable[str] = (),
        fields: FieldMap | None = None,
        policy: Policy | None = None,
        secret: str | bytes | None = None,
        rules: Rules | None = None,
        profile_paths: Iterable[str] = (),
        account_id_param: str | None = None,
        flag_sink: FlagSink | str | os.PathLike[str] | None = None,
        block_cookie: bool = True,
        cookie_name: str = "agegate_block",
        cookie_max_age: int = DEFAULT_MAX_AGE,
        cookie_same_site: SameSite = "lax",
        cookie_secure: bool | None = None,
        trusted_country_header: str | None = None,
        max_body_size: int = 64 * 1024,
        max_fields: int = 256,
        max_files: int = 16,
        max_header_size: int = 8 * 1024,
        account_of: AccountOf | None = None,
        websockets: WebsocketPolicy = "refuse",
    ) -> None:
        self.app = app
        if websockets not in ("refuse", "pass"):
            raise ValueError('websockets is "refuse" or "pass"')
        self.websockets = websockets
        if account_of is not None and not callable(account_of):
            raise TypeError("account_of is a callable: scope -> account id or None")
        self.account_of: AccountOf = (
            account_of if account_of is not None else starlette_user
        )
        self.fields = fields if fields is not None else FieldMap()
        self.policy = policy if policy is not None else Policy()
        if not isinstance(self.fields, FieldMap):
            raise TypeError("fields must be a FieldMap")
        if not isinstance(self.policy, Policy):
            raise TypeError("policy must be a Policy")
        if rules is not None and not isinstance(rules, Rules):
            raise TypeError("rules must be a Rules (see load_rules)")
        self.rules = rules if rules is not None else load_rules()

        signup = [Route.from_template(p, "signup") for p in _paths(paths, "paths")]
        profile = [
            Route.from_template(p, "profile")
            for p in _paths(profile_paths, "profile_paths")
        ]
        if not signup and not profile:
            raise ValueError("give at least one gated path (paths or profile_paths)")
        self.router = Router(signup + profile)
        self.account_id_param = account_id_param
        for route in profile:
            self._check_account_source(route)

        if profile and flag_sink is None:
            raise ValueError("profile_paths need a flag_sink (a FlagSink or a path)")
        # A store opened here from a path is closed here, at lifespan shutdown.
        self._opened_sink: FlagSink | None = None
        if isinstance(flag_sink, str | os.PathLike):
            flag_sink = self._opened_sink = open_sink(flag_sink)
        self.flag_sink = flag_sink

        if block_cookie:
            if secret is None:
                raise ValueError(
                    "the block cookie needs a secret: pass secret=..., or "
                    "block_cookie=False to run without it"
                )
            self.cookie: BlockCookie | None = BlockCookie(
                secret,
                name=cookie_name,
                max_age=cookie_max_age,
                same_site=cookie_same_site,
                secure=cookie_secure,
            )
        else:
            self.cookie = None

        if trusted_country_header is not None and (
            not isinstance(trusted_country_header, str)
            or not trusted_country_header.strip()
        ):
            raise ValueError("trusted_country_header is a header name")
        self.trusted_country_header = (
            trusted_country_header.strip().lower().encode("latin-1")
            if trusted_country_header
            else None
        )
        for name, limit in (
            ("max_body_size", max_body_size),
            ("max_fields", max_fields),
            ("max_files", max_files),
            ("max_header_size", max_header_size),
        ):
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError(f"{name} must be an int")
            if limit < (1 if name != "max_files" else 0):
                raise ValueError(f"{name} is too small")
        self.limits = Limits(max_body_size, max_fields, max_files)
        self.max_header_size = max_header_size
        self.gated = frozenset(self.fields.screened_keys())
        if not any(self.fields.keys_of(f) for f in _BIRTH_SOURCES):
            raise ValueError("fields must map birthdate, birth_year or age")

    def _check_account_source(self, route: Route) -> None:
        param = self.account_id_param
        if param is not None and param not in route.params:
            raise ValueError(f"profile path {route.template} has no {{{param}}}")
        if param is None and len(route.params) > 1:
            raise ValueError(
                f"profile path {route.template} has several parameters: "
                "name the account's with account_id_param"
            )
        if not route.params and self.fields.account_id is None:
            raise ValueError(
                f"profile path {route.template} has no parameter and "
                "fields.account_id is None: no account id to flag"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and isinstance(
            self._opened_sink, SqliteFlagStore
        ):
            await self.app(scope, receive, _closing(send, self._opened_sink))
            return
        if scope["type"] == "websocket" and self.websockets == "refuse":
            match = self.router.match(scope)
            if match is not None:
                await _refuse_websocket(match.route, scope, receive, send)
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = self.router.match(scope)
        if match is None:
            await self.app(scope, receive, send)
            return
        await self._gate(match, scope, receive, send)

    async def _gate(
        self, match: Match, scope: Scope, receive: Receive, send: Send
    ) -> None:
        raw_headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        headers = Headers(raw=raw_headers)
        route = match.route
        try:
            check_header_sizes(raw_headers, self.max_header_size)
            check_cookie_escapes(raw_headers)
            declared_length(raw_headers, self.limits.max_body_size)
            query = read_query(scope.get("query_string", b""), self.gated)
            body = await read_body(receive, self.limits.max_body_size)
        except Disconnected:
            return
        except Refused as refused:
            await self._refuse(refused, route, scope, receive, send, headers)
            return

        method = scope.get("method", "GET").upper()
        if not body and not query and method not in _ALWAYS_SCREENED_METHODS:
            await self.app(scope, _replay(body, receive), send)
            return

        if (
            route.kind == "signup"
            and self.cookie is not None
            and self.cookie.blocks(header_values(raw_headers, b"cookie"))
        ):
            self._log("BLOCK", ("BLOCK_COOKIE",), None, None, route)
            await self._block(scope, receive, send, headers, set_cookie=False)
            return

        try:
            kind = classify(raw_headers, body)
            record = merge(
                await read_record(kind, headers, body, self.gated, self.limits),
                query,
                self.gated,
            )
            if route.kind == "profile" and not self._touches_birth(record):
                # The update does not touch the birthdate: nothing to screen.
                await self.app(scope, _replay(body, receive), send)
                return
            trusted = self._trusted_country(raw_headers)
            decision = screen(
                record,
                policy=self.policy,
                fields=self.fields,
                rules=self.rules,
                trusted_country=trusted,
            )
        except Refused as refused:
            await self._refuse(refused, route, scope, receive, send, headers)
            return
        except Exception as error:  # a bug in reading or screening: never a 5xx
            logger.error(
                "refused status=400 code=BODY_UNREADABLE route=%s error=%s",
                route.template,
                type(error).__name__,
            )
            await self._refuse(
                Refused(400, "BODY_UNREADABLE"), route, scope, receive, send, headers
            )
            return
        self._log(
            decision.outcome.value,
            decision.reasons,
            decision.jurisdiction,
            decision.required_age,
            route,
        )

        if decision.outcome is Outcome.ALLOW:
            scope.setdefault("state", {})["agegate"] = decision
            await self.app(scope, _replay(body, receive), send)
            return
        if decision.outcome is Outcome.BLOCK:
            if route.kind == "profile":
                await self._block_profile(
                    match, record, decision, scope, receive, send, headers
                )
                return
            cross_site = _cross_site(raw_headers)
            if cross_site and self.cookie is not None:
                logger.info(
                    "block cookie not set: cross-site request route=%s",
                    route.template,
                )
            await self._block(scope, receive, send, headers, set_cookie=not cross_site)
            return
        if route.kind == "profile" and Reason.FIELD_AMBIGUOUS in decision.reasons:
            ambiguous = [k for k in self.fields.birth_keys() if _two_ways(record, k)]
            await self._refuse(
                Refused(400, Reason.FIELD_AMBIGUOUS, ambiguous),
                route,
                scope,
                receive,
                send,
                headers,
            )
            return
        response = notice.problem(
            422,
            decision.outcome.value,
            choose_language(headers.get("accept-language")),
            fields=decision.fields,
            reasons=decision.reasons,
        )
        await response(scope, receive, send)

    # -- pieces ------------------------------------------------------------

    def _touches_birth(self, record: Mapping[str, Any]) -> bool:
        """Whether a profile update carries a birth key; Refused(422) when it
        carries only part of a birthdate."""
        keys = set(present_birth_keys(record, self.fields))
        if not keys:
            return False
        sent = {
            field
            for field in (*_WHOLE_ON_THEIR_OWN, *_DATE_PARTS)
            if keys.intersection(self.fields.keys_of(field))
        }
        whole = sent.intersection(_WHOLE_ON_THEIR_OWN) or all(
            part in sent for part in _DATE_PARTS if self.fields.keys_of(part)
        )
        if not whole:
            raise Refused(
                422,
                Reason.BIRTHDATE_PARTIAL,
                self.fields.keys_of("birthdate") or self.fields.keys_of("birth_year"),
            )
        return True

    async def _block_profile(
        self,
        match: Match,
        record: Mapping[str, Any],
        decision: Decision,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
    ) -> None:
        """Block an underage profile update; flag it when its holder sent it."""
        route = match.route
        account = self._account_id(match, record)
        if account is None or account_id_problem(account) is not None:
            refusal = (
                Refused(422, "ACCOUNT_ID_MISSING", (self.fields.account_id or "",))
                if account is None
                else Refused(400, AccountIdInvalid.code)
            )
            await self._refuse(refusal, route, scope, receive, send, headers)
            return
        why_not = self._why_no_flag(scope, account)
        if why_not is not None:
            # Anyone can send an update naming any account: only the
            # account's own holder may cause a removal flag.
            logger.info("flag not filed: reason=%s route=%s", why_not, route.template)
        elif not await self._flag(account, decision):
            response = notice.problem(
                503,
                "UNAVAILABLE",
                choose_language(headers.get("accept-language")),
                code="FLAG_NOT_RECORDED",
                headers={"Retry-After": "60"},
            )
            await response(scope, receive, send)
            return
        await self._block(scope, receive, send, headers, set_cookie=False)

    def _why_no_flag(self, scope: Scope, account: str) -> str | None:
        try:
            holder = self.account_of(scope)
        except Exception as error:
            logger.error("account_of failed error=%s", type(error).__name__)
            return "ACCOUNT_OF_FAILED"
        if holder is None:
            return "NOT_AUTHENTICATED"
        if str(holder) != account:
            return "NOT_ACCOUNT_HOLDER"
        return None

    def _trusted_country(self, raw_headers: list[tuple[bytes, bytes]]) -> str | None:
        if self.trusted_country_header is None:
            return None
        value = single_header(raw_headers, self.trusted_country_header)
        return value.strip() if value is not None and value.strip() else None

    def _account_id(self, match: Match, record: Mapping[str, Any]) -> str | None:
        params = match.params
        if params:
            name = self.account_id_param or next(iter(params))
            return params[name]
        key = self.fields.account_id
        try:
            value = lookup(record, key) if key is not None else None
        except Exception:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        text = str(value).strip()
        return text or None

    async def _flag(self, account_id: str, decision: Decision) -> bool:
        sink = self.flag_sink
        if sink is None:  # pragma: no cover - __init__ requires it
            return False
        flag = Flag(
            account_id=account_id,
            codes=(FlagCode.PROFILE_UNDERAGE,),
            action="remove",
            jurisdiction=decision.jurisdiction,
            required_age=decision.required_age,
            source="profile_update",
        )
        try:
            await anyio.to_thread.run_sync(sink.add, flag)
        except Exception as error:
            logger.error("flag not recorded error=%s", type(error).__name__)
            return False
        return True

    async def _block(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
        *,
        set_cookie: bool,
    ) -> None:
        extra: dict[str, str] = {}
        if set_cookie and self.cookie is not None:
            https = scope.get("scheme") in ("https", "wss")
            extra["Set-Cookie"] = self.cookie.set_cookie_header(https=https)
        response = notice.block(
            choose_language(headers.get("accept-language")),
            as_html=prefers_html(headers.get("accept")),
            minimum_age=self.policy.minimum_age,
            headers=extra,
        )
        await response(scope, receive, send)

    async def _refuse(
        self,
        refused: Refused,
        route: Route,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
    ) -> None:
        if refused.code != "BODY_UNREADABLE":
            logger.info(
                "refused status=%s code=%s route=%s",
                refused.status,
                refused.code,
                route.template,
            )
        response: Response = notice.problem(
            refused.status,
            _KINDS.get(refused.status, "BODY_UNREADABLE"),
            choose_language(headers.get("accept-language")),
            code=refused.code,
            fields=refused.fields,
        )
        await response(scope, receive, send)

    @staticmethod
    def _log(
        outcome: str,
        reasons: Iterable[str],
        jurisdiction: str | None,
        required_age: int | None,
        route: Route,
    ) -> None:
        logger.info(
            "decision outcome=%s reasons=%s jurisdiction=%s required_age=%s route=%s",
            outcome,
            ",".join(reasons) or "-",
            jurisdiction or "-",
            required_age if required_age is not None else "-",
            route.template,
        )


def _closing(send: Send, store: SqliteFlagStore) -> Send:
    """`send` that closes the store once the app reports shutdown complete."""

    async def send_then_close(message: Message) -> None:
        await send(message)
        if message["type"] == "lifespan.shutdown.complete":
            store.close()

    return send_then_close


_KINDS = {
    413: "BODY_TOO_LARGE",
    431: "BODY_TOO_LARGE",
    415: "MEDIA_TYPE_UNSUPPORTED",
    422: "NEEDS_INFO",
}


async def _refuse_websocket(
    route: Route, scope: Scope, receive: Receive, send: Send
) -> None:
    """Refuse a handshake before it is accepted: an HTTP 403 where the server
    can send one, else a close (which servers answer with 403 too)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    logger.info("refused websocket route=%s", route.template)
    if "websocket.http.response" in scope.get("extensions", {}):
        response = notice.problem(
            403,
            "MEDIA_TYPE_UNSUPPORTED",
            choose_language(Headers(scope=scope).get("accept-language")),
            code="WEBSOCKET_REFUSED",
        )
        await response(scope, receive, send)
        return
    await send({"type": "websocket.close", "code": 1008})


def _cross_site(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a browser says the request comes from another site.

    Hosts are compared without ports or schemes: behind a TLS proxy the
    scheme and port the app sees are not the browser's.
    """
    fetch_site = header_values(raw_headers, b"sec-fetch-site")
    if any(v.strip().lower() == "cross-site" for v in fetch_site):
        return True
    origins = header_values(raw_headers, b"origin")
    if not origins:
        return False
    hosts = header_values(raw_headers, b"host")
    if len(origins) > 1 or len(hosts) != 1:
        return True
    _, separator, origin_host = origins[0].strip().partition("://")
    return not separator or _hostname(origin_host) != _hostname(hosts[0])


def _hostname(authority: str) -> str:
    """The host of `host[:port]` or `[v6]:port`, lower case."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.partition("]")[0] + "]"
    return authority.partition(":")[0]


def _two_ways(record: Mapping[str, Any], key: str) -> bool:
    """Whether a dotted key is held both literally and as a nested path."""
    try:
        lookup(record, key)
    except Exception:
        return True
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the app exactly the bytes the client sent, then the real channel
    (so the app still hears `http.disconnect`)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


__all__ = ["AgeGateMiddleware", "Code"]
