"""Presets for age-check providers' webhooks: k-ID, Yoti, Veriff, Persona.

Each preset is built from the provider's public documentation, read when
the preset was written; a provider may change its format, so each says
what it follows and how sure it is (`ProviderWebhook.confidence`). Every
preset takes the operator's `levels`: which `Level` each of the provider's
methods is worth for them (a method not listed counts as ASSERTED, which
passes no stricter requirement).

k-ID (confidence: documented)
    Signature: `X-Signature-Hmac-Sha256`, lower-case hex HMAC-SHA256 of the
    `X-Signature-Timestamp` value (UNIX seconds) and the raw body
    concatenated, keyed with the webhook secret. Event `Verification.Result`:
    `data.id` (k-ID's verification id: `bind` it to the attempt),
    `data.status` PASS / FAIL, `data.method` (`id-document`,
    `age-estimation-scan`, ...), `data.age.low` / `data.age.high`,
    `data.failureReason`. No event id is sent: the verification id and
    status stand for one. Read at
    https://raw.githubusercontent.com/api-evangelist/k-id/refs/heads/main/llms/k-id-llms.txt
    (k-ID's developer docs, "Webhooks" and "Verification.Result").

Veriff (confidence: documented for the signature, partial for the payload)
    Signature: `X-HMAC-SIGNATURE`, hex HMAC-SHA256 of the raw body with the
    shared secret key (https://devdocs.veriff.com/docs/hmac-authentication-and-endpoint-security).
    Decision webhook (https://devdocs.veriff.com/docs/decision-webhook,
    https://devdocs.veriff.com/docs/verification-session-status-codes-table):
    `verification.id`, `verification.status` (`approved`, `declined`,
    `resubmission_requested`, `expired`, `abandoned`, `review`),
    `verification.vendorData` (the attempt, given at session creation),
    `verification.person.dateOfBirth` when the integration returns it. The
    payload's full schema was not readable here: the fields used are those
    the status table names; a decision without a date of birth proves only
    what `approved_proves_over` says.

Persona (confidence: documented)
    Signature: `Persona-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 of
    `{t}.{body}`; during rotation several space-separated pairs
    (https://docs.withpersona.com/v2022-09-01/docs/best-practices). Event
    (https://docs.withpersona.com/v2022-09-01/docs/webhooks): `data.id` the
    event id, `data.attributes.name` (`inquiry.approved`,
    `inquiry.declined`, `inquiry.failed`), the inquiry in
    `data.attributes.payload.data` with `attributes.reference-id` (the
    attempt) and, where the template collects it, `attributes.birthdate`.

Yoti age verification (confidence: partial)
    Notification (https://developers.yoti.com/age-verification/sandbox-notifications,
    https://developers.yoti.com/age-verification-headless/notifications):
    `id` the notification id, `reference_id` (the attempt), `method`
    (`AGE_ESTIMATION`, `DOC_SCAN`, `DIGITAL_ID`), `result`, `age` (the
    threshold of an OVER/UNDER check), `state` (`COMPLETE`, `FAIL`,
    `ERROR`). Yoti puts a `signature` in the body, but how it is computed
    was not in the pages read, so this preset does not guess: the operator
    gives the `signature` their Yoti integration uses (an HmacSignature or
    JwsSignature), and the preset refuses to be built without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .model import Level
from .webhook import (
    AttemptBook,
    HmacSignature,
    Outcome,
    ProviderWebhook,
    Reading,
    Signature,
    age_from_birthdate,
    compare,
)


def _today() -> Any:
    return datetime.now(UTC).date()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if type(value) is int and 0 <= value <= 150 else None


# -- k-ID -----------------------------------------------------------------------

KID_SIGNATURE = HmacSignature(
    header="x-signature-hmac-sha256",
    template="{timestamp}{body}",
    encoding="hex",
    timestamp_header="x-signature-timestamp",
)


def read_kid(event: Mapping[str, Any], required: int) -> Reading:
    data = event["data"]
    kind = event.get("eventType")
    if kind not in ("Verification.Result", "AgeAssurance.Result"):
        return Reading(str(kind), None, "ignored")
    verification = str(data["id"])
    status = data.get("status")
    age = data.get("age") if isinstance(data.get("age"), dict) else {}
    low, high = _int(age.get("low")), _int(age.get("high"))
    outcome: Outcome = "inconclusive"
    proven = None
    if status == "PASS" and low is not None and low >= required:
        outcome, proven = "over", low
    elif status == "PASS" and low is None and data.get("ageCategory") == "adult":
        # k-ID's criteria were the jurisdiction's adulthood: the attempt's age.
        outcome = "over"
    elif data.get("failureReason") == "age-criteria-not-met":
        outcome = "under" if high is not None and high < required else "inconclusive"
    event_id = f"{kind}:{verification}:{status}"
    return Reading(
        event_id, verification, outcome, str(data.get("method") or ""), proven
    )


def kid(
    secrets: Iterable[str | bytes],
    *,
    levels: Mapping[str, Level] | None = None,
    attempts: AttemptBook | None = None,
    **options: Any,
) -> ProviderWebhook:
    """k-ID's `Verification.Result` webhook; `bind` k-ID's verification id
    to the attempt when the verification is created."""
    return ProviderWebhook(
        "k-id",
        KID_SIGNATURE,
        read_kid,
        secrets=secrets,
        levels=levels,
        attempts=attempts,
        **options,
    )


# -- Veriff ---------------------------------------------------------------------

VERIFF_SIGNATURE = HmacSignature(header="x-hmac-signature", template="{body}")


def _veriff_reader(approved_proves_over: int | None) -> Any:
    def read(event: Mapping[str, Any], required: int) -> Reading:
        verification = event["verification"]
        session = str(verification["id"])
        status = verification.get("status")
        attempt_id = verification.get("attemptId") or ""
        reference = _text(verification.get("vendorData")) or session
        event_id = f"{session}:{attempt_id}:{status}"
        if status != "approved":
            ended = status in ("declined", "expired", "abandoned")
            return Reading(event_id, reference, "inconclusive" if ended else "ignored")
        person = verification.get("person")
        born = person.get("dateOfBirth") if isinstance(person, dict) else None
        outcome = _approved(born, required, approved_proves_over)
        return Reading(event_id, reference, outcome, "id-document")

    return read


def _approved(born: Any, required: int, approved_proves_over: int | None) -> Outcome:
    """What an approved check proves: the age of the birthdate it returned
    (read, then let go), else the age the operator's rule at the provider
    proves, else nothing conclusive."""
    age = age_from_birthdate(born, _today())
    if age is None and approved_proves_over is not None:
        return compare(approved_proves_over, required)
    return compare(age, required)


def veriff(
    secrets: Iterable[str | bytes],
    *,
    levels: Mapping[str, Level] | None = None,
    approved_proves_over: int | None = None,
    attempts: AttemptBook | None = None,
    **options: Any,
) -> ProviderWebhook:
    """Veriff's decision webhook. Give the attempt as `vendorData` when the
    session is created. `approved_proves_over`: the age an approved session
    proves when the integration returns no date of birth (the age rule the
    operator set up at Veriff), else such a decision is inconclusive. The
    method is `id-document`."""
    return ProviderWebhook(
        "veriff",
        VERIFF_SIGNATURE,
        _veriff_reader(approved_proves_over),
        secrets=secrets,
        levels=levels,
        attempts=attempts,
        confidence="partial",
        **options,
    )


# -- Persona --------------------------------------------------------------------

PERSONA_SIGNATURE = HmacSignature(
    header="persona-signature", template="{timestamp}.{body}", pairs=True
)
_PERSONA_ENDED = ("inquiry.declined", "inquiry.failed", "inquiry.expired")


def _persona_reader(approved_proves_over: int | None) -> Any:
    def read(event: Mapping[str, Any], required: int) -> Reading:
        data = event["data"]
        attributes = data["attributes"]
        name = attributes.get("name")
        inquiry = attributes["payload"]["data"]
        fields = inquiry.get("attributes") or {}
        reference = _text(fields.get("reference-id")) or _text(inquiry.get("id"))
        event_id = str(data["id"])
        if name in _PERSONA_ENDED:
            return Reading(event_id, reference, "inconclusive")
        if name != "inquiry.approved":
            return Reading(event_id, reference, "ignored")
        outcome = _approved(fields.get("birthdate"), required, approved_proves_over)
        return Reading(event_id, reference, outcome, "inquiry")

    return read


def persona(
    secrets: Iterable[str | bytes],
    *,
    levels: Mapping[str, Level] | None = None,
    approved_proves_over: int | None = None,
    attempts: AttemptBook | None = None,
    **options: Any,
) -> ProviderWebhook:
    """Persona's inquiry webhooks. Give the attempt as the inquiry's
    `reference-id`. The method is `inquiry` (one template: give it the level
    that template's checks are worth)."""
    return ProviderWebhook(
        "persona",
        PERSONA_SIGNATURE,
        _persona_reader(approved_proves_over),
        secrets=secrets,
        levels=levels,
        attempts=attempts,
        **options,
    )


# -- Yoti -----------------------------------------------------------------------


def read_yoti(event: Mapping[str, Any], required: int) -> Reading:
    event_id = str(event["id"])
    reference = _text(event.get("reference_id"))
    method = str(event.get("method") or "")
    state = event.get("state")
    threshold = _int(event.get("age"))
    outcome: Outcome = "inconclusive"
    if state == "COMPLETE" and event.get("result") is True and threshold is not None:
        outcome = "over" if threshold >= required else "inconclusive"
    elif state == "FAIL" and threshold is not None and threshold <= required:
        # Failed an OVER check at or below the age asked: younger than that.
        outcome = "under"
    return Reading(event_id, reference, outcome, method, threshold)


def yoti(
    signature: Signature,
    secrets: Iterable[str | bytes] = (),
    *,
    levels: Mapping[str, Level] | None = None,
    attempts: AttemptBook | None = None,
    **options: Any,
) -> ProviderWebhook:
    """Yoti age verification notifications for OVER checks, with the
    `signature` scheme the operator's Yoti integration documents (required:
    see the module docstring). Give the attempt as `reference_id`."""
    if signature is None:
        raise ValueError("yoti: give the signature scheme of your integration")
    return ProviderWebhook(
        "yoti",
        signature,
        read_yoti,
        secrets=secrets,
        levels=levels,
        attempts=attempts,
        confidence="partial",
        **options,
    )


PRESETS = {"k-id": kid, "veriff": veriff, "persona": persona, "yoti": yoti}

__all__ = [
    "KID_SIGNATURE",
    "PERSONA_SIGNATURE",
    "PRESETS",
    "VERIFF_SIGNATURE",
    "kid",
    "persona",
    "read_kid",
    "read_yoti",
    "veriff",
    "yoti",
]
