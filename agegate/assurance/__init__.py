"""Age assurance: verified proofs of age, beyond a typed birthdate.

The model (`Level`, `Assurance`, `AssuranceError`) needs nothing beyond the
core. The verifiers need the `assurance` extra (cryptography, cbor2,
joserfc) and are imported from their own modules.
"""

from __future__ import annotations

from .model import (
    Assurance,
    AssuranceError,
    AssuranceReason,
    Level,
    Method,
    assurance_from_dict,
    assurance_to_dict,
)

# The codes scripts match on are AssuranceReason's; `Reason` is the name the
# verifier's errors carry them under.
Reason = AssuranceReason

__all__ = [
    "Assurance",
    "AssuranceError",
    "AssuranceReason",
    "Level",
    "Method",
    "Reason",
    "assurance_from_dict",
    "assurance_to_dict",
]
