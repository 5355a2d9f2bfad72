"""Claims mappers (strip_namespace, split_claim, chain), through their public path serverless_jwt.authz."""

from __future__ import annotations

import subprocess
import sys

import pytest

from serverless_jwt.authz import chain, split_claim, strip_namespace
from serverless_jwt.errors import ConfigurationError


def test_strip_namespace_never_shadows_an_existing_claim() -> None:
    mapped = strip_namespace("https://example.com/")(
        {"sub": "real", "https://example.com/sub": "forged", "https://example.com/org": "acme"}
    )
    assert mapped["sub"] == "real"
    assert mapped["org"] == "acme"
    assert "https://example.com/org" not in mapped


def test_split_claim_and_chain() -> None:
    mapper = chain(strip_namespace("ns:"), split_claim("groups"))
    assert mapper({"ns:groups": "a  b", "sub": "u"}) == {"sub": "u", "groups": ["a", "b"]}
    assert split_claim("groups")({"groups": ["already"]}) == {"groups": ["already"]}


def test_strip_namespace_needs_a_prefix() -> None:
    with pytest.raises(ConfigurationError):
        strip_namespace("")


def test_the_mappers_module_loads_only_when_a_mapper_is_named() -> None:
    probe = ("import sys\nimport serverless_jwt.authz\nprint('_claims_mappers' in str(sorted(sys.modules)))\n"
             "from serverless_jwt.authz import *\nprint(strip_namespace.__module__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "serverless_jwt._claims_mappers"]
