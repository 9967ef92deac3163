"""Wallet proof speed: `WalletVerifier.complete` beside a bare signature check.

Each round begins a challenge, has the test wallet answer it (not timed),
and times `complete`: consuming the attempt, parsing, the issuer chain, the
issuer and device (or KB-JWT) signatures, the digests and the age mapping.
The floor is one ECDSA P-256 verification with the same device key; a
proof needs at least three (the DS certificate, the issuer, the holder).
Usage (from the repository root):

    python benchmarks/bench_assurance.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agegate.apps.test_wallet import TestIssuer
from agegate.apps.test_wallet import TestWallet as DemoWallet
from agegate.assurance.status import StatusLists
from agegate.assurance.verifier import WalletVerifier
from tests.assurance_support import ORIGIN, TestPKI, TestWallet


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def _complete(
    verifier: WalletVerifier, answer: Callable[[Any], dict[str, Any]], rounds: int
) -> list[float]:
    times = []
    for _ in range(rounds):
        challenge = verifier.begin(18)
        response = answer(challenge)
        start = time.perf_counter()
        verifier.complete(challenge.attempt, response, origin=ORIGIN)
        times.append(time.perf_counter() - start)
    return times


def _bare_verify(wallet: TestWallet, rounds: int) -> list[float]:
    data = b"x" * 200
    signature = wallet.device_key.sign(data, ec.ECDSA(hashes.SHA256()))
    public = wallet.device_key.public_key()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    pki = TestPKI.create()
    wallet = TestWallet(pki)
    verifier = WalletVerifier(pki.trust_list(), origin=ORIGIN)
    floor = _median_ms(_bare_verify(wallet, args.rounds))
    cases = {
        "mdoc (OpenID4VP)": lambda c: wallet.mdoc_response(c),
        "mdoc (Annex C, HPKE)": lambda c: wallet.mdoc_response(c, protocol="annex-c"),
        "SD-JWT VC + KB-JWT": lambda c: wallet.sd_jwt_response(c),
    }
    print(f"bare ECDSA P-256 verify: {floor:.3f} ms median ({args.rounds} rounds)")
    for name, answer in cases.items():
        median = _median_ms(_complete(verifier, answer, args.rounds))
        ratio = median / floor
        print(f"{name}: complete {median:.3f} ms median, {ratio:.1f}x the bare verify")
    _status_cost(args.rounds)


def _status_cost(rounds: int) -> None:
    """complete with a revocation check (its list cached, as after the
    first proof) against complete without, rounds interleaved."""
    issuer = TestIssuer.create("benchmark")
    # An mdoc's list is signed under its IACA, an SD-JWT VC's under its CA.
    lists = {
        f"https://status.example/{fmt}": issuer.status_list_token(
            f"https://status.example/{fmt}", signer=signer
        ).encode()
        for fmt, signer in (("mdoc", "document_signer"), ("sd-jwt", "issuer"))
    }
    plain = WalletVerifier(issuer.trust_list(), origin=ORIGIN)
    checked = WalletVerifier(
        issuer.trust_list(),
        origin=ORIGIN,
        status_lists=StatusLists(fetch=lists.__getitem__),
    )
    for fmt in ("mdoc", "sd-jwt"):
        wallet = DemoWallet(issuer, status=(f"https://status.example/{fmt}", 5))
        times: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(rounds):
            for label, verifier in (("without", plain), ("with", checked)):
                challenge = verifier.begin(18)
                answer = wallet.present(
                    list(challenge.requests), ORIGIN, age=30, format=fmt
                )
                start = time.perf_counter()
                verifier.complete(challenge.attempt, answer, origin=ORIGIN)
                times[label].append(time.perf_counter() - start)
        base, extra = _median_ms(times["without"]), _median_ms(times["with"])
        print(
            f"{fmt} with a cached status list: {extra:.3f} ms median,"
            f" {extra / base:.2f}x complete without ({base:.3f} ms)"
        )


if __name__ == "__main__":
    main()
