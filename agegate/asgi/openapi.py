"""The gate's own answers, for an app's OpenAPI document.

FastAPI lists a route's answers from its `responses=`; the gate answers some
requests itself (403 block notice, 400, 413, 415, 422, 431, 503 on a
profile route), which `/docs` would otherwise never show:

    from agegate.asgi.openapi import gate_responses

    @app.post("/signup", responses=gate_responses())
    def signup(body: SignupIn): ...

Plain dictionaries: nothing here imports FastAPI or Pydantic.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from .negotiate import PROBLEM_JSON

# The problem+json body every gate answer carries (RFC 9457 members and the
# gate's own).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "AgeGateProblem",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "description": "urn:agegate:problem:<kind>, e.g. "
            "urn:agegate:problem:underage",
        },
        "title": {"type": "string", "description": "a short human title"},
        "status": {"type": "integer", "description": "the HTTP status"},
        "detail": {"type": "string", "description": "what the person can do"},
        "code": {
            "type": "string",
            "description": "the stable code a client matches on "
            "(a Refusal or Reason code, e.g. BODY_TOO_LARGE)",
        },
        "fields": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the configured keys the problem is about",
        },
        "reasons": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the decision's reason codes (422)",
        },
        "service_name": {"type": "string"},
        "contact_url": {"type": "string"},
        "contact_email": {"type": "string"},
    },
}

_DESCRIPTIONS = {
    400: "The gate could not read the body the way the app would "
    "(a repeated or ambiguous field, a malformed body).",
    403: "The age gate blocked the request: the person is under the "
    "required age (or holds the block cookie). The body says so in the "
    "client's language; a browser gets an HTML notice.",
    413: "The body is larger than the gate reads (max_body_size).",
    415: "The gate does not read this media type on a gated route.",
    422: "A birth input or a jurisdiction is missing or unusable "
    "(`reasons` and `fields` say which).",
    431: "A header is longer than the gate reads (max_header_size).",
    503: "A profile update of a minor was blocked but its removal flag "
    "could not be recorded; retry later.",
}

SIGNUP_STATUSES = (400, 403, 413, 415, 422)
PROFILE_STATUSES = (*SIGNUP_STATUSES, 503)


def gate_responses(
    statuses: Iterable[int] = SIGNUP_STATUSES,
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries for the gate's answers on a gated route.

    `statuses` picks them (default: 400, 403, 413, 415, 422; add 503 on a
    profile route with `PROFILE_STATUSES`). Merge with the route's own:
    `responses={**gate_responses(), 409: {...}}`.
    """
    found: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        if status not in _DESCRIPTIONS:
            raise ValueError(f"the gate never answers {status}")
        content: dict[str, Any] = {
            PROBLEM_JSON: {"schema": copy.deepcopy(PROBLEM_SCHEMA)},
            # A browser (Accept: text/html) gets the same answer as a page.
            "text/html": {"schema": {"type": "string"}},
        }
        found[status] = {"description": _DESCRIPTIONS[status], "content": content}
    return found
