"""The parser's fast JSON path must agree with the strict path on every document.

The strict path (``_strict_json_object``) is the reference: it names each problem. The fast path may
only ever return the same object or hand the document over; these tests pin that down on the edge
cases a JSON scanner handles differently, and on generated documents.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serverless_jwt import token as token_module
from serverless_jwt.errors import MalformedTokenError
from serverless_jwt.token import MAX_JSON_DEPTH


def _outcome(fn: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", fn(raw)
    except MalformedTokenError as err:
        return "error", err.description


def _strict(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedTokenError(token_module._UTF8) from None
    return token_module._strict_json_object(raw, text)


def _nested(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


EDGE_CASES = [
    b'{"sub":"a","exp":1}',
    b' {"sub":"a"}',  # leading whitespace: valid JSON, the scanner alone refuses it
    b'{"sub":"a"} ',  # trailing whitespace
    b'{"sub":"a"}\n',
    b'{"sub":"a"}x',  # trailing garbage
    b'{"sub":"a"}{"sub":"b"}',
    b'\xef\xbb\xbf{"sub":"a"}',  # byte order mark
    b'{"sub":"a","sub":"b"}',  # duplicate member
    b'{"a":{"x":1,"x":2}}',  # nested duplicate
    b'{"exp":NaN}',
    b'{"exp":Infinity}',
    b'{"exp":-Infinity}',
    b'{"exp":1e400}',
    b'{"exp":1.5}',
    b'{"exp":' + b"9" * 5000 + b"}",  # more digits than int() accepts
    b'{"sub":"\\u0041"}',
    b'{"sub":"\\ud800"}',  # lone surrogate escape
    b'{"sub":"\\ud83d\\ude00"}',  # a valid pair
    b'{"sub":"a\tb"}',  # raw control character inside a string
    b'["sub"]',
    b'"sub"',
    b"1",
    b"null",
    b"{}",
    b"",
    b"{",
    b'{"a":[1,2,{"b":[]}]}',
    _nested(MAX_JSON_DEPTH - 1),
    _nested(MAX_JSON_DEPTH),
    _nested(MAX_JSON_DEPTH + 1),
    _nested(500),
    b'{"a":"' + b"{" * 40 + b'"}',  # brackets inside a string do not count as depth
    b'{"a":"\xc3\xa9"}',
    b'{"a":"\xc0\xaf"}',  # overlong UTF-8
    b'{"a":"\xed\xa0\x80"}',  # encoded surrogate
]


@pytest.mark.parametrize("raw", EDGE_CASES)
def test_fast_path_agrees_with_the_strict_path(raw: bytes) -> None:
    assert _outcome(token_module._json_object, raw) == _outcome(_strict, raw)


def test_the_edge_cases_reach_both_outcomes() -> None:
    # Guards the table itself: it must hold accepted and rejected documents of several kinds.
    outcomes = [_outcome(_strict, raw) for raw in EDGE_CASES]
    kinds = {detail if kind == "error" else "ok" for kind, detail in outcomes}
    assert "ok" in kinds
    assert {token_module._DUPLICATE, token_module._NON_FINITE, token_module._TOO_DEEP,
            token_module._SURROGATE, token_module._BOM, token_module._NOT_OBJECT} <= kinds


_scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _values, max_size=6), st.booleans(),
       st.sampled_from(["", " ", "\n"]))
def test_fast_path_agrees_on_generated_objects(obj: dict[str, Any], ascii_only: bool, pad: str) -> None:
    raw = (pad + json.dumps(obj, ensure_ascii=ascii_only) + pad).encode("utf-8")
    assert _outcome(token_module._json_object, raw) == _outcome(_strict, raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fast_path_agrees_on_arbitrary_bytes(raw: bytes) -> None:
    assert _outcome(token_module._json_object, raw) == _outcome(_strict, raw)


_FRAGMENTS = ['"a"', '"b"', "1", "{", "}", "[", "]", ",", ":", " ", "NaN", "1e999", '"\\u0041"']


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=20))
def test_fast_path_agrees_on_json_like_fragments(parts: list[str]) -> None:
    raw = ("{" + "".join(parts)).encode()
    assert _outcome(token_module._json_object, raw) == _outcome(_strict, raw)
