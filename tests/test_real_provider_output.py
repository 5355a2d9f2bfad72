"""Real provider output (panva/oidc-provider 9.13.3), replayed: what a real OpenID provider sends must verify.

The loopback server below serves the discovery document and JWKS exactly as oidc-provider emitted
them (only the origin and the public key differ: the key is generated here, at test time). With
``jwks[].alg = "Ed25519"`` and ``resourceIndicators`` issuing JWT access tokens, oidc-provider signs
with the fully-specified JOSE algorithm name ``Ed25519`` (RFC 9864) rather than the polymorphic
``EdDSA``, and advertises it in ``id_token_signing_alg_values_supported``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from serverless_jwt import Verifier
from serverless_jwt.jwks import clear_shared_cache

AUDIENCE = "https://api.example.com/shows"
ORIGIN = "http://localhost:3006"  # the captured documents' origin, replaced by the test server's

# GET /.well-known/openid-configuration, byte for byte as oidc-provider 9.13.3 answered it.
DISCOVERY = (
    '{"authorization_endpoint":"http://localhost:3006/auth","claims_parameter_supported":false,'
    '"claims_supported":["sub","sid","auth_time","iss"],"code_challenge_methods_supported":["S256"],'
    '"end_session_endpoint":"http://localhost:3006/session/end","grant_types_supported":["implicit",'
    '"authorization_code","client_credentials"],"issuer":"http://localhost:3006","jwks_uri":'
    '"http://localhost:3006/jwks","authorization_response_iss_parameter_supported":true,'
    '"response_modes_supported":["form_post","fragment","query"],"response_types_supported":'
    '["code id_token","code","id_token","none"],"scopes_supported":["openid","profile","email",'
    '"read:shows","write:shows"],"subject_types_supported":["public"],'
    '"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_jwt",'
    '"client_secret_post","private_key_jwt","none"],"token_endpoint_auth_signing_alg_values_supported":'
    '["HS256","RS256","PS256","ES256","Ed25519","EdDSA"],"token_endpoint":"http://localhost:3006/token",'
    '"id_token_signing_alg_values_supported":["Ed25519"],"pushed_authorization_request_endpoint":'
    '"http://localhost:3006/request","request_uri_parameter_supported":false,"userinfo_endpoint":'
    '"http://localhost:3006/me","dpop_signing_alg_values_supported":["ES256","Ed25519","EdDSA"],'
    '"claim_types_supported":["normal"]}'
)
# GET /jwks (Content-Type: application/jwk-set+json; charset=utf-8); x is the test's public key.
JWKS = '{"keys":[{"kty":"OKP","use":"sig","kid":"ed-1","alg":"%(alg)s","crv":"Ed25519","x":"%(x)s"}]}'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class _Provider:
    """Serves the captured documents on 127.0.0.1 and signs tokens as oidc-provider does."""

    def __init__(self, alg: str) -> None:
        self.alg = alg
        self.key = ed25519.Ed25519PrivateKey.generate()
        x = _b64(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body, ctype = DISCOVERY.replace(ORIGIN, provider.issuer), "application/json"
                elif self.path == "/jwks":
                    body, ctype = JWKS % {"alg": provider.alg, "x": x}, "application/jwk-set+json"
                else:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype + "; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(self, **extra: object) -> str:
        # Header member order and claims as oidc-provider's JWT access token format writes them.
        now = int(time.time())
        header = {"alg": self.alg, "typ": "at+jwt", "kid": "ed-1"}
        claims = {"jti": "Su5yuGBcvcE_8zxAf9gqopWk8tABWIrGzLKgbD8LBuH", "sub": "svc", "iat": now,
                  "exp": now + 3600, "scope": "read:shows", "client_id": "svc", "iss": self.issuer,
                  "aud": AUDIENCE, **extra}
        parts = (json.dumps(p, separators=(",", ":")).encode() for p in (header, claims))
        signing_input = ".".join(_b64(part) for part in parts)
        return f"{signing_input}.{_b64(self.key.sign(signing_input.encode('ascii')))}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> Iterator[_Provider]:
    clear_shared_cache()
    p = _Provider(request.param)
    yield p
    p.close()
    clear_shared_cache()


@pytest.mark.parametrize("provider", ["EdDSA"], indirect=True)
def test_control_eddsa_output_is_accepted(provider: _Provider) -> None:
    # The same provider output with the polymorphic name: proves the fixture, so the tests below
    # fail only for the algorithm name.
    claims = Verifier(issuer=provider.issuer, audience=AUDIENCE).verify(provider.token())
    assert claims["scope"] == "read:shows"


@pytest.mark.parametrize("provider", ["Ed25519"], indirect=True)
def test_ed25519_fully_specified_alg_is_accepted_by_default(provider: _Provider) -> None:
    claims = Verifier(issuer=provider.issuer, audience=AUDIENCE).verify(provider.token())
    assert claims["sub"] == "svc"


@pytest.mark.parametrize("provider", ["Ed25519"], indirect=True)
def test_ed25519_can_be_allowed_explicitly(provider: _Provider) -> None:
    verifier = Verifier(issuer=provider.issuer, audience=AUDIENCE, algorithms=["Ed25519"])
    assert verifier.verify(provider.token())["sub"] == "svc"
