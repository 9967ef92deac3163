"""The minor-report intake: anyone may tell the operator that an account
belongs to a minor, so that data collected by mistake can be found and removed.

Mount it in any Starlette (or FastAPI) app::

    Mount("/report-a-minor", app=report_app(store=SqliteFlagStore("flags.db"),
                                            secret=SECRET))

GET shows a short form; POST (HTML form, JSON or multipart) files a
`REPORTED` flag with action `verify` for each identifier given, for a person to
review; the flags of one report share a random `report_id`. Nothing more than
the flag is kept: an account id is stored as given; an e-mail address or phone
number becomes a keyed hash (HMAC-SHA256 with the operator's secret) of its
normal form (`normalise_email`, `normalise_phone`), so the operator can match
it against their own accounts with `identifier_hash` but the intake never
holds it in clear.

Answers: 202 accepted (in JSON with the report id), 422 (problem+json naming
the field, or the form again with the problem shown), 400 unreadable body, 413
body too large, 415 content type not read, 429 too many reports from one
client address.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import attrs
import idna
import phonenumbers
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..asgi.body import (
    BodyKind,
    Disconnected,
    Limits,
    Refused,
    classify,
    declared_length,
    read_body,
    read_kind,
)
from ..asgi.negotiate import asks_for_json, prefers_html
from ..asgi.pages import page
from ..asgi.problem import problem_body, problem_response
from ..flags import Flag, FlagCode, FlagSink
from ..keys import secret_bytes
from ..origins import origin_of
from ..reasons import Refusal
from .form_tokens import (
    FORM_TOKEN,
    FormTokens,
    bindings,
    cookie_header,
    new_binding,
)
from .form_tokens import form_token as form_token  # for callers of this module

logger = logging.getLogger("agegate.report")

IdentifierKind = Literal["account_id", "email", "phone"]
IDENTIFIERS: tuple[IdentifierKind, ...] = ("account_id", "email", "phone")
SOURCE = "report"

# An account id is stored in clear, so it may not look like an e-mail address
# or carry markup; ids of other shapes are refused, not cleaned up.
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}", re.ASCII)
_EMAIL = re.compile(r"[^\s@<>\"']{1,64}@[^\s@<>\"']+\.[^\s@<>\"'.]{2,}")
_PHONE_TEXT = re.compile(r"\+[0-9 ().\-/]{6,40}", re.ASCII)
_FIELD_LIMIT = 320


@attrs.frozen
class RateLimit:
    """At most `reports` accepted reports per client address in `seconds`."""

    reports: int = attrs.field(default=5)
    seconds: float = attrs.field(default=3600.0)
    max_clients: int = attrs.field(default=10_000)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.reports, bool) or not isinstance(self.reports, int):
            raise TypeError("RateLimit.reports must be an int")
        if self.reports < 1:
            raise ValueError("RateLimit.reports must be at least 1")
        if not isinstance(self.seconds, int | float) or self.seconds <= 0:
            raise ValueError("RateLimit.seconds must be a positive number")
        if isinstance(self.max_clients, bool) or not isinstance(self.max_clients, int):
            raise TypeError("RateLimit.max_clients must be an int")
        if self.max_clients < 1:
            raise ValueError("RateLimit.max_clients must be at least 1")


class _Limiter:
    """A sliding window per client address, in memory.

    The number of addresses tracked is capped (the least recently seen is
    forgotten first) so that a flood of addresses cannot exhaust memory.
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(client, None) or deque()
            while hits and hits[0] <= now - self.limit.seconds:
                hits.popleft()
            allowed = len(hits) < self.limit.reports
            if allowed:
                hits.append(now)
            self._hits[client] = hits
            while len(self._hits) > self.limit.max_clients:
                self._hits.popitem(last=False)
            return allowed


# Characters that show as nothing (zero-width spaces and joiners, soft
# hyphens, bidirectional marks, byte-order marks, variation selectors, fillers):
# an address pasted from a page or a chat may carry them, and no mail system
# delivers on them, so they are dropped rather than hashed.
_IGNORABLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
_IGNORABLE_RANGES = (
    ("\u180b", "\u180f"),
    ("\ufe00", "\ufe0f"),
    ("\U000e0000", "\U000e0fff"),
)


