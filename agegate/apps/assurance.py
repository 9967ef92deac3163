"""The assurance routes: begin a proof of age, complete it, take a
provider's webhook. Mount them where the policy's `base_path` says::

    policy = AssurancePolicy(required={"GB": Level.HIGHLY_EFFECTIVE}, ...)
    Mount(policy.base_path, app=assurance_app(policy))

GET  /                 the page that runs the check (`?age=18`)
POST /begin            `{"method": "wallet" | <provider>, "age": 18}` -> 201
                       `{"attempt", "expires", "requests"}` (wallet: what
                       `navigator.credentials.get({digital: {requests}})`
                       takes) or `{"attempt", "expires", "start"}` (provider)
POST /complete         `{"attempt", "response"}` (wallet) or `{"attempt"}`
                       (provider) -> 200 with the token (also set as an
                       HttpOnly cookie), 202 while a provider has not answered,
                       4xx with the `AssuranceReason` code otherwise
POST /webhooks/{name}  a provider's signed callback -> 200, 401, 400, 413

Begin and complete are refused from another site (`Sec-Fetch-Site`,
`Origin`: as the report intake does) and body-capped; begin is rate-limited
per client address (complete is not: a page polls it); the webhook is
authenticated by its signature alone (a provider is no browser) and capped
too. The wallet's `complete` is given the
request's `Origin`, which the verifier checks against its own.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..asgi.assurance import NeedsAssurance, assurance_page, log_source, methods
from ..asgi.body import (
    Disconnected,
    Refused,
    classify,
    declared_length,
    read_body,
    read_json,
)
from ..asgi.negotiate import prefers_html
from ..asgi.notice import BASE_HEADERS
from ..asgi.pages import page
from ..asgi.problem import problem_body, problem_response
from ..assurance.model import Assurance, AssuranceError, AssuranceReason, Level
from ..assurance.policy import AssurancePolicy
from ..assurance.token import issue_token
from ..assurance.webhook import MAX_WEBHOOK_BODY, ProviderWebhook, WebhookRefused
from ..reasons import Refusal
from .report import (
    RateLimit,
    _Limiter,  # the intake's sliding window, shared rather than copied
    _trusted_origins,
    client_key,
    cross_site,
)

logger = logging.getLogger("agegate.assurance.routes")

_KEYS = frozenset({"method", "age", "attempt", "response"})
MIN_AGE, MAX_AGE = 13, 25


def _problem(status: int, code: str, title: str) -> Response:
    body = problem_body(status, code, title, code=code)
    return problem_response(body, headers=BASE_HEADERS)


def _refused_page(status: int, code: str) -> Response:
    """A browser's answer to a refused proof: the reason code, and the way back."""
    body = (
        '<h1 id="assurance-refused">Your proof of age was not accepted</h1>'
        f'<p>Reason: <code id="reason">{html.escape(code)}</code></p>'
        '<p><a href="./">Try again</a></p>'
    )
    return HTMLResponse(
        page("Proof not accepted", body), status_code=status, headers=BASE_HEADERS
    )


def _age(value: Any) -> int | None:
    if type(value) is int and MIN_AGE <= value <= MAX_AGE:
        return value
    return None


