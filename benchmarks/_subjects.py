"""What the warm rows time on our side, each prepared once: the raw signature floor, the verifier,
decorated handlers, Event Handler apps and the sample function modules (and how a round starts them cold).

Used by :mod:`benchmarks.warm`, which re-exports what ``run.py`` and ``breakdown.py`` take from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks._common import AUDIENCE, ISSUER, SCOPE, Context, TokenSet, load_sample


def floor_function(ts: TokenSet) -> Callable[[tuple[bytes, bytes]], Any]:
    """Just the signature primitive, with the public key (or secret) prepared in advance."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    key = ts.key
    if ts.alg == "RS256":
        pad, digest = padding.PKCS1v15(), hashes.SHA256()

        def rs256(pair: tuple[bytes, bytes]) -> bool:
            key.verify(pair[1], pair[0], pad, digest)  # raises InvalidSignature
            return True

        return rs256
    if ts.alg == "ES256":
        ecdsa = ec.ECDSA(hashes.SHA256())

        def es256(pair: tuple[bytes, bytes]) -> bool:
            sig = pair[1]
            # JWS carries raw r||s; cryptography wants DER: converting is part of any real verifier.
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, pair[0], ecdsa)
            return True

        return es256

    if ts.alg == "EdDSA":

        def eddsa(pair: tuple[bytes, bytes]) -> bool:
            key.verify(pair[1], pair[0])
            return True

        return eddsa

    def hs256(pair: tuple[bytes, bytes]) -> bool:
        return hmac.compare_digest(hmac.new(key, pair[0], hashlib.sha256).digest(), pair[1])

    return hs256


def our_verifier(ts: TokenSet, jwks: Mapping[str, Any], *, cache_size: int) -> Any:
    from serverless_jwt.verifier import Verifier

    if ts.secret is not None:
        return Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=[ts.alg], secrets=[ts.secret],
                        verified_cache_size=cache_size)
    return Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=[ts.alg], jwks=jwks,
                    verified_cache_size=cache_size)


def uri_verifier(ts: TokenSet, jwks_uri: str) -> Any:
    """Keys as most users get them: a remote key source (``jwks_uri``), prefetched as at a cold start."""
    from serverless_jwt.verifier import Verifier

    if ts.secret is not None:
        raise NotImplementedError("shared secrets have no JWKS")
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=[ts.alg], jwks_uri=jwks_uri)
    if not verifier.prefetch():
        raise RuntimeError("could not prefetch the JWKS")
    return verifier


def decorated_handler(verifier: Any) -> Callable[[Any, Any], dict[str, Any]]:
    """A sample-style handler: authenticate, require a scope, answer with the verified claims."""
    from serverless_jwt.adapters.decorators import require_auth, require_scope

    @require_auth(verifier)
    @require_scope(SCOPE)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        claims = dict(context.identity_context.claims)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"claims": claims})}

    return handler


def bare_handler(verifier: Any) -> Callable[[Any, Any], dict[str, Any]]:
    """The decorators of :func:`decorated_handler` around a handler that does no work of its own."""
    from serverless_jwt.adapters.decorators import require_auth, require_scope

    @require_auth(verifier)
    @require_scope(SCOPE)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "ok"}

    return handler


def call_with(handler: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
    context = Context()

    def call(event: Any) -> Any:
        return handler(event, context)

    return call


def raw_check(ts: TokenSet) -> Callable[[str], Any]:
    floor, pair_of = floor_function(ts), dict(zip(ts.tokens, ts.pairs, strict=True))

    def check(token: str) -> Any:
        return floor(pair_of[token])

    return check


def _pass_through(app: Any, next_middleware: Any) -> Any:
    return next_middleware(app)


def middleware_app(verifier: Any, *, auth: bool = True, fixed_claims: Mapping[str, Any] | None = None,
                    route_check: Callable[[str], Any] | None = None) -> Callable[[Any, Any], Any]:
    """A Powertools HTTP API resolver whose ``GET /me`` answers the verified claims, like the handler.

    Without ``auth`` the route has a pass-through middleware instead and answers ``fixed_claims`` (the
    same body size): Powertools' own cost of routing through a middleware chain and serializing the
    answer, which the auth row pays too. ``route_check(token)`` then runs in the route: with the raw
    signature check there, the least any verifier can cost under the Event Handler.
    """
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from serverless_jwt.adapters.powertools import JwtAuthMiddleware

    app = APIGatewayHttpResolver()
    middlewares: list[Any] = [JwtAuthMiddleware(verifier, scopes=[SCOPE])] if auth else [_pass_through]

    @app.get("/me", middlewares=middlewares)
    def me() -> dict[str, Any]:
        identity = app.context.get("identity")
        if route_check is not None:  # the raw signature check of this request's token, nothing else
            route_check(app.current_event.raw_event["headers"]["authorization"][7:])
        return {"claims": dict(identity.claims) if identity is not None else dict(fixed_claims or {})}

    return app.resolve


def clearing(verifier: Any) -> Callable[[], None]:
    def reset() -> None:
        verifier._cache.clear()  # each round starts cold: a token is never a cache hit

    return reset


def clear_verified_cache(module: Any) -> Callable[[], None]:
    def reset() -> None:
        # Benchmark-only: each round starts cold so a repeated token never hits the cache.
        cache = getattr(getattr(module, "verifier", None), "_cache", None)
        if cache is not None:
            cache.clear()

    return reset


class Samples:
    """The sample function modules, imported once per key-source family (like one warm container)."""

    def __init__(self, jwks_uri: str, secret: str) -> None:
        base = {"JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}
        self._env = {
            "asym": {**base, "JWT_JWKS_URI": jwks_uri, "JWT_ALGORITHMS": "RS256,ES256,EdDSA"},
            "hs": {**base, "JWT_SECRET": secret, "JWT_ALGORITHMS": "HS256"},
        }
        self._modules: dict[tuple[str, str], Any] = {}

    def module(self, name: str, alg: str) -> Any:
        family = "hs" if alg.startswith("HS") else "asym"
        if (name, family) not in self._modules:
            self._modules[name, family] = load_sample(name, self._env[family], family)
        return self._modules[name, family]