def _invisible(char: str) -> bool:
    return (
        unicodedata.category(char) == "Cf"
        or char in _IGNORABLE
        or any(low <= char <= high for low, high in _IGNORABLE_RANGES)
    )


def _visible(text: str) -> str:
    """`text` without the characters that show as nothing."""
    if text.isascii():
        return text
    return "".join(char for char in text if not _invisible(char))


def _a_labels(domain: str) -> str | None:
    """The domain as DNS looks it up: UTS 46 mapping (lower case, width,
    NFC), then each label in its IDNA A-label form (`xn--...`); None when
    IDNA refuses it. ASCII labels are kept as they are (lower case), so an
    address hashed before stays the same."""
    try:
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
        labels = []
        for label in mapped.split("."):
            if not label:
                return None
            if label.startswith("xn--"):
                label = idna.alabel(idna.ulabel(label)).decode("ascii")
            elif not label.isascii():
                label = idna.alabel(label).decode("ascii")
            labels.append(label)
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        return None
    return ".".join(labels)


def normalise_email(text: str) -> str | None:
    """The address in the form it is hashed in, or None if it is not one.

    The normal form: surrounding white space and invisible characters
    removed; the local part in Unicode NFC and lower case; the domain in
    IDNA A-labels, lower case. So `José@Bücher.example`, its NFD spelling,
    `josé@xn--bcher-kva.example` and a copy with a zero-width space inside
    are one address. Control characters and inner white space are refused.
    """
    text = unicodedata.normalize("NFC", _visible(text).strip())
    local, at, domain = text.rpartition("@")
    if not at or len(text) > _FIELD_LIMIT:
        return None
    a_labels = _a_labels(domain)
    if a_labels is None:
        return None
    normal = unicodedata.normalize("NFC", local.lower()) + "@" + a_labels
    if len(normal) > 254 or not _EMAIL.fullmatch(normal):
        return None
    if any(unicodedata.category(char) == "Cc" for char in normal):
        return None
    return normal


def normalise_phone(text: str) -> str | None:
    """The number in E.164 form (`+442079460000`), or None if it is not a
    valid international one. Invisible characters are dropped and full-width
    digits read as digits (NFKC) before the number is parsed."""
    text = unicodedata.normalize("NFKC", _visible(text)).strip()
    if not _PHONE_TEXT.fullmatch(text):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifier_hash(kind: IdentifierKind, value: str, secret: str | bytes) -> str:
    """The id a report files for an e-mail address or phone number.

    Operators compute the same value over their own accounts to find the one
    reported; the kind is part of the hash so that the two never collide.
    The value is hashed in its normal form (`normalise_email`,
    `normalise_phone`), so any spelling of one address gives one hash.
    Raises ValueError (without the value) if the value is not usable.
    """
    key = secret_bytes(secret)
    if kind == "email":
        normal = normalise_email(value)
    elif kind == "phone":
        normal = normalise_phone(value)
    else:
        raise ValueError("kind must be email or phone")
    if normal is None:
        raise ValueError(f"{kind}: not a usable value")
    digest = hmac.new(key, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}-hmac:{digest}"


@attrs.frozen
class FieldProblem:
    field: str
    reason: str


_KINDS = {
    400: "body-unreadable",
    403: "cross-site-refused",
    413: "body-too-large",
    415: "content-type-unsupported",
    422: "report-invalid",
    429: "rate-limited",
}

_TITLES = {
    400: "the request body cannot be read",
    413: "request body too large",
    415: "content type not accepted",
}


def _problem(
    status: int,
    title: str,
    *,
    code: str | None = None,
    problems: tuple[FieldProblem, ...] = (),
) -> Response:
    # The same shape as the gate's problems, so clients read both alike; a
    # field problem also lists each field with its reason.
    body = problem_body(
        status,
        _KINDS.get(status, "report-invalid"),
        title,
        code=code,
        fields=list(dict.fromkeys(p.field for p in problems)),
        reasons=[p.reason for p in problems],
    )
    if problems:
        body["errors"] = [{"field": p.field, "reason": p.reason} for p in problems]
    return problem_response(body)


