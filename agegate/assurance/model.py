"""What an age check proved, in a form that is safe to log and to store.

An `Assurance` says how a person's age was established (`method`), how much
that is worth (`level`), and what it proved: at least some age (`over`),
younger than some age (`under`), or both. It never carries a birthdate, a
name, a document number, a device key, a credential or a transcript: the
verifier reads those, does its arithmetic and lets them go.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

import attrs

from ..errors import AgeGateError


class Level(enum.IntEnum):
    """How much an age check is worth, in ISO/IEC 27566-1's names.

    Ordered, so a policy asks `level >= Level.EFFECTIVE`. A birthdate typed
    by the person is `ASSERTED`: what regulators call self-declaration.
    """

    ASSERTED = 0
    BASIC = 1
    EFFECTIVE = 2
    HIGHLY_EFFECTIVE = 3


class Method(enum.StrEnum):
    """How an age was established."""

    DECLARED = "declared"
    WALLET_MDOC = "wallet_mdoc"
    WALLET_SD_JWT = "wallet_sd_jwt"
    PROVIDER = "provider"


class AssuranceReason(enum.StrEnum):
    """Why a proof of age was not accepted; stable codes scripts match on."""

    UNTRUSTED_ISSUER = "ASSURANCE_UNTRUSTED_ISSUER"
    SIGNATURE_INVALID = "ASSURANCE_SIGNATURE_INVALID"
    DIGEST_MISMATCH = "ASSURANCE_DIGEST_MISMATCH"
    EXPIRED = "ASSURANCE_EXPIRED"
    NOT_YET_VALID = "ASSURANCE_NOT_YET_VALID"
    BINDING_INVALID = "ASSURANCE_BINDING_INVALID"
    REPLAYED = "ASSURANCE_REPLAYED"
    ORIGIN_MISMATCH = "ASSURANCE_ORIGIN_MISMATCH"
    INCONCLUSIVE = "ASSURANCE_INCONCLUSIVE"
    # The issuer's Token Status List says the credential is revoked or
    # suspended (checked only when the verifier is given `status_lists`).
    REVOKED = "ASSURANCE_REVOKED"
    # Not a proof at all: bytes that do not parse as the format claimed.
    MALFORMED = "ASSURANCE_MALFORMED"


class AssuranceError(AgeGateError, ValueError):
    """A proof of age was refused, for the reason its code gives.

    The message names the step that failed, never a value read from the
    proof: a refused proof may still hold a name or a birthdate.
    """

    code = "ASSURANCE_REFUSED"

    def __init__(self, reason: AssuranceReason, step: str | None = None) -> None:
        super().__init__(reason if step is None else f"{step}: {reason}")
        self.reason = reason
        self.step = step

    def __reduce__(self) -> tuple[Any, ...]:
        return (AssuranceError, (self.reason, self.step))


def _check_ages(instance: Assurance, _attribute: Any, _value: Any) -> None:
    over, under = instance.over, instance.under
    if over is None and under is None:
        raise ValueError("an Assurance proves an age: over or under")
    if over is not None and under is not None and over >= under:
        raise ValueError("over must be below under")


@attrs.frozen
class Assurance:
    """What one age check proved. Day precision, no identity.

    `source` is a digest of the trust anchor that vouched for the proof
    (a wallet issuer's root) or the provider's name; `attempt` ties the
    result to the challenge it answered, so a result is used once.
    """

    method: Method
    level: Level
    over: int | None = attrs.field(validator=_check_ages)
    under: int | None
    source: str
    verified_on: date
    valid_until: date
    attempt: str

    def proves_at_least(self, age: int) -> bool:
        return self.over is not None and self.over >= age

    def proves_under(self, age: int) -> bool:
        return self.under is not None and self.under <= age


def assurance_to_dict(assurance: Assurance) -> dict[str, Any]:
    """The JSON form of an Assurance (what a token or a store keeps)."""
    return {
        "method": str(assurance.method),
        "level": assurance.level.name,
        "over": assurance.over,
        "under": assurance.under,
        "source": assurance.source,
        "verified_on": assurance.verified_on.isoformat(),
        "valid_until": assurance.valid_until.isoformat(),
        "attempt": assurance.attempt,
    }


def assurance_from_dict(data: dict[str, Any]) -> Assurance:
    """Read `assurance_to_dict`'s form back; ValueError on anything else."""
    try:
        return Assurance(
            method=Method(data["method"]),
            level=Level[data["level"]],
            over=_optional_age(data["over"]),
            under=_optional_age(data["under"]),
            source=str(data["source"]),
            verified_on=date.fromisoformat(data["verified_on"]),
            valid_until=date.fromisoformat(data["valid_until"]),
            attempt=str(data["attempt"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError("not an assurance record") from exc


def _optional_age(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= 150:
        raise ValueError("not an age")
    return value
