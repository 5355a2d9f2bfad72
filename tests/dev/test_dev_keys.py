"""The dev issuer's keys (``dev/_dev_keys.py``): generated, kept owner-only, shared, published public only."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import jwt
import pytest

from serverless_jwt.dev import _dev_keys
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import ConfigurationError


def test_key_dir_persists_keys_with_owner_only_permissions(tmp_path: Path) -> None:
    with DevIssuer(key_dir=tmp_path / "keys") as first:
        kids = {first.kid("RS256"), first.kid("ES256")}
        token = first.mint()
    files = sorted((tmp_path / "keys").glob("*.pem"))
    assert [f.name for f in files] == ["es256.pem", "rs256.pem"]
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    with DevIssuer(key_dir=tmp_path / "keys") as second:
        assert {second.kid("RS256"), second.kid("ES256")} == kids
        jwk = next(k for k in second.jwks()["keys"] if k["kid"] == second.kid("RS256"))
        assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"],
                          options={"verify_aud": False})["sub"] == "dev-user"


def test_issuers_starting_at_once_share_one_key(tmp_path: Path) -> None:
    # Test workers, or `serverless-jwt token` beside `start-api`, may create the key folder together:
    # none fails, none reads half a key, and all end up with the same key.
    barrier = threading.Barrier(8)
    kids: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            dev = DevIssuer(key_dir=tmp_path / "keys")
            kids.append(dev.kid("RS256"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(kids) == 8
    assert len(set(kids)) == 1
    assert sorted(f.name for f in (tmp_path / "keys").glob("*.pem")) == ["es256.pem", "rs256.pem"]


def test_an_unreadable_key_file_is_a_configuration_error_that_names_it_and_not_its_content(
        tmp_path: Path) -> None:
    path = tmp_path / "rs256.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRETISH\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError) as refused:
        _dev_keys.load_or_create(path, "RS256")
    assert str(path) in str(refused.value)
    assert "SECRETISH" not in str(refused.value)
    assert "delete it" in str(refused.value)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "ES384", "ES512", "ES256K", "EdDSA"])
def test_each_algorithm_gets_its_own_key_family_and_a_public_only_jwk(alg: str) -> None:
    key = _dev_keys.generate(alg)
    kid = _dev_keys.kid_for(key, alg)
    assert kid.startswith(alg.lower() + "-")
    assert kid == _dev_keys.kid_for(key, alg)  # derived from the public key: stable across restarts
    jwk = _dev_keys.public_jwk(key, alg, kid)
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == (kid, alg, "sig")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()
    assert jwt.PyJWK(jwk).key is not None


def test_an_algorithm_without_a_key_family_is_refused() -> None:
    with pytest.raises(ValueError, match="HS256"):
        _dev_keys.generate("HS256")


@pytest.mark.parametrize("alg", ["RS256", "ES256", "ES384", "EdDSA"])
def test_a_published_key_says_its_use_once_not_also_as_key_ops(alg: str) -> None:
    # RFC 7517 §4.3: "use" and "key_ops" SHOULD NOT be used together. PyJWT writes key_ops for RSA keys
    # only, so the dev JWKS had both on its RSA key and "use" alone on the others.
    jwk = _dev_keys.public_jwk(_dev_keys.generate(alg), alg, "kid-1")
    assert jwk["use"] == "sig"
    assert "key_ops" not in jwk
