"""A gated signup app with assurance routes, and signed provider callbacks
built as k-ID, Persona and Veriff document them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from agegate import AgeGateMiddleware, load_rules
from agegate.apps.assurance import assurance_app
from agegate.apps.report import RateLimit
from agegate.assurance import Level
from agegate.assurance.policy import AssurancePolicy
from agegate.assurance.providers import kid, persona, veriff

SECRET = "assurance-gate-test-secret-0123456789"
KID_SECRET = "kid-webhook-secret-for-tests-0001"
KID_OLD_SECRET = "kid-webhook-secret-rotated-out-02"
PERSONA_SECRET = "wbhsec_persona-test-secret-000003"
VERIFF_SECRET = "veriff-shared-secret-for-tests-04"
LEVELS = {
    "id-document": Level.HIGHLY_EFFECTIVE,
    "age-estimation-scan": Level.HIGHLY_EFFECTIVE,
    "email-age-estimation": Level.BASIC,
}


def make_policy(**extra: Any) -> AssurancePolicy:
    options: dict[str, Any] = {
        "required": {"GB": Level.HIGHLY_EFFECTIVE, "FR": Level.EFFECTIVE},
        "secret": SECRET,
        "providers": {
            "k-id": kid([KID_SECRET, KID_OLD_SECRET], levels=LEVELS),
            "persona": persona(
                [PERSONA_SECRET], levels={"inquiry": Level.HIGHLY_EFFECTIVE}
            ),
            "veriff": veriff([VERIFF_SECRET], levels=LEVELS),
        },
    }
    options.update(extra)
    return AssurancePolicy(**options)


def make_app(
    policy: AssurancePolicy, seen: list[dict[str, Any]], **routes: Any
) -> Starlette:
    async def signup(request: Request) -> Response:
        assurance = getattr(request.state, "agegate_assurance", None)
        seen.append({"decision": request.state.agegate, "assurance": assurance})
        return JSONResponse(
            {"created": True, "assured": assurance is not None}, status_code=201
        )

    routes.setdefault("rate_limit", RateLimit(1000, 60))
    app = Starlette(
        routes=[
            Route("/signup", signup, methods=["POST"]),
            Mount(policy.base_path, app=assurance_app(policy, **routes)),
        ]
    )
    app.add_middleware(
        AgeGateMiddleware,
        paths=["/signup"],
        secret=SECRET,
        rules=load_rules(),
        assurance=policy,
    )
    return app


def kid_callback(
    verification: str,
    status: str = "PASS",
    *,
    low: int = 30,
    high: int = 30,
    method: str = "id-document",
    secret: str = KID_SECRET,
    at: int | None = None,
    **data: Any,
) -> tuple[bytes, dict[str, str]]:
    event = {
        "eventType": "Verification.Result",
        "data": {
            "id": verification,
            "status": status,
            "method": method,
            "age": {"low": low, "high": high},
            **data,
        },
    }
    body = json.dumps(event).encode()
    stamp = str(int(time.time()) if at is None else at)
    mac = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256)
    return body, {
        "content-type": "application/json",
        "x-signature-timestamp": stamp,
        "x-signature-hmac-sha256": mac.hexdigest(),
    }


def persona_callback(
    attempt: str,
    name: str = "inquiry.approved",
    *,
    birthdate: str | None = "1980-02-03",
    event_id: str = "evt_test_1",
    secret: str = PERSONA_SECRET,
    at: int | None = None,
    extra_pairs: str = "",
) -> tuple[bytes, dict[str, str]]:
    inquiry: dict[str, Any] = {"status": "approved", "reference-id": attempt}
    if birthdate is not None:
        inquiry["birthdate"] = birthdate
    event = {
        "data": {
            "type": "event",
            "id": event_id,
            "attributes": {
                "name": name,
                "payload": {
                    "data": {"type": "inquiry", "id": "inq_1", "attributes": inquiry}
                },
            },
        }
    }
    body = json.dumps(event).encode()
    stamp = str(int(time.time()) if at is None else at)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    header = f"t={stamp},v1={mac.hexdigest()}"
    if extra_pairs:
        header = f"{extra_pairs} {header}"
    return body, {"content-type": "application/json", "persona-signature": header}


def veriff_callback(
    attempt: str, person: dict[str, Any], status: str = "approved"
) -> tuple[bytes, dict[str, str]]:
    event = {
        "status": "success",
        "verification": {
            "id": "f04bdb47-d3be-4b28-b028-a652feb060b5",
            "attemptId": "e30122d1-740b-4764-853f-470374a7abf4",
            "status": status,
            "code": 9001,
            "vendorData": attempt,
            "person": person,
            "document": {"number": person.get("idNumber"), "type": "PASSPORT"},
        },
    }
    body = json.dumps(event).encode()
    mac = hmac.new(VERIFF_SECRET.encode(), body, hashlib.sha256)
    return body, {
        "content-type": "application/json",
        "x-hmac-signature": mac.hexdigest(),
    }
