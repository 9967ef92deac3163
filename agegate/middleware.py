"""AgeGateMiddleware: a pure ASGI age gate for signup and profile-update routes.

    app.add_middleware(AgeGateMiddleware, paths=["/signup"], secret=SECRET)

On a gated route the gate reads the whole body (up to a cap), reads it as the
app will, screens it with `screen()` and either passes the exact bytes on,
with the Decision in `scope["state"]["agegate"]`, or answers itself: 403
notice, 422, 400, 413 or 415 (see DESIGN.md). Anything else, lifespan and
websocket scopes included, passes through untouched and unbuffered.

Which requests on a gated route are screened: every request with a body,
every POST, PUT and PATCH (even with an empty body), and every request whose
query string carries a gated field (FastAPI reads scalar parameters from the
query). A GET, HEAD, OPTIONS or DELETE without a body or gated query fields
passes, so the signup page itself still loads.

Profile-update routes (`profile_paths`) are screened only when the update
carries a birthdate, birth year or age. When it shows the account holder is
under the required age, the request is blocked and a PROFILE_UNDERAGE removal
flag goes to the flag sink. The account id is the route's path parameter
(`/accounts/{account_id}`: the one parameter of the template, or the one named
by `account_id_param`); a template without parameters takes it from the body
field that `fields.account_id` names. The block cookie applies to signup
routes only: a profile update is judged on the account's own data.

An update that changes the birthdate without naming a jurisdiction is
answered 422 like a signup, unless the policy says
`when_no_jurisdiction="minimum_age"`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import notice
from .block_cookie import DEFAULT_MAX_AGE, BlockCookie, SameSite
from .body import (
    Code,
    Disconnected,
    Limits,
    Refused,
    classify,
    declared_length,
    header_values,
    merge,
    read_body,
    read_query,
    read_record,
    single_header,
)
from .decision import Decision, Outcome, Reason
from .flags import Flag, FlagCode, FlagSink, SqliteFlagStore, open_sink
from .paths import Match, Route, Router
from .policy import SCREENED_FIELDS, FieldMap, Policy
from .rules import Rules, load_rules
from .screen import lookup, screen

logger = logging.getLogger("agegate.middleware")

_BIRTH_FIELDS = ("birthdate", "birth_year", "age")
_ALWAYS_SCREENED_METHODS = frozenset({"POST", "PUT", "PATCH"})


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
    ) -> None:
        self.app = app
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
        ):
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError(f"{name} must be an int")
            if limit < (1 if name != "max_files" else 0):
                raise ValueError(f"{name} is too small")
        self.limits = Limits(max_body_size, max_fields, max_files)
        keys = self.fields.keys()
        self.gated = frozenset(keys[f] for f in SCREENED_FIELDS if f in keys)
        if not any(f in keys for f in _BIRTH_FIELDS):
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
        if route.kind == "profile" and Reason.BIRTHDATE_MISSING in decision.reasons:
            # The update does not touch the birthdate: nothing to screen.
            await self.app(scope, _replay(body, receive), send)
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
                account = self._account_id(match, record)
                if account is None:
                    await self._refuse(
                        Refused(
                            422, "ACCOUNT_ID_MISSING", (self.fields.account_id or "",)
                        ),
                        route,
                        scope,
                        receive,
                        send,
                        headers,
                    )
                    return
                if not await self._flag(account, decision):
                    response = notice.problem(
                        503,
                        "UNAVAILABLE",
                        notice.choose_language(headers),
                        code="FLAG_NOT_RECORDED",
                        headers={"Retry-After": "60"},
                    )
                    await response(scope, receive, send)
                    return
            await self._block(
                scope, receive, send, headers, set_cookie=route.kind == "signup"
            )
            return
        response = notice.problem(
            422,
            decision.outcome.value,
            notice.choose_language(headers),
            fields=decision.fields,
            reasons=decision.reasons,
        )
        await response(scope, receive, send)

    # -- pieces ------------------------------------------------------------

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
            notice.choose_language(headers),
            as_html=notice.prefers_html(headers),
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
            notice.choose_language(headers),
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
    415: "MEDIA_TYPE_UNSUPPORTED",
    422: "NEEDS_INFO",
}


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