def _refusal(refused: Refused) -> Response:
    title = _TITLES.get(refused.status, "the request cannot be read")
    body = problem_body(
        refused.status,
        _KINDS.get(refused.status, "body-unreadable"),
        title,
        code=refused.code,
        fields=refused.fields,
    )
    return problem_response(body)


async def _read_fields(
    request: Request, max_body: int
) -> tuple[BodyKind, dict[str, Any]]:
    """The body's fields, read by the gate's own reader: the same limits,
    encodings and refusals. Raises Refused or Disconnected."""
    raw: list[tuple[bytes, bytes]] = list(request.scope.get("headers", []))
    declared_length(raw, max_body)
    body = await read_body(request.receive, max_body)
    kind = classify(raw, body)
    if kind == "empty":
        raise Refused(415, Refusal.MEDIA_TYPE_UNSUPPORTED)
    # A report has a few fields and never a file.
    limits = Limits(max_body, max_fields=len(_READ_KEYS) + 8, max_files=0)
    return kind, read_kind(kind, Headers(raw=raw), body, _READ_KEYS, limits)


@attrs.frozen
class Report:
    """A validated report: the ids to file flags under, and which kinds."""

    account_ids: tuple[tuple[IdentifierKind, str], ...]


def validate(
    data: Mapping[str, Any], secret: bytes
) -> tuple[Report | None, tuple[FieldProblem, ...]]:
    """Read the identifiers of a report; problems name fields, never values."""
    problems: list[FieldProblem] = []
    found: list[tuple[IdentifierKind, str]] = []
    for kind in IDENTIFIERS:
        value = data.get(kind)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(FieldProblem(kind, "NOT_TEXT"))
            continue
        value = value.strip()
        if not value:
            continue
        if len(value) > _FIELD_LIMIT:
            problems.append(FieldProblem(kind, "TOO_LONG"))
        elif kind == "account_id":
            if _ACCOUNT_ID.fullmatch(value):
                found.append((kind, value))
            else:
                problems.append(FieldProblem(kind, "ACCOUNT_ID_MALFORMED"))
        elif kind == "email":
            if normalise_email(value) is None:
                problems.append(FieldProblem(kind, "EMAIL_MALFORMED"))
            else:
                found.append((kind, identifier_hash(kind, value, secret)))
        elif normalise_phone(value) is None:
            problems.append(FieldProblem(kind, "PHONE_INVALID"))
        else:
            found.append((kind, identifier_hash(kind, value, secret)))
    if not found and not problems:
        problems.append(FieldProblem("account_id", "IDENTIFIER_MISSING"))
    if problems:
        return None, tuple(problems)
    return Report(account_ids=tuple(found)), ()


_MESSAGES = {
    "IDENTIFIER_MISSING": "Give at least one of: account id, e-mail address, phone.",
    "ACCOUNT_ID_MALFORMED": "This account id is not in a form we use.",
    "EMAIL_MALFORMED": "This does not look like an e-mail address.",
    "PHONE_INVALID": "Give the number in international form, starting with +.",
    "TOO_LONG": "This is too long.",
    "NOT_TEXT": "This must be text.",
}

_LABELS = {
    "account_id": "Account id or user name",
    "email": "E-mail address of the account",
    "phone": "Phone number of the account",
}


_HINTS = {
    "account_id": "As shown on the profile, if you know it.",
    "email": "Used only to find the account; we keep a one-way code of it.",
    "phone": "International form, for example +44 20 7946 0000.",
}


def _summary(problems: tuple[FieldProblem, ...], notice: str) -> str:
    """The alert at the top of the form: its field problems, else the notice."""
    if problems:
        items = "".join(
            f'<li><a href="#{p.field}">{html.escape(_LABELS[p.field])}</a>: '
            f"{html.escape(_MESSAGES.get(p.reason, p.reason))}</li>"
            for p in problems
            if p.field in _LABELS
        )
        text = f"<p>Please check the form:</p><ul>{items}</ul>"
    elif notice:
        text = f"<p>{html.escape(notice)}</p>"
    else:
        return ""
    return f'<div class="problem" role="alert" id="problems">{text}</div>'


