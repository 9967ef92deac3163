"""The demo's age assurance: Great Britain needs HIGHLY_EFFECTIVE, and a
TEST provider stands in for a real one.

The test provider is marked as a test everywhere it shows. Its page lets a
tester choose the outcome; the provider then signs a callback in k-ID's
documented format (`X-Signature-Hmac-Sha256` over the timestamp and the
body) with a key the demo generates at each start, and hands it to the
same `ProviderWebhook.receive` that a real provider's HTTP callback reaches:
the signature, the event id, the open attempt and the level are all
checked as for a real one. Its API (`POST /test-provider/decide`, JSON)
lets QA's catalogue run the flow without a browser.

Nothing here is for production: a real provider checks a real person.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..asgi.pages import page
from ..assurance.model import Level
from ..assurance.policy import AssurancePolicy
from ..assurance.providers import KID_SIGNATURE, read_kid
from ..assurance.verifier import WalletVerifier
from ..assurance.webhook import ProviderWebhook, WebhookRefused

TEST_PROVIDER = "test-provider"
TEST_PATH = "/test-provider"
ASSURANCE_PATH = "/assurance"
_OUTCOMES = ("over", "under", "inconclusive")


def test_provider(key: str) -> ProviderWebhook:
    """A provider reading k-ID's format, signed with the demo's own key."""
    return ProviderWebhook(
        TEST_PROVIDER,
        KID_SIGNATURE,
        read_kid,
        secrets=[key],
        levels={"id-document": Level.HIGHLY_EFFECTIVE},
        confidence="test",
    )


def demo_policy(
    secret: str,
    provider: ProviderWebhook,
    wallet: WalletVerifier | None = None,
    page_script: str | None = None,
) -> AssurancePolicy:
    return AssurancePolicy(
        required={"GB": Level.HIGHLY_EFFECTIVE, "*": Level.ASSERTED},
        secret=secret,
        wallet=wallet,
        providers={TEST_PROVIDER: provider},
        base_path=ASSURANCE_PATH,
        start_urls={TEST_PROVIDER: TEST_PATH + "/?attempt={attempt}&age={age}"},
        page_script=page_script,
    )


def _callback(
    key: str, verification: str, outcome: str, age: int
) -> tuple[bytes, dict[str, str]]:
    """The signed callback a provider would send for this outcome."""
    data: dict[str, Any] = {"id": verification, "method": "id-document"}
    if outcome == "over":
        data.update(status="PASS", age={"low": age + 12, "high": age + 12})
    elif outcome == "under":
        data.update(
            status="FAIL",
            age={"low": age - 4, "high": age - 2},
            failureReason="age-criteria-not-met",
        )
    else:
        data.update(status="FAIL", failureReason="max-attempts-exceeded")
    body = json.dumps({"eventType": "Verification.Result", "data": data}).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(key.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
    return body, {"x-signature-timestamp": stamp, "x-signature-hmac-sha256": mac}


def _age(value: object) -> int | None:
    """Two ASCII digits (or such an int) as an age: `str.isdigit` is true of
    other scripts' digits too, which int() refuses, as it refuses a text of
    thousands of digits."""
    text = str(value) if type(value) in (int, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= 2:
        return int(text)
    return None


def _page(attempt: str, age: int) -> str:
    buttons = "".join(
        f'<button type="submit" name="outcome" value="{o}" id="test-{o}">'
        f"{label}</button> "
        for o, label in (
            ("over", f"TEST: pass (over {age})"),
            ("under", f"TEST: fail (under {age})"),
            ("inconclusive", "TEST: no answer"),
        )
    )
    return page(
        "TEST provider - not a real age check",
        '<div class="notice" role="alert"><p><strong>TEST PROVIDER.</strong>'
        " This page is part of the agegate demo. It checks nobody's age: it"
        " lets a tester choose what a provider would answer.</p></div>"
        '<h1 id="test-provider">Test age check</h1>'
        f'<form method="post" action="{TEST_PATH}/decide">'
        f'<input type="hidden" name="attempt" value="{html.escape(attempt)}">'
        f'<input type="hidden" name="age" value="{age}">{buttons}</form>',
    )


class _TestProvider:
    def __init__(self, provider: ProviderWebhook, key: str) -> None:
        self.provider = provider
        self.key = key

    async def show(self, request: Request) -> Response:
        attempt = request.query_params.get("attempt", "")[:100]
        age_text = request.query_params.get("age", "18")
        age = _age(age_text) or 18
        return HTMLResponse(_page(attempt, age))

    async def decide(self, request: Request) -> Response:
        as_json = request.headers.get("content-type", "").startswith("application/json")
        if as_json:
            try:
                data = json.loads(await request.body())
            except (ValueError, RecursionError):
                data = None
        else:
            async with request.form(max_files=0, max_fields=8) as form:
                data = {k: v for k, v in form.items() if isinstance(v, str)}
        if not isinstance(data, dict) or data.get("outcome") not in _OUTCOMES:
            return JSONResponse({"title": "attempt and outcome needed"}, 422)
        attempt = str(data.get("attempt", ""))
        found = _age(data.get("age", 18))
        age = found if found is not None and 13 <= found <= 25 else 18
        verification = "test-" + secrets.token_hex(8)
        try:
            self.provider.bind(attempt, verification)
        except ValueError:
            return JSONResponse({"status": "dropped"})
        body, headers = _callback(self.key, verification, data["outcome"], age)
        try:
            receipt = self.provider.receive(headers, body)
        except WebhookRefused as refused:
            return JSONResponse({"code": refused.code}, refused.status)
        if as_json:
            return JSONResponse({"status": receipt.status})
        return HTMLResponse(
            page(
                "TEST provider - done",
                '<div class="notice"><p><strong>TEST PROVIDER.</strong></p></div>'
                '<h1 id="test-done">The test provider has answered</h1>'
                "<p>Close this window and go back to the sign-up page.</p>",
            )
        )


def test_provider_app(provider: ProviderWebhook, key: str) -> Starlette:
    handlers = _TestProvider(provider, key)
    return Starlette(
        routes=[
            Route("/", handlers.show, methods=["GET"]),
            Route("/decide", handlers.decide, methods=["POST"]),
        ]
    )


def new_test_key() -> str:
    """The key the test provider signs with: new at each start."""
    return secrets.token_urlsafe(32)


__all__ = [
    "ASSURANCE_PATH",
    "TEST_PATH",
    "TEST_PROVIDER",
    "demo_policy",
    "new_test_key",
    "test_provider",
    "test_provider_app",
]
