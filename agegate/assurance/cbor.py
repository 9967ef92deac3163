"""Reading CBOR from a wallet: strict, and never a library exception.

cbor2 decodes many tags into Python objects, some of them dangerous on
untrusted input (shared references build cycles, bignums and sets cost
time). An mdoc needs only a few: tdate (0) and full-date (1004) are read
as dates; embedded CBOR (24) and COSE_Sign1 (18) stay tags; every other
tag, a repeated map key, an indefinite length and deep nesting are refused.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from .model import AssuranceError, AssuranceReason

MAX_DEPTH = 24
_KEPT_TAGS = frozenset({18, 24})
# The tags cbor2 decodes by itself (its semantic decoders), except 0 and 1004.
_BUILTIN_TAGS = (1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258)
_BUILTIN_TAGS_MORE = (260, 261, 1001, 1002, 1003, 55799)


def _refuse(*_args: Any) -> Any:
    raise ValueError("tag refused")


def _keep(*args: Any) -> Any:
    # cbor2's C and Python decoders pass the tag in different positions.
    for arg in args:
        if isinstance(arg, cbor2.CBORTag):
            if arg.tag in _KEPT_TAGS:
                return arg
            break
    raise ValueError("tag refused")


_REFUSED = dict.fromkeys(_BUILTIN_TAGS + _BUILTIN_TAGS_MORE, _refuse)


def decode(data: Any, step: str) -> Any:
    """One CBOR item filling all of `data`; MALFORMED on anything else."""
    if not isinstance(data, bytes):
        raise AssuranceError(AssuranceReason.MALFORMED, step)
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            stream,
            tag_hook=_keep,
            semantic_decoders=_REFUSED,
            max_depth=MAX_DEPTH,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        ).decode()
    # Untrusted bytes: every decoder failure is the same answer.
    except Exception:
        raise AssuranceError(AssuranceReason.MALFORMED, step) from None
    # cbor2 stops after one item; bytes after it are a second reading.
    if stream.tell() != len(data):
        raise AssuranceError(AssuranceReason.MALFORMED, step)
    return value


def embedded(item: Any, step: str) -> tuple[bytes, Any]:
    """The bytes of a tag-24 item (`#6.24(bstr .cbor T)`) and their decoding."""
    if not (isinstance(item, cbor2.CBORTag) and item.tag == 24):
        raise AssuranceError(AssuranceReason.MALFORMED, step)
    raw = item.value
    return raw, decode(raw, step)


def encode(value: Any) -> bytes:
    return cbor2.dumps(value)


def embed(raw: bytes) -> cbor2.CBORTag:
    """`#6.24(bstr)`: CBOR carried as bytes inside CBOR."""
    return cbor2.CBORTag(24, raw)


def tag24(raw: bytes) -> bytes:
    """The encoding of `#6.24(bstr)` around `raw`: what mdoc digests cover."""
    return cbor2.dumps(cbor2.CBORTag(24, raw))