def _inputs(by_field: Mapping[str, str]) -> str:
    """The labelled inputs, each described by its hint and its problem."""
    fields = ""
    for name, label in _LABELS.items():
        kind = {"email": "email", "phone": "tel"}.get(name, "text")
        described = f"{name}-hint"
        invalid = problem = ""
        if name in by_field:
            invalid = ' aria-invalid="true"'
            described += f" {name}-problem"
            message = _MESSAGES.get(by_field[name], by_field[name])
            problem = f'<p class="hint" id="{name}-problem">{html.escape(message)}</p>'
        fields += (
            f'<label for="{name}">{label}</label>'
            f'<input id="{name}" name="{name}" type="{kind}" autocomplete="off"'
            f' maxlength="{_FIELD_LIMIT}" aria-describedby="{described}"{invalid}>'
            f'<p class="hint" id="{name}-hint">{_HINTS[name]}</p>{problem}'
        )
    return fields


def _form_page(
    action: str,
    service: str,
    problems: tuple[FieldProblem, ...],
    token: str,
    notice: str = "",
) -> str:
    name = html.escape(service)
    return page(
        f"Report an account that belongs to a minor - {service}",
        "<h1>Report an account that belongs to a minor</h1>"
        f"{_summary(problems, notice)}"
        f"<p>{name} is not meant for anyone under 18, or under the legal age"
        " where they live if that is higher. We do not knowingly collect"
        " personal information from minors.</p>"
        "<p>If you think that a minor has signed up or given us personal"
        " information, tell us which account it is. A person on our team will"
        " check the account and delete the minor's data.</p>"
        "<p>You do not need to tell us who you are. Give at least one of the"
        " following.</p>"
        f'<form method="post" action="{html.escape(action)}" novalidate>'
        f'<input type="hidden" name="{FORM_TOKEN}" value="{html.escape(token)}">'
        "<fieldset><legend>The account</legend>"
        f"{_inputs({p.field: p.reason for p in problems})}</fieldset>"
        '<button type="submit">Send the report</button></form>',
    )


def _thanks_page(service: str) -> str:
    return page(
        "Report received",
        '<h1 id="received">Thank you, we received your report</h1>'
        f"<p>A person on the {html.escape(service)} team will review the account."
        " If it belongs to a minor, its personal data will be deleted.</p>",
    )


def client_key(host: str) -> str:
    """The address a rate limit counts under: an IPv6 client on its /64 (one
    host or subscriber usually holds a whole /64 and can pick any address in
    it), an IPv4 client (mapped into IPv6 or not) on its own address."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _client_address(request: Request) -> str:
    return client_key(request.client.host) if request.client else "unknown"


# -- cross-site requests ----------------------------------------------------

# The keys a report is read by: one of them given twice is refused.
_READ_KEYS = frozenset((*IDENTIFIERS, FORM_TOKEN))
_SAME_SITE = ("same-origin", "none")


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether `Origin` names the host the request was sent to; the Host
    header omits the port of the scheme the browser used."""
    found = origin_of(origin)
    if found is None or not host or any(c in host for c in "/@?#\\"):
        return False
    return origin_of(f"{found[0]}://{host}") == found


def cross_site(request: Request, trusted: frozenset[tuple[str, str, int]]) -> bool:
    """Whether a browser sent this request from another site.

    Browsers say so in `Sec-Fetch-Site`, and older ones in `Origin`; a
    client that sends neither (curl, a server) is not a browser and cannot
    carry a victim's session, so it is not refused here.
    """
    sites = request.headers.getlist("sec-fetch-site")
    origins = request.headers.getlist("origin")
    if len(sites) > 1 or len(origins) > 1:
        return True
    if sites and sites[0].strip().lower() not in _SAME_SITE:
        return True
    if not origins:
        return False
    found = origin_of(origins[0])
    return found not in trusted and not _same_origin(
        origins[0], request.headers.get("host")
    )


