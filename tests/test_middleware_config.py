"""The gate's options (GateConfig) and its multipart reader, at the unit level."""

from __future__ import annotations

from typing import Any

import pytest

from agegate import FieldMap, load_rules
from agegate.asgi.body import Limits
from agegate.asgi.config import GateConfig, starlette_user
from agegate.asgi.multipart import MultipartError, read_parts

SECRET = "test-secret-that-is-long-enough-0123456789"
RULES = load_rules()


def test_defaults_are_the_middlewares() -> None:
    config = GateConfig.from_options(paths=["/signup"], secret=SECRET, rules=RULES)
    assert config.limits == Limits(64 * 1024, 256, 16)
    assert config.max_header_size == 8 * 1024
    assert config.cookie is not None
    assert config.cookie.name == "agegate_block"
    assert config.account_of is starlette_user
    assert config.websockets == "refuse"
    assert config.trusted_country_header is None
    assert "birthdate" in config.gated


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"paths": "/signup"}, TypeError, "paths is a list"),
        ({"paths": []}, ValueError, "at least one gated path"),
        ({"secret": None}, ValueError, "needs a secret"),
        ({"max_body_size": "big"}, TypeError, "max_body_size must be an int"),
        ({"max_fields": 0}, ValueError, "max_fields is too small"),
        ({"max_files": -1}, ValueError, "max_files is too small"),
        ({"max_header_size": True}, TypeError, "max_header_size must be an int"),
        ({"websockets": "open"}, ValueError, "websockets"),
        ({"account_of": "user"}, TypeError, "account_of is a callable"),
        ({"fields": {"birthdate": "dob"}}, TypeError, "fields must be a FieldMap"),
        (
            {"fields": FieldMap(birthdate=None, birth_year=None, age=None)},
            ValueError,
            "fields must map",
        ),
        ({"policy": "strict"}, TypeError, "policy"),
        ({"rules": {}}, TypeError, "rules must be a Rules"),
        ({"trusted_country_header": " "}, ValueError, "trusted_country_header"),
        (
            {"profile_paths": ["/a/{x}/{y}"]},
            ValueError,
            "several parameters",
        ),
        (
            {"profile_paths": ["/me"], "fields": FieldMap(account_id=None)},
            ValueError,
            "fields.account_id is None",
        ),
    ],
)
def test_bad_options_are_named(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    settings: dict[str, Any] = {"paths": ["/signup"], "secret": SECRET, "rules": RULES}
    settings.update(options)
    with pytest.raises(error, match=message):
        GateConfig.from_options(**settings)


def _body(*parts: bytes) -> bytes:
    return b"".join(b"--B\r\n" + p + b"\r\n" for p in parts) + b"--B--\r\n"


TYPE = "multipart/form-data; boundary=B"


def test_parts_keep_their_headers_and_text() -> None:
    body = _body(
        b'Content-Disposition: form-data; name="birthdate"\r\n'
        b"Content-Type: text/plain\r\n\r\n2000-01-02",
        b'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nbytes',
    )
    first, second = read_parts(
        TYPE, body, max_fields=4, max_files=1, max_part_size=1000
    )
    assert first.name == "birthdate"
    assert first.text == "2000-01-02"
    assert first.headers == (
        (b"content-disposition", b'form-data; name="birthdate"'),
        (b"content-type", b"text/plain"),
    )
    assert second.name == "f"
    assert second.text is None  # a file: its bytes are not kept


@pytest.mark.parametrize(
    ("content_type", "body", "limits"),
    [
        (
            "multipart/form-data",
            _body(b'Content-Disposition: form-data; name="a"\r\n\r\nx'),
            (4, 1),
        ),
        (TYPE, _body(b"Content-Disposition: form-data\r\n\r\nx"), (4, 1)),
        (
            TYPE,
            _body(*[b'Content-Disposition: form-data; name="a"\r\n\r\nx'] * 3),
            (2, 1),
        ),
        (
            TYPE,
            _body(b'Content-Disposition: form-data; name="a"; filename="f"\r\n\r\nx'),
            (4, 0),
        ),
        (TYPE, b"--B\r\nnot a header line\r\n\r\nx\r\n--B--\r\n", (4, 1)),
    ],
    ids=["no-boundary", "no-name", "too-many-fields", "too-many-files", "malformed"],
)
def test_unreadable_multipart_is_an_error(
    content_type: str, body: bytes, limits: tuple[int, int]
) -> None:
    with pytest.raises(MultipartError):
        read_parts(
            content_type,
            body,
            max_fields=limits[0],
            max_files=limits[1],
            max_part_size=1000,
        )
