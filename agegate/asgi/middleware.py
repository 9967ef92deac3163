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

A cross-site request (`Sec-Fetch-Site` other than `same-origin` or `none`,
or an `Origin` or `Referer` whose host is not the request's `Host`; see
sites.py) or a GET, HEAD, OPTIONS or TRACE that shows a minor is refused like
any other, but sets no block cookie and files no flag: another site could
otherwise lock a visitor's browser out of the signup form, or have the
visitor's own browser file a removal flag against their account.

An update that changes the birthdate without naming a jurisdiction is
answered 422 like a signup, unless the policy says
`when_no_jurisdiction="minimum_age"`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..assurance.policy import AssurancePolicy
from ..decision import Decision, Outcome, Reason
from ..flags import (
    Flag,
    FlagCode,
    FlagSink,
    SqliteFlagStore,
    account_id_problem,
    open_sink,
)
from ..origins import origin_of
from ..policy import FieldMap, Policy
from ..reasons import Refusal
from ..rules import Rules
from ..screen import lookup, present_birth_keys, screen
from . import notice
from .assurance import AssuranceCheck
from .body import (
    ByName,
    Code,
    Disconnected,
    HeaderIndex,
    Refused,
    check_index,
    classify_index,
    header_values,
    index_headers,
    merge,
    open_json_strings,
    read_json,
    read_kind,
    read_query,
    read_rest,
    single_header,
)
from .config import AccountOf, GateConfig, WebsocketPolicy, starlette_user
from .cookie import DEFAULT_MAX_AGE, SameSite
from .negotiate import Lang, choose_language, prefers_html
from .notice import Notice
from .routes import Match, Route
from .sites import may_act

logger = logging.getLogger("agegate.middleware")

CheckRoutes = Literal["warn", "strict", "off"]
_WHOLE_ON_THEIR_OWN = ("birthdate", "age")
_DATE_PARTS = ("birth_year", "birth_month", "birth_day")
_ALWAYS_SCREENED_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Exchange:
    """One gated request on its way through the gate: what the client sent
    and the channels to answer it or to hand it on. Its headers are indexed
    once, for every reader after."""

    __slots__ = ("body", "match", "query", "raw_headers", "receive", "scope", "send")

    def __init__(
        self,
        match: Match,
        scope: Scope,
        receive: Receive,
        send: Send,
        raw_headers: HeaderIndex,
        body: bytes = b"",
        query: dict[str, str] | None = None,
    ):
        self.match = match
        self.scope = scope
        self.receive = receive
        self.send = send
        self.raw_headers = raw_headers
        self.body = body
        self.query: dict[str, str] = query or {}

    @property
    def route(self) -> Route:
        return self.match.route

    @property
    def headers(self) -> Headers:
        return Headers(raw=self.raw_headers.raw)

    @property
    def lang(self) -> Lang:
        return choose_language(self.headers.get("accept-language"))

    async def answer(self, response: Response) -> None:
        await response(self.scope, self.receive, self.send)

    async def hand_on(self, app: ASGIApp, decision: Decision | None = None) -> None:
        """Pass the request to the app with the exact bytes the client sent."""
        if decision is not None:
            self.scope.setdefault("state", {})["agegate"] = decision
        await app(self.scope, _replay(self.body, self.receive), self.send)


