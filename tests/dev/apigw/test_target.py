"""The request target as API Gateway reads it (dev/apigw/_target.py)."""

from __future__ import annotations

import pytest

from serverless_jwt.dev.apigw._target import origin_form, under


@pytest.mark.parametrize(("target", "expected"), [
    ("/me?x=1", "/me?x=1"),
    ("http://127.0.0.1:3000/me?x=1", "/me?x=1"),
    ("HTTPS://example.com/a/b", "/a/b"),
    ("http://example.com", "/"),
    ("http://example.com?q=/x", "/?q=/x"),
    ("/files/caf\u00c3\u00a9", "/files/caf%C3%A9"),  # UTF-8 bytes as http.server hands them over (Latin-1)
])
def test_the_origin_form_is_the_path_and_query_with_raw_bytes_percent_encoded(target: str,
                                                                             expected: str) -> None:
    assert origin_form(target) == expected


@pytest.mark.parametrize(("prefix", "path", "expected"), [
    ("", "/me", "/me"),
    ("/v2", "/v2", "/"),
    ("/v2", "/v2/me", "/me"),
    ("/v2", "/v20/me", None),  # a longer segment is not under the prefix
    ("/v2", "/me", None),
])
def test_a_path_is_under_a_stage_prefix_only_at_a_segment_boundary(prefix: str, path: str,
                                                                   expected: str | None) -> None:
    assert under(prefix, path) == expected
