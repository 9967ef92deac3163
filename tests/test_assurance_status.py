"""Revocation through the issuer's Token Status List, fail closed: the
lists are served by a real uvicorn server and fetched over HTTP by the
verifier's default fetcher; a revoked credential is ASSURANCE_REVOKED, a
list that cannot be fetched, read or trusted is ASSURANCE_INCONCLUSIVE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from agegate.apps.serve import serve
from agegate.apps.test_wallet import TestIssuer, TestWallet
from agegate.assurance import AssuranceError
from agegate.assurance.model import AssuranceReason
from agegate.assurance.status import StatusLists, fetch_over_https, status_at
from agegate.assurance.verifier import WalletVerifier

ORIGIN = "https://shop.example"
ISSUER = TestIssuer.create("status tests")
REVOKED_IDX, VALID_IDX = 7, 8


@pytest.fixture(scope="module")
def lists() -> Iterator[tuple[str, dict[str, str]]]:
    served: dict[str, str] = {}

    async def one(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "moved":
            return RedirectResponse("/lists/sd-jwt", status_code=302)
        if name not in served:
            return Response(status_code=404)
        return Response(served[name], media_type="application/statuslist+jwt")

    app = Starlette(routes=[Route("/lists/{name}", one)])
    with serve(app, access_log=False) as base:
        for name, signer in (("sd-jwt", "issuer"), ("mdoc", "document_signer")):
            uri = f"{base}/lists/{name}"
            served[name] = ISSUER.status_list_token(uri, [REVOKED_IDX], signer=signer)
        yield base, served


def verify(
    wallet: TestWallet, fmt: str, checker: StatusLists | None = None, **kw: Any
) -> Any:
    verifier = WalletVerifier(
        ISSUER.trust_list(), origin=ORIGIN, status_lists=checker or StatusLists(**kw)
    )
    challenge = verifier.begin(18)
    response = wallet.present(list(challenge.requests), ORIGIN, age=30, format=fmt)
    return verifier.complete(challenge.attempt, response, origin=ORIGIN)


def refused(wallet: TestWallet, fmt: str, **kw: Any) -> AssuranceReason:
    with pytest.raises(AssuranceError) as caught:
        verify(wallet, fmt, **kw)
    return caught.value.reason


FORMATS = [("mdoc", "mdoc"), ("sd-jwt", "sd-jwt")]


@pytest.mark.parametrize(("fmt", "name"), FORMATS)
def test_a_valid_entry_passes_and_a_revoked_one_does_not(
    lists: Any, fmt: str, name: str
) -> None:
    base, _ = lists
    uri = f"{base}/lists/{name}"
    assert verify(TestWallet(ISSUER, status=(uri, VALID_IDX)), fmt).over == 25
    revoked = TestWallet(ISSUER, status=(uri, REVOKED_IDX))
    assert refused(revoked, fmt) == AssuranceReason.REVOKED
    # Off unless asked for: the same credential passes a verifier without it.
    verifier = WalletVerifier(ISSUER.trust_list(), origin=ORIGIN)
    challenge = verifier.begin(18)
    response = revoked.present(list(challenge.requests), ORIGIN, age=30, format=fmt)
    assert verifier.complete(challenge.attempt, response, origin=ORIGIN).over == 25


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_a_list_that_cannot_be_fetched_is_inconclusive(lists: Any, fmt: str) -> None:
    base, _ = lists
    for uri in (
        f"{base}/lists/missing",  # 404
        f"{base}/lists/moved",  # a redirect is not followed
        "http://127.0.0.1:9/lists/x",  # nothing listens
        "http://status.example/lists/x",  # not https
        "file:///etc/hostname",
    ):
        wallet = TestWallet(ISSUER, status=(uri, VALID_IDX))
        assert refused(wallet, fmt) == AssuranceReason.INCONCLUSIVE, uri


def test_a_list_from_another_anchor_or_for_another_uri_is_inconclusive(
    lists: Any,
) -> None:
    base, served = lists
    stranger = TestIssuer.create("a stranger")
    served["stranger"] = stranger.status_list_token(f"{base}/lists/stranger")
    served["elsewhere"] = ISSUER.status_list_token(f"{base}/lists/other-name")
    served["garbled"] = served["sd-jwt"][:-6] + "AAAAAA"
    cases = {
        # An untrusted signer, a trusted one of another anchor (the mdoc
        # signer's list for an SD-JWT VC), a list naming another uri, a
        # broken signature.
        "stranger": "sd-jwt",
        "mdoc": "sd-jwt",
        "elsewhere": "sd-jwt",
        "garbled": "sd-jwt",
    }
    for name, fmt in cases.items():
        wallet = TestWallet(ISSUER, status=(f"{base}/lists/{name}", VALID_IDX))
        assert refused(wallet, fmt) == AssuranceReason.INCONCLUSIVE, name


def test_an_entry_past_the_end_of_the_list_is_inconclusive(lists: Any) -> None:
    base, _ = lists
    wallet = TestWallet(ISSUER, status=(f"{base}/lists/sd-jwt", 10_000))
    assert refused(wallet, "sd-jwt") == AssuranceReason.INCONCLUSIVE


def test_a_credential_without_status_passes_unless_one_is_required() -> None:
    wallet = TestWallet(ISSUER)
    assert verify(wallet, "sd-jwt").over == 25
    assert refused(wallet, "sd-jwt", required=True) == AssuranceReason.INCONCLUSIVE


def test_a_malformed_status_claim_is_malformed(lists: Any) -> None:
    wallet = TestWallet(ISSUER, status=("not a uri", -1))
    assert refused(wallet, "mdoc") == AssuranceReason.MALFORMED


def test_a_list_is_fetched_once_within_its_ttl(lists: Any) -> None:
    base, _ = lists
    fetched: list[str] = []

    def counting(uri: str) -> bytes:
        fetched.append(uri)
        return fetch_over_https(uri)

    checker = StatusLists(fetch=counting)
    wallet = TestWallet(ISSUER, status=(f"{base}/lists/sd-jwt", VALID_IDX))
    for _ in range(3):
        verify(wallet, "sd-jwt", checker)
    assert len(fetched) == 1


def test_status_at_reads_entries_least_significant_bits_first() -> None:
    # Two bits per entry: entries 0..3 of 0b11_10_01_00 are 0, 1, 2, 3.
    assert [status_at(2, bytes([0b11100100]), i) for i in range(5)] == [
        0,
        1,
        2,
        3,
        None,
    ]
    assert [status_at(1, bytes([0b10000001]), i) for i in (0, 1, 7, 8)] == [
        1,
        0,
        1,
        None,
    ]