@attrs.frozen
class _Routes:
    policy: AssurancePolicy
    limiter: _Limiter
    max_body: int
    trusted: frozenset[tuple[str, str, int]]
    cookie_secure: bool | None

    async def show(self, request: Request) -> Response:
        text = request.query_params.get("age", "18")
        # Two digits at most: int() refuses a text of thousands of digits.
        readable = text.isascii() and text.isdigit() and len(text) <= 2
        age = _age(int(text)) if readable else None
        ask = NeedsAssurance(self._needed(), age or 18)
        return HTMLResponse(assurance_page(self.policy, ask), headers=BASE_HEADERS)

    def _needed(self) -> Level:
        return max(self.policy.required.values(), default=Level.ASSERTED)

    async def _read(
        self, request: Request, *, counted: bool
    ) -> dict[str, Any] | Response:
        """The JSON body of a same-site request (`counted`: within the rate
        limit)."""
        if cross_site(request, self.trusted):
            logger.info("assurance refused: cross-site request")
            return _problem(403, Refusal.CROSS_SITE_REFUSED, "cross-site request")
        host = request.client.host if request.client else "unknown"
        if counted and not self.limiter.allow(client_key(host)):
            response = _problem(429, Refusal.RATE_LIMITED, "too many attempts")
            response.headers["Retry-After"] = str(int(self.limiter.limit.seconds))
            return response
        raw = list(request.scope.get("headers", []))
        try:
            declared_length(raw, self.max_body)
            body = await read_body(request.receive, self.max_body)
            # As the gate reads a body: one Content-Type, JSON, UTF-8.
            if classify(raw, body) != "json":
                return _problem(415, Refusal.MEDIA_TYPE_UNSUPPORTED, "send JSON")
            return read_json(body, _KEYS)
        except Refused as refused:
            return _problem(refused.status, refused.code, "the body cannot be read")
        except Disconnected:
            return Response(status_code=400)

    async def begin(self, request: Request) -> Response:
        data = await self._read(request, counted=True)
        if isinstance(data, Response):
            return data
        method, age = data.get("method"), _age(data.get("age"))
        if age is None:
            return _problem(422, "AGE_MALFORMED", f"age: {MIN_AGE} to {MAX_AGE}")
        if method not in methods(self.policy):
            return _problem(422, "METHOD_UNKNOWN", "method: one of `methods`")
        if method == "wallet" and self.policy.wallet is not None:
            challenge = await run_in_threadpool(self.policy.wallet.begin, age)
            return JSONResponse(
                {
                    "attempt": challenge.attempt,
                    "expires": _stamp(challenge.expires),
                    "requests": challenge.requests,
                },
                status_code=201,
                headers=BASE_HEADERS,
            )
        opened = self.policy.providers[method].open(age)
        start = self.policy.start_urls.get(method)
        body: dict[str, Any] = {
            "attempt": opened.attempt,
            "expires": int(opened.expires),
            "provider": method,
        }
        if start is not None:
            body["start"] = start.format(attempt=opened.attempt, age=age)
        return JSONResponse(body, status_code=201, headers=BASE_HEADERS)

    async def complete(self, request: Request) -> Response:
        # Not counted: the page polls it while a provider checks, and its
        # work is bounded by the begins (an unknown attempt is one lookup; a
        # wallet proof is verified once, after its attempt is consumed).
        data = await self._read(request, counted=False)
        if isinstance(data, Response):
            return data
        attempt = data.get("attempt")
        if not isinstance(attempt, str) or not 0 < len(attempt) <= 128:
            return _problem(422, AssuranceReason.MALFORMED, "attempt missing")
        try:
            assurance = await self._proof(request, attempt, data.get("response"))
        except AssuranceError as error:
            logger.info("assurance refused: reason=%s", error.reason)
            status = 409 if error.reason == AssuranceReason.REPLAYED else 422
            if prefers_html(request.headers.get("accept")):
                return _refused_page(status, error.reason)
            return _problem(status, error.reason, "the proof was not accepted")
        if assurance is None:
            return JSONResponse(
                {"status": "pending"}, status_code=202, headers=BASE_HEADERS
            )
        return self._issue(request, assurance)

    async def _proof(
        self, request: Request, attempt: str, response: Any
    ) -> Assurance | None:
        provider = self._provider_of(attempt)
        if provider is not None:
            return provider.take(attempt)
        wallet = self.policy.wallet
        if wallet is None:
            # No book opened it: spent and forgotten, expired, or never ours.
            raise AssuranceError(AssuranceReason.REPLAYED, "attempt")
        if response is None:
            raise AssuranceError(AssuranceReason.MALFORMED, "response")
        origin = request.headers.get("origin") or ""
        return await run_in_threadpool(
            lambda: wallet.complete(attempt, response, origin=origin)
        )

    def _provider_of(self, attempt: str) -> ProviderWebhook | None:
        now = time.time()
        for provider in self.policy.providers.values():
            if isinstance(provider, ProviderWebhook) and provider.attempts.knows(
                attempt, now
            ):
                return provider
        return None

    def _issue(self, request: Request, assurance: Assurance) -> Response:
        policy = self.policy
        token = issue_token(assurance, policy.secret, policy.token_ttl)
        logger.info(
            "assurance issued: method=%s level=%s source=%s",
            assurance.method,
            assurance.level.name,
            log_source(assurance),
        )
        body: dict[str, Any] = {
            "status": "verified",
            "token": token,
            "header": policy.header_name,
            "expires_in": policy.token_ttl,
            "level": assurance.level.name,
            "over": assurance.over,
            "under": assurance.under,
        }
        if "sec-fetch-site" in request.headers:
            # A browser's fetch: the HttpOnly cookie carries the token, and
            # a script on the page (an injected one too) never holds it.
            del body["token"]
        answer = JSONResponse(body, headers=BASE_HEADERS)
        secure = self.cookie_secure
        if secure is None:
            secure = request.url.scheme == "https"
        answer.set_cookie(
            policy.cookie_name,
            token,
            max_age=policy.token_ttl,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        return answer

    async def webhook(self, request: Request) -> Response:
        name = request.path_params["name"]
        provider = self.policy.providers.get(name)
        if provider is None:
            return _problem(404, "PROVIDER_UNKNOWN", "no such provider")
        raw = list(request.scope.get("headers", []))
        try:
            declared_length(raw, MAX_WEBHOOK_BODY)
            body = await read_body(request.receive, MAX_WEBHOOK_BODY)
            headers = {k.lower(): v for k, v in request.headers.items()}
            receipt = await run_in_threadpool(provider.receive, headers, body)
        except Refused as refused:
            return _problem(refused.status, refused.code, "the body cannot be read")
        except WebhookRefused as refused:
            logger.info(
                "webhook refused: provider=%s code=%s", provider.name, refused.code
            )
            return _problem(refused.status, refused.code, "webhook refused")
        except Disconnected:
            return Response(status_code=400)
        return JSONResponse({"status": receipt.status}, headers=BASE_HEADERS)


def _stamp(value: Any) -> Any:
    """A challenge's expiry as UNIX seconds, whatever type it came as."""
    timestamp = getattr(value, "timestamp", None)
    return int(timestamp()) if callable(timestamp) else value


def assurance_app(
    policy: AssurancePolicy,
    *,
    rate_limit: RateLimit | None = None,
    max_body: int = 64 * 1024,
    clock: Callable[[], float] = time.monotonic,
    trusted_origins: Iterable[str] = (),
    cookie_secure: bool | None = None,
) -> Starlette:
    """The assurance routes as one Starlette app; mount it at
    `policy.base_path`. `rate_limit` counts begin calls per client address
    (default 60 an hour)."""
    if not isinstance(policy, AssurancePolicy):
        raise TypeError("policy must be an AssurancePolicy")
    limit = rate_limit if rate_limit is not None else RateLimit(60, 3600)
    if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 256:
        raise ValueError("max_body must be an int of at least 256 bytes")
    routes = _Routes(
        policy,
        _Limiter(limit, clock),
        max_body,
        _trusted_origins(trusted_origins),
        cookie_secure,
    )
    return Starlette(
        routes=[
            Route("/", routes.show, methods=["GET"]),
            Route("/begin", routes.begin, methods=["POST"]),
            Route("/complete", routes.complete, methods=["POST"]),
            Route("/webhooks/{name}", routes.webhook, methods=["POST"]),
        ]
    )


__all__ = ["assurance_app"]
