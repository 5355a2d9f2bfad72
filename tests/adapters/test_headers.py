"""``error_headers`` and ``realm`` checked once, at configuration (adapters/_headers.py)."""

from __future__ import annotations

import pytest

from serverless_jwt.adapters._headers import error_header_map
from serverless_jwt.adapters.decorators import require_auth
from serverless_jwt.errors import ConfigurationError


def test_one_header_named_twice_in_different_cases_is_refused_at_configuration() -> None:
    # Both would go out on every refusal; a client keeps one of them, or joins them with a comma.
    with pytest.raises(ConfigurationError, match="names one header twice: Access-Control-Allow-Origin, "
                                                 "access-control-allow-origin"):
        require_auth(trust_authorizer=True, error_headers={"Access-Control-Allow-Origin": "https://a.example",
                                                           "access-control-allow-origin": "*"})


def test_distinct_header_names_are_kept_as_given() -> None:
    headers = {"Access-Control-Allow-Origin": "*", "Vary": "Origin"}
    assert error_header_map(headers, server=True) == headers