def _trusted_origins(origins: Iterable[str]) -> frozenset[tuple[str, str, int]]:
    if isinstance(origins, str):
        raise TypeError("trusted_origins must be a list of origins, not one string")
    found = set()
    for origin in origins:
        parsed = origin_of(origin) if isinstance(origin, str) else None
        if parsed is None:
            raise ValueError("trusted_origins holds origins like https://example.org")
        found.add(parsed)
    return frozenset(found)


# -- the app ----------------------------------------------------------------


@attrs.frozen
class _Intake:
    """The intake's settings, and its two handlers."""

    store: FlagSink
    key: bytes
    rate_limit: RateLimit
    limiter: _Limiter
    max_body: int
    service_name: str
    tokens: FormTokens
    trusted: frozenset[tuple[str, str, int]]

    def form(
        self,
        request: Request,
        status: int = 200,
        problems: tuple[FieldProblem, ...] = (),
        notice: str = "",
    ) -> Response:
        """The form page with a fresh token, bound to the browser's form
        cookie (set anew, or first, with the page)."""
        binding = self.binding(request)
        action = str(request.scope.get("root_path", "")) + "/"
        body = _form_page(
            action, self.service_name, problems, self.tokens.issue(binding), notice
        )
        return self.with_cookie(
            request, HTMLResponse(body, status_code=status), binding
        )

    def binding(self, request: Request) -> str:
        """The form cookie the browser holds, or a new one."""
        held = bindings(request.headers.getlist("cookie"))
        return held[0] if held else new_binding()

    def with_cookie(
        self, request: Request, response: Response, binding: str
    ) -> Response:
        response.headers.append(
            "Set-Cookie",
            cookie_header(
                binding,
                path=str(request.scope.get("root_path", "")) + "/",
                max_age=int(self.tokens.ttl),
                https=request.scope.get("scheme") == "https",
            ),
        )
        return response

    async def show(self, request: Request) -> Response:
        if asks_for_json(request.headers.get("accept")):
            # For clients that post the form without a browser (QA's
            # examples): the token the HTML form would carry, and its cookie.
            binding = self.binding(request)
            answer = {
                FORM_TOKEN: self.tokens.issue(binding),
                "expires_in": int(self.tokens.ttl),
            }
            return self.with_cookie(request, JSONResponse(answer), binding)
        return self.form(request)

    async def receive(self, request: Request) -> Response:
        """Read a report (refusing what cannot be read one way), then judge it."""
        wants_html = prefers_html(request.headers.get("accept"))
        if cross_site(request, self.trusted):
            logger.info("report refused: cross-site request")
            return _problem(
                403, "cross-site report refused", code=Refusal.CROSS_SITE_REFUSED
            )
        try:
            kind, data = await _read_fields(request, self.max_body)
        except Refused as refused:
            logger.info(
                "report refused: status=%d code=%s", refused.status, refused.code
            )
            return _refusal(refused)
        except Disconnected:
            return Response(status_code=400)
        if kind != "json" and not self.tokens.take(
            data.pop(FORM_TOKEN, None),
            bindings(request.headers.getlist("cookie")),
            time.time(),
        ):
            return self.refuse_token(request, wants_html)
        return await self.judge(request, data, wants_html)

    async def judge(
        self, request: Request, data: dict[str, Any], wants_html: bool
    ) -> Response:
        """File a well-formed report within the rate limit; refuse any other."""
        report, problems = validate(data, self.key)
        if report is None:
            return self.refuse_report(request, problems, wants_html)
        # Only well-formed reports count against the limit, so a person
        # correcting a typo is not locked out.
        if not self.limiter.allow(_client_address(request)):
            logger.info("report refused: rate limited")
            response = _problem(
                429, "too many reports from this address", code=Refusal.RATE_LIMITED
            )
            response.headers["Retry-After"] = str(int(self.rate_limit.seconds))
            return response
        report_id, count = await self.file(report)
        if wants_html:
            return HTMLResponse(_thanks_page(self.service_name), status_code=202)
        # The report id is random and names no one: a client may quote it.
        return JSONResponse(
            {"status": "accepted", "flags": count, "report_id": report_id},
            status_code=202,
        )

    def refuse_token(self, request: Request, wants_html: bool) -> Response:
        logger.info("report refused: form token missing, expired or not ours")
        if wants_html:
            notice = "This form has expired. Please fill it in and send it again."
            return self.form(request, 403, notice=notice)
        return _problem(
            403,
            "form token missing or expired; get the form again",
            code=Refusal.FORM_TOKEN_INVALID,
        )

    def refuse_report(
        self, request: Request, problems: tuple[FieldProblem, ...], wants_html: bool
    ) -> Response:
        logger.info(
            "report refused: fields=%s", ",".join(sorted({p.field for p in problems}))
        )
        if wants_html:
            return self.form(request, 422, problems)
        return _problem(422, "the report cannot be read", problems=problems)

    async def file(self, report: Report) -> tuple[str, int]:
        """File one flag per identifier, all carrying one new report id;
        returns the id and how many flags."""
        today = datetime.now(UTC).date().isoformat()
        report_id = new_report_id()
        flags = [
            Flag(
                account_id=account_id,
                codes=(FlagCode.REPORTED,),
                action="verify",
                source=SOURCE,
                # A report on another day reopens a flag already resolved;
                # the same report sent twice in a day does not.
                fingerprint=hmac.new(
                    self.key, f"{account_id}|{today}".encode(), hashlib.sha256
                ).hexdigest(),
                report_id=report_id,
            )
            for _, account_id in report.account_ids
        ]
        await run_in_threadpool(self.store.add_many, flags)
        logger.info(
            "report filed: kinds=%s", ",".join(kind for kind, _ in report.account_ids)
        )
        return report_id, len(flags)


