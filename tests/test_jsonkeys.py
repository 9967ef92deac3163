"""The duplicate-key JSON reader: its quick path (plain `json.loads` and a
count of quotes) answers exactly as the object_pairs_hook reader on every
text, duplicates, escapes (`"\\u0064ob"` is `"dob"`) and broken texts included.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agegate import jsonkeys

# Few names, so that repeats are common; spellings with escapes of the same
# names, so that a repeat may hide behind one.
_KEYS = st.sampled_from(
    ["dob", "age", "a", "", "x,", '"', "d\\u006fb", "\\u0064ob", 'do\\"b', "é"]
)
_SCALARS = st.one_of(
    st.integers(-5, 5).map(str),
    st.sampled_from(["true", "false", "null", "1.5", "-0", "1e3"]),
    _KEYS.map(lambda key: f'"{key}"'),
    st.text(max_size=4).map(json.dumps),
)


def _object(members: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f'"{key}":{value}' for key, value in members) + "}"


_TEXTS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(_KEYS, inner), max_size=4).map(_object),
    ),
    max_leaves=12,
)


def _outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        value = read(text)
    except jsonkeys.DuplicateKey as duplicate:
        return ("DuplicateKey", duplicate.key)
    except (ValueError, RecursionError) as error:
        return (type(error).__name__, None)
    return ("value", value)


def _with_hook(text: str) -> Any:
    return json.loads(text, object_pairs_hook=jsonkeys.unique_keys)


@settings(max_examples=1500, deadline=None)
@given(_TEXTS, st.integers(0, 40), st.sampled_from(["", " ", "x", "}", ",", '"']))
def test_the_quick_path_agrees_with_the_hook(text: str, cut: int, tail: str) -> None:
    variants = (
        text,
        text[:cut] + tail,
        f" {text}\n",
        f"\t\r\n{text} \r",
        f"\ufeff{text}",
        f"{text}\x0c",
        f"\x0c{text}",
        f"{text}\u00a0",
        f"{text} {text}",
    )
    for variant in variants:
        assert _outcome(jsonkeys.loads, variant) == _outcome(_with_hook, variant)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"dob": 1, "dob": 2}', "dob"),
        ('{"dob": 1, "\\u0064ob": 2}', "dob"),
        ('{"a": "dob", "dob": 1, "b": {"x": 1, "x": 2}}', "x"),
        ('[{"a": {"k": 1, "k": 2}}, nonsense', "k"),
        ('{"user": {"dob": 1, "d\\u006fb": 2}}', "dob"),
        ('{"a": [1, {"b": {"\\u0064ob": 1, "dob": "x\\"y"}}]}', "dob"),
        ('{"dob": 1, "d\\u006Fb": 2}', "dob"),
        ('{"a\\"b": 1, "a\\u0022b": 2}', 'a"b'),
        (' {"dob": "\\"\\"", "dob": 2}\n', "dob"),
    ],
)
def test_repeats_are_found(text: str, key: str) -> None:
    with pytest.raises(jsonkeys.DuplicateKey) as raised:
        jsonkeys.loads(text)
    assert raised.value.key == key


def test_a_key_spelled_as_a_value_elsewhere_is_no_repeat() -> None:
    assert jsonkeys.loads('{"a": "dob", "dob": "a"}') == {"a": "dob", "dob": "a"}


def test_deep_nesting_reads_as_the_hook_does() -> None:
    for depth in (500, 100_000):
        text = "[" * depth + "]" * depth
        assert _outcome(jsonkeys.loads, text) == _outcome(_with_hook, text)
