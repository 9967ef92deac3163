"""Structured fuzzing of the assurance routes over a real uvicorn (the demo
with its TEST wallet and TEST provider): whatever the headers, the body or
the Digital Credentials API response, begin, complete, the webhook, the
signup gate and the TEST wallet answer below 500. Examples are bounded so
the module runs in seconds, and under the demo's rate limit."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agegate.apps.demo import create_app
from agegate.apps.serve import free_port, serve
from agegate.apps.test_wallet import TEST_DOCUMENT_NUMBER, TEST_PERSON_NAME

SECRET = "wallet-fuzz-test-secret-0123456789"
JSON = {"Accept": "application/json"}
OPENID4VP, ANNEX_C = "openid4vp-v1-unsigned", "org-iso-mdoc"
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    data: Path = tmp_path_factory.mktemp("wallet-fuzz")
    app = create_app(data, secret=SECRET, test_wallet_origin=origin)
    with serve(app, port=port, lifespan="on", http="h11", access_log=False) as base:
        yield base


# -- values -------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSONS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# CBOR a decoder must refuse or read safely: indefinite lengths, tags
# (embedded CBOR, bignums, shared references), lengths far past the bytes.
CBOR_TRICKS = st.sampled_from(
    [
        b"\x9f\x01\x02\xff",
        b"\xbf\x61a\x01\xff",
        b"\x5f\x41\x00\xff",
        b"\xd8\x18\x41\xa0",
        b"\xc2\x49\x01" + b"\x00" * 8,
        b"\xd8\x1c\x81\xd8\x1d\x00",
        b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x9b\x00\x00\x00\x01\x00\x00\x00\x00",
        b"\x82\x65dcapi\xa2\x63enc\x58\x41" + b"\x04" * 65,
        b"\x82\x65dcapi\xa2\x63enc\x58\x41" + b"\x04" * 65 + b"\x6acipherText\x40",
        b"\xa2\x01\x01\x01\x02",
        b"\x81" * 200 + b"\x00",
    ]
)
CBORS = CBOR_TRICKS | st.binary(max_size=64) | JSONS.map(cbor2.dumps)


def _b64(raw: bytes, style: int) -> str:
    if style == 0:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    if style == 1:
        return base64.urlsafe_b64encode(raw).decode()
    if style == 2:
        return base64.b64encode(raw).decode()
    text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return text.replace("-", "+")[: len(text) // 2] + text[len(text) // 2 :] + "="


ENCODED = st.builds(_b64, CBORS, st.integers(0, 3)) | st.text(max_size=30)
PRESENTATION = ENCODED | st.text(alphabet="ab.~=-_", max_size=40) | JSONS
VP_TOKEN = st.dictionaries(
    st.sampled_from(["sd_jwt", "mdoc0", "mdoc1", "x"]) | st.text(max_size=5),
    st.lists(PRESENTATION, max_size=2) | PRESENTATION,
    max_size=2,
)
DATA = (
    st.fixed_dictionaries({"vp_token": VP_TOKEN | JSONS})
    | st.fixed_dictionaries({"response": ENCODED | JSONS})
    | JSONS
)
RESPONSE = (
    st.fixed_dictionaries(
        {"protocol": st.sampled_from([OPENID4VP, ANNEX_C, "x"]) | JSONS, "data": DATA}
    )
    | JSONS
    | st.fixed_dictionaries({"protocol": st.just(OPENID4VP)}).map(json.dumps)
)


def _ok(answer: httpx.Response) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])


# -- the routes ------------------------------------------------------------------


@FUZZ
@given(response=RESPONSE)
def test_complete_answers_any_dc_api_response_below_500(
    demo: str, response: Any
) -> None:
    begun = httpx.post(
        f"{demo}/assurance/begin", json={"method": "wallet", "age": 18}, headers=JSON
    )
    _ok(begun)
    attempt = begun.json().get("attempt", "x") if begun.status_code == 201 else "x"
    answer = httpx.post(
        f"{demo}/assurance/complete",
        json={"attempt": attempt, "response": response},
        headers={**JSON, "Origin": demo},
    )
    _ok(answer)
    assert answer.status_code != 200


BODY_KEYS = st.sampled_from(["method", "age", "attempt", "response", "x"])
BODIES = (
    st.dictionaries(BODY_KEYS, JSONS | st.sampled_from(["wallet", "test-provider"]))
    .map(json.dumps)
    .map(str.encode)
    | st.binary(max_size=80)
    | st.sampled_from(
        [
            b'{"method": "wallet", "method": "wallet", "age": 18}',
            b'{"method": "wallet", "age": 1' + b"0" * 5000 + b"}",
            b'{"method": "wallet", "age": 18.0}',
            b'{"method": "wallet", "age": NaN}',
            b"[" * 5000 + b"]" * 5000,
            b"\xef\xbb\xbf{}",
            b"method=wallet&age=18",
            '{"method": "wallet\u00e9", "age": 18}'.encode("latin-1"),
        ]
    )
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; a=1; a=2",
        "application/problem+json",
        "",
    ]
)


@FUZZ
@given(path=st.sampled_from(["begin", "complete"]), body=BODIES, ct=CONTENT_TYPES)
def test_begin_and_complete_answer_any_body_below_500(
    demo: str, path: str, body: bytes, ct: str
) -> None:
    headers = {**JSON, "Content-Type": ct} if ct else JSON
    _ok(httpx.post(f"{demo}/assurance/{path}", content=body, headers=headers))


HEADER_VALUES = st.binary(max_size=40).map(
    lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
) | st.sampled_from(
    [b"null", b"http://127.0.0.1", b"https://evil.example", b"\xff" * 9000, b""]
)
HEADER_NAMES = st.sampled_from(
    [
        b"origin",
        b"sec-fetch-site",
        b"content-type",
        b"accept",
        b"cookie",
        b"agegate-assurance",
        b"content-length",
        b"host",
    ]
)


@settings(FUZZ, max_examples=30)
@given(
    path=st.sampled_from(
        [
            "/assurance/begin",
            "/assurance/complete",
            "/api/signup",
            "/test-wallet/present",
        ]
    ),
    extra=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4),
)
def test_odd_headers_are_answered_below_500(
    demo: str, path: str, extra: list[tuple[bytes, bytes]]
) -> None:
    body = (
        b'{"method": "wallet", "age": 18, "birthdate": "1984-04-04", "country": "GB"}'
    )
    headers = [(b"content-type", b"application/json"), *extra]
    if any(name == b"content-length" for name, _ in extra):
        headers = [(n, v) for n, v in headers if n != b"content-length"]
    try:
        answer = httpx.post(f"{demo}{path}", content=body, headers=headers)
    except (httpx.RemoteProtocolError, httpx.LocalProtocolError):
        # A request h11 will not frame (two Hosts) is never sent, or closed
        # by the server's h11 before the app: no answer at all.
        return
    _ok(answer)


@FUZZ
@given(body=BODIES | JSONS.map(json.dumps).map(str.encode), sig=HEADER_VALUES)
def test_the_webhook_answers_any_callback_below_500(
    demo: str, body: bytes, sig: bytes
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"x-signature-timestamp", sig[:13]),
        (b"x-signature-hmac-sha256", sig),
    ]
    answer = httpx.post(
        f"{demo}/assurance/webhooks/test-provider", content=body, headers=headers
    )
    _ok(answer)
    assert answer.status_code != 200


REQUEST_KEYS = ["protocol", "data", "nonce", "dcql_query", "credentials", "format"]
REQUEST_KEYS += ["meta", "claims", "path", "id", "doctype_value", "vct_values"]
REQUEST_NODE = st.recursive(
    SCALARS | st.sampled_from(["age_over_18", "mso_mdoc", "dc+sd-jwt", OPENID4VP]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(REQUEST_KEYS),
            inner,
            max_size=4,
        )
    ),
    max_leaves=16,
)


@FUZZ
@given(
    requests=REQUEST_NODE,
    age=JSONS,
    fmt=st.sampled_from(["mdoc", "sd-jwt"]) | JSONS,
    origin=st.text(max_size=30) | JSONS,
)
def test_the_test_wallet_answers_any_request_below_500(
    demo: str, requests: Any, age: Any, fmt: Any, origin: Any
) -> None:
    body = {"requests": requests, "age": age, "format": fmt, "origin": origin}
    _ok(httpx.post(f"{demo}/test-wallet/present", json=body))


# -- privacy ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_no_request_value_reaches_logs_problems_or_pages(
    demo: str, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    begun = httpx.post(
        f"{demo}/assurance/begin", json={"method": "wallet", "age": 18}, headers=JSON
    ).json()
    nonce = begun["requests"][0]["data"]["nonce"]
    present = {"requests": begun["requests"], "origin": demo, "age": 30}
    credential = httpx.post(
        f"{demo}/test-wallet/present", json={**present, "format": fmt}
    ).json()
    ((presented,),) = credential["data"]["vp_token"].values()
    answers = []
    for origin, accept in ((demo, "application/json"), ("https://x.example", "")):
        for _ in range(2):  # a success (or refusal), then a replay
            answers.append(
                httpx.post(
                    f"{demo}/assurance/complete",
                    json={"attempt": begun["attempt"], "response": credential},
                    headers={"Accept": accept or "text/html", "Origin": origin},
                )
            )
    assert answers[0].status_code == 200, answers[0].text
    token = answers[0].json()["token"]
    # The server's logs (the test's own HTTP client logs what it sent).
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "agegate.assurance" in logged
    shown = "".join(a.text for a in answers[1:]) + logged
    for secret in (TEST_PERSON_NAME, TEST_DOCUMENT_NUMBER, nonce, presented[:40]):
        assert secret not in shown
    assert token not in logged
    assert begun["attempt"] not in logged


# -- a valid proof, one node changed ---------------------------------------------

_REPLACEMENTS: list[Any] = [None, True, -1, 0, 2**64, 1.5, "", "x", b"", b"\x00" * 65]
_REPLACEMENTS += [
    [],
    {},
    {1: 2},
    cbor2.CBORTag(24, b"\xa0"),
    cbor2.CBORTag(24, b"\xff"),
]
_REPLACEMENTS += [cbor2.CBORTag(0, "x"), cbor2.CBORTag(1004, "2099-01-01")]
_REPLACEMENTS += [cbor2.CBORTag(18, [])]
# By index: hypothesis hashes what it samples, and a tag of a list has no hash.
REPLACEMENTS = st.integers(0, len(_REPLACEMENTS) - 1).map(_REPLACEMENTS.__getitem__)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into `value`: map values and keys' values, list items, a
    tag's value, and the CBOR inside a bstr."""
    yield path
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _nodes(inner, (*path, ("item", key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _nodes(inner, (*path, ("item", index)))
    elif isinstance(value, cbor2.CBORTag):
        yield from _nodes(value.value, (*path, ("tag", None)))
    elif isinstance(value, bytes) and value[:1] and value[0] >> 5 in (4, 5, 6):
        try:
            inner = cbor2.loads(value)
        except Exception:
            return
        yield from _nodes(inner, (*path, ("cbor", None)))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    (kind, key), rest = path[0], path[1:]
    if kind == "item":
        copy = dict(value) if isinstance(value, dict) else list(value)
        copy[key] = _replace(value[key], rest, new)
        return copy
    if kind == "tag":
        return cbor2.CBORTag(value.tag, _replace(value.value, rest, new))
    return cbor2.dumps(_replace(cbor2.loads(value), rest, new))


def _proof(demo: str, fmt: str) -> tuple[str, dict[str, Any]]:
    begun = httpx.post(
        f"{demo}/assurance/begin", json={"method": "wallet", "age": 18}, headers=JSON
    ).json()
    body = {"requests": begun["requests"], "origin": demo, "age": 30, "format": fmt}
    return begun["attempt"], httpx.post(f"{demo}/test-wallet/present", json=body).json()


@settings(FUZZ, max_examples=30)
@given(pick=st.integers(min_value=0), new=REPLACEMENTS)
def test_a_valid_mdoc_with_one_node_changed_is_refused_below_500(
    demo: str, pick: int, new: Any
) -> None:
    attempt, credential = _proof(demo, "mdoc")
    ((query, (presented,)),) = credential["data"]["vp_token"].items()
    raw = base64.urlsafe_b64decode(presented + "=" * (-len(presented) % 4))
    document = cbor2.loads(raw)
    paths = list(_nodes(document))
    changed = _replace(document, paths[pick % len(paths)], new)
    text = base64.urlsafe_b64encode(cbor2.dumps(changed)).rstrip(b"=").decode()
    credential["data"]["vp_token"] = {query: [text]}
    answer = httpx.post(
        f"{demo}/assurance/complete",
        json={"attempt": attempt, "response": credential},
        headers={**JSON, "Origin": demo},
    )
    _ok(answer)
    if answer.status_code == 200:
        # Only a change no verifier reads (the status code of the response,
        # an unsigned field) may pass; the TEST name never comes back.
        assert TEST_PERSON_NAME not in answer.text


@settings(FUZZ, max_examples=30)
@given(pick=st.integers(min_value=0), new=JSONS)
def test_a_valid_sd_jwt_with_one_claim_changed_is_refused_below_500(
    demo: str, pick: int, new: Any
) -> None:
    attempt, credential = _proof(demo, "sd-jwt")
    ((query, (presented,)),) = credential["data"]["vp_token"].items()
    parts = presented.split("~")
    # Each disclosure and the issuer-signed and KB-JWT payloads are JSON.
    places = [(i, None) for i in range(1, len(parts) - 1)]
    places += [(0, 1), (len(parts) - 1, 1), (0, 0), (len(parts) - 1, 0)]
    index, segment = places[pick % len(places)]
    pieces = parts[index].split(".") if segment is not None else [parts[index]]
    at = segment or 0
    decoded = json.loads(base64.urlsafe_b64decode(pieces[at] + "=="))
    paths = list(_nodes(decoded))
    changed = json.dumps(_replace(decoded, paths[pick % len(paths)], new))
    pieces[at] = base64.urlsafe_b64encode(changed.encode()).rstrip(b"=").decode()
    parts[index] = ".".join(pieces)
    credential["data"]["vp_token"] = {query: ["~".join(parts)]}
    answer = httpx.post(
        f"{demo}/assurance/complete",
        json={"attempt": attempt, "response": credential},
        headers={**JSON, "Origin": demo},
    )
    _ok(answer)
    assert TEST_PERSON_NAME not in answer.text


@pytest.mark.parametrize("age", ["\u00b2", "9" * 5000, "١٨", "-1", 10**100, [18]])
def test_the_test_provider_takes_any_age_below_500(demo: str, age: Any) -> None:
    page = httpx.get(f"{demo}/test-provider/", params={"age": str(age)[:6000]})
    assert page.status_code == 200
    for body in (
        json.dumps({"outcome": "over", "attempt": "att-x", "age": age}).encode(),
        b"[" * 100_000 + b"]" * 100_000,
    ):
        answer = httpx.post(
            f"{demo}/test-provider/decide",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code < 500, answer.text