def new_report_id() -> str:
    """A random id for one report; it links the report's flags and says
    nothing of the reporter or the account."""
    return f"rep-{secrets.token_hex(8)}"


def _checked_rate_limit(
    store: FlagSink,
    rate_limit: RateLimit | None,
    max_body: int,
    form_token_ttl: float,
) -> RateLimit:
    """The rate limit to apply, once every option of `report_app` is checked."""
    if not hasattr(store, "add_many"):
        raise TypeError("store must be a flag sink (with add_many)")
    if rate_limit is None:
        rate_limit = RateLimit()
    if not isinstance(rate_limit, RateLimit):
        raise TypeError("rate_limit must be a RateLimit")
    if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 256:
        raise ValueError("max_body must be an int of at least 256 bytes")
    if not isinstance(form_token_ttl, int | float) or not form_token_ttl >= 60:
        raise ValueError("form_token_ttl must be at least 60 seconds")
    return rate_limit


def report_app(
    *,
    store: FlagSink,
    secret: str | bytes,
    rate_limit: RateLimit | None = None,
    max_body: int = 8192,
    service_name: str = "This service",
    clock: Callable[[], float] = time.monotonic,
    form_token_ttl: float = 7200.0,
    trusted_origins: Iterable[str] = (),
) -> Starlette:
    """A Starlette app serving the report form at its root; mount it anywhere.

    The client address is the one the ASGI server reports: behind a proxy, run
    the server with its proxy-header option so that each reporter gets their
    own limit.

    A report sent by a browser from another site is refused (403), and a
    form post must carry the token of a form this intake served in the last
    `form_token_ttl` seconds, with the cookie that form set, and only once
    (see `agegate.apps.form_tokens`). `trusted_origins` (`https://example.org`) are
    taken as the intake's own, for a proxy that rewrites the Host header.
    """
    key = secret_bytes(secret)
    rate_limit = _checked_rate_limit(store, rate_limit, max_body, form_token_ttl)
    intake = _Intake(
        store=store,
        key=key,
        rate_limit=rate_limit,
        limiter=_Limiter(rate_limit, clock),
        max_body=max_body,
        service_name=service_name,
        tokens=FormTokens(key, float(form_token_ttl)),
        trusted=_trusted_origins(trusted_origins),
    )
    return Starlette(
        routes=[
            Route("/", intake.show, methods=["GET"]),
            Route("/", intake.receive, methods=["POST"]),
        ]
    )