# Every argument is one the gate holds at the point it needs the exchange.
def _exchange(
    match: Match,
    scope: Scope,
    receive: Receive,
    send: Send,
    raw: list[tuple[bytes, bytes]],
    indexed: tuple[ByName, int],
    body: bytes = b"",
    query: dict[str, str] | None = None,
) -> _Exchange:
    headers = HeaderIndex(raw, indexed)
    return _Exchange(match, scope, receive, send, headers, body, query)


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
    notice: a Notice naming the service and where to ask for a minor's data
        to be removed (`contact_url`, `contact_email`), shown in the block
        notice; unset, the notice says "contact us" with no address.
    assurance: an AssurancePolicy: the jurisdictions whose signups must
        carry a verified proof of age (see `agegate.asgi.assurance`).
    check_routes: "warn" (default) checks the app once, at lifespan
        start-up or at the first request, and logs each finding of
        `agegate.asgi.app_check.check_app` (a gated path no route serves, a
        FastAPI model key the fields miss, CORSMiddleware inside the gate);
        "strict" also fails the lifespan start-up on any error, so the
        server does not start; "off" skips the check.

    The options are checked by `GateConfig.from_options` and kept in
    `self.config`.
    """

    # One keyword per documented option, with its default: a reason for the
    # long signature.
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
        notice: Notice | None = None,
        form_url: str | None = None,
        assurance: AssurancePolicy | None = None,
        check_routes: CheckRoutes = "warn",
    ) -> None:
        self.app = app
        if check_routes not in ("warn", "strict", "off"):
            raise ValueError('check_routes is "warn", "strict" or "off"')
        self.check_routes: CheckRoutes = check_routes
        # Checked once, at lifespan start-up or at the first request.
        self._checked = check_routes == "off"
        self.config = GateConfig.from_options(
            paths=paths,
            fields=fields,
            policy=policy,
            secret=secret,
            rules=rules,
            profile_paths=profile_paths,
            account_id_param=account_id_param,
            block_cookie=block_cookie,
            cookie_name=cookie_name,
            cookie_max_age=cookie_max_age,
            cookie_same_site=cookie_same_site,
            cookie_secure=cookie_secure,
            trusted_country_header=trusted_country_header,
            max_body_size=max_body_size,
            max_fields=max_fields,
            max_files=max_files,
            max_header_size=max_header_size,
            account_of=account_of,
            websockets=websockets,
            notice=notice,
            form_url=form_url,
        )
        self.gated = self.config.gated
        self._router = self.config.router
        # Read on every request: kept as plain attributes.
        self._passing = self._router.passing
        self._cookie = self.config.cookie
        self._limits = self.config.limits
        self._max_body_size = self.config.limits.max_body_size
        self._max_header_size = self.config.max_header_size
        self._policy = self.config.policy
        self._fields = self.config.fields
        self._rules = self.config.rules
        self._dotted = self.config.dotted_paths
        if self.config.has_profile_routes and flag_sink is None:
            raise ValueError("profile_paths need a flag_sink (a FlagSink or a path)")
        # A store opened here from a path is closed here, at lifespan shutdown.
        self._opened_sink: FlagSink | None = None
        if isinstance(flag_sink, str | os.PathLike):
            flag_sink = self._opened_sink = open_sink(flag_sink)
        self.flag_sink = flag_sink
        self._assurance = None if assurance is None else AssuranceCheck(assurance)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._checked:
            errors = self._check(scope)
            if errors and scope["type"] == "lifespan":
                await _refuse_start(errors, receive, send)
                return
        if scope["type"] == "http":
            # Every request the gate sees says whether it screened it.
            state = scope.get("state")
            if state is None:
                scope["state"] = {"agegate": None}
            else:
                state["agegate"] = None
            # The router's memo, read here: a request to a path seen before
            # passes through after one set lookup.
            if scope.get("path") in self._passing and not scope.get("root_path"):
                await self.app(scope, receive, send)
                return
            match = self._router.match(scope)
            if match is None:
                await self.app(scope, receive, send)
            else:
                await self._gate(match, scope, receive, send)
            return
        if scope["type"] == "lifespan" and isinstance(
            self._opened_sink, SqliteFlagStore
        ):
            await self.app(scope, receive, _closing(send, self._opened_sink))
            return
        if scope["type"] == "websocket" and self.config.websockets == "refuse":
            match = self.config.router.match(scope)
            if match is not None:
                await _refuse_websocket(match.route, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> list[str]:
        """Run the configuration check once; the errors that refuse a start
        in strict mode (none otherwise), each logged."""
        self._checked = True
        from .app_check import check_app, cors_inside

        try:
            findings = check_app(scope.get("app") or self.app, self.config)
            findings += cors_inside(self.app)
        except Exception as error:  # a check that fails must not stop the app
            logger.warning("route check failed error=%s", type(error).__name__)
            return []
        for finding in findings:
            logger.warning("agegate check %s", finding)
        strict = self.check_routes == "strict"
        return [str(f) for f in findings if strict and f.severity == "error"]

    # -- the gate: read, screen, answer ---------------------------------------

    # One coroutine reads, screens and hands on a gated request: every helper
    # call or attribute spared here is spared on every signup. The _Exchange
    # is made only for the answers other than "allowed".
    async def _gate(
        self, match: Match, scope: Scope, receive: Receive, send: Send
    ) -> None:
        raw = scope.get("headers", ())
        if type(raw) is not list:
            raw = list(raw)
        # The index alone, without a HeaderIndex around it: most requests
        # are allowed and need no more. `_exchange` makes one for the rest.
        indexed = index_headers(raw)
        by_name = indexed[0]
        limit = self._max_body_size
        body = b""
        query: dict[str, str] = {}
        try:
            check_index(by_name, indexed[1], self._max_header_size, limit)
            query_string = scope.get("query_string")
            if query_string:
                query = read_query(query_string, self.gated)
            # `read_body`, inline for the one-message body most servers send.
            message = await receive()
            if message["type"] == "http.request" and not message.get(
                "more_body", False
            ):
                body = message.get("body", b"")
                if len(body) > limit:
                    raise Refused(413, Code.BODY_TOO_LARGE)
            else:
                body = await read_rest(receive, limit, message)
        except Disconnected:
            return
        except Refused as refused:
            ex = _exchange(match, scope, receive, send, raw, indexed, body, query)
            await self._refuse(ex, refused)
            return
        if (
            not body
            and not query
            and scope.get("method", "GET").upper() not in _ALWAYS_SCREENED_METHODS
        ):
            ex = _exchange(match, scope, receive, send, raw, indexed)
            await ex.hand_on(self.app)
            return
        cookie = self._cookie
        cookies = by_name.get(b"cookie")
        if (
            cookie is not None
            and cookies
            and match.route.kind == "signup"
            and cookie.blocks([value.decode("latin-1") for value in cookies])
        ):
            ex = _exchange(match, scope, receive, send, raw, indexed, body, query)
            self._log("BLOCK", ("BLOCK_COOKIE",), None, None, match.route)
            await self._block(ex, set_cookie=False)
            return
        try:
            kind = classify_index(by_name, body)
            if kind == "json":
                record = read_json(body, self.gated)
            else:
                headers = Headers(raw=raw)
                record = read_kind(kind, headers, body, self.gated, self._limits)
            if query:
                record = merge(record, query, self.gated)
            if self._dotted:
                record = open_json_strings(record, self._dotted)
            # None: a profile update that does not touch the birthdate.
            if match.route.kind == "profile" and not self._touches_birth(record):
                decision = None
            else:
                decision = screen(
                    record,
                    policy=self._policy,
                    fields=self._fields,
                    rules=self._rules,
                    trusted_country=(
                        None
                        if self.config.trusted_country_header is None
                        else self._trusted_country(HeaderIndex(raw, indexed))
                    ),
                )
        except Refused as refused:
            ex = _exchange(match, scope, receive, send, raw, indexed, body, query)
            await self._refuse(ex, refused)
            return
        except Exception as error:  # a bug in reading or screening: never a 5xx
            logger.error(
                "refused status=400 code=BODY_UNREADABLE route=%s error=%s",
                match.route.template,
                type(error).__name__,
            )
            ex = _exchange(match, scope, receive, send, raw, indexed, body, query)
            await self._refuse(ex, Refused(400, Refusal.BODY_UNREADABLE))
            return
        # A jurisdiction that needs a verified proof of age: one call.
        if self._assurance is not None and decision is not None:
            decision, asked = self._assurance.screen(decision, match, raw, scope)
            if asked is not None:
                await asked(scope, receive, send)
                return
        if decision is None:
            ex = _exchange(match, scope, receive, send, raw, indexed, body)
            await ex.hand_on(self.app)
        elif decision.outcome is Outcome.ALLOW:
            # The common answer, without another coroutine on its way.
            if logger.isEnabledFor(logging.INFO):
                self._log_outcome(decision, match.route)
            state = scope.get("state")
            if state is None:
                scope["state"] = {"agegate": decision}
            else:
                state["agegate"] = decision
            await self.app(scope, _replay(body, receive), send)
        else:
            ex = _exchange(match, scope, receive, send, raw, indexed, body, query)
            await self._answer(ex, record, decision)

    async def _answer(
        self, ex: _Exchange, record: Mapping[str, Any], decision: Decision
    ) -> None:
        """Hand an allowed request on; block, refuse or ask for more otherwise."""
        self._log_decision(ex, decision)
        if decision.outcome is Outcome.ALLOW:
            await ex.hand_on(self.app, decision)
        elif decision.outcome is Outcome.BLOCK and ex.route.kind == "profile":
            await self._block_profile(ex, record, decision)
        elif decision.outcome is Outcome.BLOCK:
            await self._block_signup(ex)
        elif ex.route.kind == "profile" and Reason.FIELD_AMBIGUOUS in decision.reasons:
            fields = self.config.fields
            ambiguous = [k for k in fields.birth_keys() if _two_ways(record, k)]
            await self._refuse(ex, Refused(400, Reason.FIELD_AMBIGUOUS, ambiguous))
        else:
            await ex.answer(
                notice.problem(
                    422,
                    decision.outcome.value,
                    ex.lang,
                    fields=decision.fields,
                    reasons=decision.reasons,
                    **self._page_options(ex),
                )
            )

    # -- pieces ------------------------------------------------------------

    def _log_decision(self, ex: _Exchange, decision: Decision) -> None:
        if logger.isEnabledFor(logging.INFO):
            self._log_outcome(decision, ex.route)

    def _log_outcome(self, decision: Decision, route: Route) -> None:
        self._log(
            decision.outcome.value,
            decision.reasons,
            decision.jurisdiction,
            decision.required_age,
            route,
        )

    def _touches_birth(self, record: Mapping[str, Any]) -> bool:
        """Whether a profile update carries a birth key; Refused(422) when it
        carries only part of a birthdate."""
        fields = self.config.fields
        keys = set(present_birth_keys(record, fields))
        if not keys:
            return False
        sent = {
            field
            for field in (*_WHOLE_ON_THEIR_OWN, *_DATE_PARTS)
            if keys.intersection(fields.keys_of(field))
        }
        whole = sent.intersection(_WHOLE_ON_THEIR_OWN) or all(
            part in sent for part in _DATE_PARTS if fields.keys_of(part)
        )
        if not whole:
            raise Refused(
                422,
                Reason.BIRTHDATE_PARTIAL,
                fields.keys_of("birthdate") or fields.keys_of("birth_year"),
            )
        return True

    async def _block_signup(self, ex: _Exchange) -> None:
        acts = may_act(ex.scope.get("method", "GET"), ex.raw_headers)
        if not acts and self.config.cookie is not None:
            logger.info(
                "block cookie not set: cross-site or safe request route=%s",
                ex.route.template,
            )
        await self._block(ex, set_cookie=acts)

    async def _block_profile(
        self, ex: _Exchange, record: Mapping[str, Any], decision: Decision
    ) -> None:
        """Block an underage profile update; flag it when its holder sent it."""
        account = self._account_id(ex.match, record)
        if account is None:
            missing = (self.config.fields.account_id or "",)
            await self._refuse(ex, Refused(422, Refusal.ACCOUNT_ID_MISSING, missing))
            return
        if account_id_problem(account) is not None:
            await self._refuse(ex, Refused(400, Refusal.ACCOUNT_ID_INVALID))
            return
        why_not = self._why_no_flag(ex.scope, ex.raw_headers, account)
        if why_not is not None:
            # Anyone can send an update naming any account: only the
            # account's own holder may cause a removal flag.
            logger.info(
                "flag not filed: reason=%s route=%s", why_not, ex.route.template
            )
        elif not await self._flag(account, decision):
            await ex.answer(
                notice.problem(
                    503,
                    "UNAVAILABLE",
                    ex.lang,
                    code=Refusal.FLAG_NOT_RECORDED,
                    headers={"Retry-After": "60"},
                )
            )
            return
        await self._block(ex, set_cookie=False)

    def _why_no_flag(
        self, scope: Scope, headers: HeaderIndex, account: str
    ) -> str | None:
        # Another site could send this update with the holder's own cookie.
        if not may_act(scope.get("method", "GET"), headers):
            return "CROSS_SITE_OR_SAFE_METHOD"
        try:
            holder = self.config.account_of(scope)
        except Exception as error:
            logger.error("account_of failed error=%s", type(error).__name__)
            return "ACCOUNT_OF_FAILED"
        if holder is None:
            return "NOT_AUTHENTICATED"
        if str(holder) != account:
            return "NOT_ACCOUNT_HOLDER"
        return None

    def _trusted_country(self, raw_headers: HeaderIndex) -> str | None:
        name = self.config.trusted_country_header
        if name is None:
            return None
        value = single_header(raw_headers, name)
        return value.strip() if value is not None and value.strip() else None

    def _account_id(self, match: Match, record: Mapping[str, Any]) -> str | None:
        params = match.params
        if params:
            name = self.config.account_id_param or next(iter(params))
            return params[name]
        key = self.config.fields.account_id
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

    async def _block(self, ex: _Exchange, *, set_cookie: bool) -> None:
        extra: dict[str, str] = {}
        cookie = self.config.cookie
        if set_cookie and cookie is not None:
            https = ex.scope.get("scheme") in ("https", "wss")
            extra["Set-Cookie"] = cookie.set_cookie_header(https=https)
        await ex.answer(
            notice.block(
                ex.lang,
                as_html=prefers_html(ex.headers.get("accept")),
                minimum_age=self.config.policy.minimum_age,
                headers=extra,
                settings=self.config.notice,
            )
        )

    async def _refuse(self, ex: _Exchange, refused: Refused) -> None:
        if refused.code != Refusal.BODY_UNREADABLE:
            logger.info(
                "refused status=%s code=%s route=%s",
                refused.status,
                refused.code,
                ex.route.template,
            )
        await ex.answer(
            notice.problem(
                refused.status,
                _KINDS.get(refused.status, "BODY_UNREADABLE"),
                ex.lang,
                code=refused.code,
                fields=refused.fields,
                **self._page_options(ex),
            )
        )

    def _page_options(self, ex: _Exchange) -> dict[str, Any]:
        """Whether a refusal is a page for a person, and where it links back."""
        if not prefers_html(ex.headers.get("accept")):
            return {}
        return {"as_html": True, "back": _back_link(ex, self.config.form_url)}

    @staticmethod
    def _log(
        outcome: str,
        reasons: Iterable[str],
        jurisdiction: str | None,
        required_age: int | None,
        route: Route,
    ) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        logger.info(
            "decision outcome=%s reasons=%s jurisdiction=%s required_age=%s route=%s",
            outcome,
            ",".join(reasons) or "-",
            jurisdiction or "-",
            required_age if required_age is not None else "-",
            route.template,
        )


async def _refuse_start(errors: list[str], receive: Receive, send: Send) -> None:
    """Fail the lifespan start-up (the server exits) with the check's errors."""
    text = "agegate check-app found: " + "; ".join(errors)
    message = await receive()
    if message["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.failed", "message": text})
    # As Starlette's own router does after a failed start: a test client
    # raises it, and a server, told the start failed, exits.
    raise RuntimeError(text)


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
            code=Refusal.WEBSOCKET_REFUSED,
        )
        await response(scope, receive, send)
        return
    await send({"type": "websocket.close", "code": 1008})


def _back_link(ex: _Exchange, form_url: str | None) -> str | None:
    """The page the form was on (`Referer`) when it is on this origin, else
    the configured form URL: a page never links a person to another site
    the request merely named."""
    referers = header_values(ex.raw_headers, b"referer")
    hosts = header_values(ex.raw_headers, b"host")
    if len(referers) == 1 and len(hosts) == 1:
        scheme = "https" if ex.scope.get("scheme") == "https" else "http"
        here = origin_of(f"{scheme}://{hosts[0].strip()}/")
        referer = referers[0].strip()
        if here is not None and origin_of(referer) == here:
            return referer
    return form_url


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


__all__ = ["AgeGateMiddleware", "Code", "GateConfig", "Notice", "starlette_user"]
