"""problem+json (RFC 9457) answers, one shape for every door.

`type` is `urn:agegate:problem:<slug>`; `code` is the stable code a script
matches on; `fields` name configured or documented field keys only, never
anything the client sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from .negotiate import PROBLEM_JSON

TYPE_PREFIX = "urn:agegate:problem:"


def problem_type(slug: str) -> str:
    """The `type` URI of a problem: `UNDERAGE` -> `urn:agegate:problem:underage`."""
    return TYPE_PREFIX + slug.lower().replace("_", "-")


def problem_body(
    status: int,
    slug: str,
    title: str,
    *,
    detail: str | None = None,
    code: str | None = None,
    fields: Sequence[str] = (),
    reasons: Sequence[str] = (),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if code is not None:
        body["code"] = str(code)
    if fields:
        body["fields"] = list(fields)
    if reasons:
        body["reasons"] = [str(reason) for reason in reasons]
    return body


def problem_response(
    body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
) -> Response:
    """The response carrying a problem body; its status is the body's."""
    return Response(
        json.dumps(body, ensure_ascii=False).encode("utf-8"),
        status_code=int(body["status"]),
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )
