"""Warm per-request cost: many distinct tokens (no cache can help), then one token repeated (cache hit).

Every row verifies the same tokens in the same process; rounds interleave the rows and the medians of
all per-call samples are reported, minus the cost of the timing loop itself.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import hmac
import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks._common import (
    AUDIENCE,
    ISSUER,
    SCOPE,
    Context,
    TokenSet,
    call_overhead_ns,
    event_template,
    events_for,
    load_sample,
    short_error,
    summary_us,
    time_calls,
)

FLOOR = "raw `cryptography` verify (floor)"
OURS = "`Verifier` (default: cache on, speedups)"
OURS_URI = "`Verifier`, keys from a JWKS URI (loopback, prefetched)"
OURS_NO_CACHE = "`Verifier`, cache off"
OURS_PURE = "`Verifier`, no speedups (pure Python parsing)"
HANDLER = "decorated handler (`require_auth` + `require_scope`)"
HANDLER_BARE = "the same decorators, handler answering a constant (their own cost)"
MIDDLEWARE = "Event Handler + `JwtAuthMiddleware` (`app.resolve`)"
RESOLVER_ALONE = "Event Handler + a pass-through middleware, no auth (`app.resolve`)"
RESOLVER_FLOOR = "the same, the route running the raw verify (any verifier's floor there)"
PYJWT = "PyJWT `jwt.decode`, pre-built key"
JOSERFC = "joserfc `jwt.decode` + claims registry"
AUTHLIB = "authlib `JsonWebToken.decode` + `validate`"
PYTHON_JOSE = "python-jose `jwt.decode`, pre-built key"
POWERTOOLS = "Powertools `auth_alpha.JWTVerifier`"
SAMPLE_ME = "sample `lambdas/me` handler (Logger, cache on)"
SAMPLE_SHOWS = "sample `lambdas/shows` handler (Logger, cache on)"
DISTINCT_ROWS = (FLOOR, OURS, OURS_URI, OURS_NO_CACHE, OURS_PURE, HANDLER, HANDLER_BARE, MIDDLEWARE,
                 RESOLVER_ALONE, RESOLVER_FLOOR, PYJWT, JOSERFC, AUTHLIB, PYTHON_JOSE, POWERTOOLS, SAMPLE_ME,
                 SAMPLE_SHOWS)
CACHED_OURS = "`Verifier`, same token (cache hit)"
CACHED_HANDLER = "decorated handler, same token (cache hit)"
CACHED_ROWS = (CACHED_OURS, CACHED_HANDLER)

VERIFIER_TARGET = 1.3
PURE_TARGET = 1.4
HANDLER_TARGET = 1.5
MIDDLEWARE_TARGET = 2.0
CURVE_TARGET = 1.1  # ES256 and EdDSA, each against its own floor
CACHE_TARGET = 0.5  # "well under the floor": at most half of the raw RS256 verify


@dataclass
class Row:
    name: str
    fn: Callable[[Any], Any] | None = None
    inputs: Sequence[Any] = ()
    reset: Callable[[], None] | None = None
    note: str | None = None  # why there is no number (n/a, or the error)
    pure: bool = False  # timed with the speedups switched off (token.use_speedups(False))
    samples: list[int] = field(default_factory=list)


def _row(name: str, build: Callable[[], tuple[Callable[[Any], Any], Sequence[Any]]],
         ok: Callable[[Any], bool], reset: Callable[[], None] | None = None, *, pure: bool = False) -> Row:
    """Build a row and prove it verifies its first input; any failure becomes the row's note."""
    try:
        fn, inputs = build()
        with _speedups_off(pure):
            result = fn(inputs[0])
        if not ok(result):
            return Row(name, note=f"error: unexpected result {str(result)[:80]!r}")
        if reset is not None:
            reset()
    except NotImplementedError as exc:
        return Row(name, note=f"n/a: {exc}")
    except ImportError as exc:
        return Row(name, note=f"n/a: {exc.name or 'a module'} is not installed")
    except Exception as exc:
        return Row(name, note=f"error: {short_error(exc)}")
    return Row(name, fn, inputs, reset, pure=pure)


@contextlib.contextmanager
def _speedups_off(pure: bool) -> Iterator[None]:
    from serverless_jwt import token

    if not pure:
        yield
        return
    token.use_speedups(False)
    try:
        yield
    finally:
        token.use_speedups()


def speedups_in_use() -> bool:
    from serverless_jwt import token

    return (token._decode_json is not token._json_object
            or token._b64decode is not token._base64url.strict_decode)


def _is_claims(result: Any) -> bool:
    return isinstance(result, dict) and isinstance(result.get("sub"), str)


def _is_200(result: Any) -> bool:
    return isinstance(result, dict) and result.get("statusCode") == 200


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


def _uri_row(ts: TokenSet, jwks_uri: str) -> Row:
    try:
        verifier = uri_verifier(ts, jwks_uri)
    except NotImplementedError as exc:
        return Row(OURS_URI, note=f"n/a: {exc}")
    except Exception as exc:
        return Row(OURS_URI, note=f"error: {short_error(exc)}")
    return _row(OURS_URI, lambda: (verifier.verify, ts.tokens), _is_claims, _clearing(verifier))


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


def _call_with(handler: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
    context = Context()

    def call(event: Any) -> Any:
        return handler(event, context)

    return call


def _raw_check(ts: TokenSet) -> Callable[[str], Any]:
    floor, pair_of = floor_function(ts), dict(zip(ts.tokens, ts.pairs, strict=True))

    def check(token: str) -> Any:
        return floor(pair_of[token])

    return check


def _pass_through(app: Any, next_middleware: Any) -> Any:
    return next_middleware(app)


def _middleware_app(verifier: Any, *, auth: bool = True, fixed_claims: Mapping[str, Any] | None = None,
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


def _clearing(verifier: Any) -> Callable[[], None]:
    def reset() -> None:
        verifier._cache.clear()  # each round starts cold: a token is never a cache hit

    return reset


def _clear_verified_cache(module: Any) -> Callable[[], None]:
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


def _other_libraries(ts: TokenSet, jwks: Mapping[str, Any]) -> list[Row]:
    """The other verifiers, each checking iss, aud and exp, with its keys prepared once."""
    kid = next((k.get("kid") for k in jwks.get("keys", []) if k.get("alg") == ts.alg), None)

    def pyjwt() -> tuple[Callable[[Any], Any], Sequence[Any]]:
        import jwt

        key, algs = ts.key, [ts.alg]

        def decode(token: str) -> Any:
            return jwt.decode(token, key, algorithms=algs, audience=AUDIENCE, issuer=ISSUER)

        return decode, ts.tokens

    def joserfc() -> tuple[Callable[[Any], Any], Sequence[Any]]:
        from joserfc import jwt as jose_jwt
        from joserfc.jwk import KeySet, OctKey

        keys: Any = (OctKey.import_key(ts.secret) if ts.secret is not None
                     else KeySet.import_key_set(dict(jwks)))
        algs = [ts.alg]
        registry = jose_jwt.JWTClaimsRegistry(iss={"essential": True, "value": ISSUER},
                                              aud={"essential": True, "value": AUDIENCE},
                                              exp={"essential": True})

        def decode(token: str) -> Any:
            claims = jose_jwt.decode(token, keys, algorithms=algs).claims
            registry.validate(claims)
            return claims

        return decode, ts.tokens

    def authlib() -> tuple[Callable[[Any], Any], Sequence[Any]]:
        from authlib.jose import JsonWebKey, JsonWebToken

        key: Any = ts.secret.encode() if ts.secret is not None else JsonWebKey.import_key_set(dict(jwks))
        decoder = JsonWebToken([ts.alg])
        options = {"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": AUDIENCE},
                   "exp": {"essential": True}}

        def decode(token: str) -> Any:
            claims = decoder.decode(token, key, claims_options=options)
            claims.validate()
            return dict(claims)

        return decode, ts.tokens

    def python_jose() -> tuple[Callable[[Any], Any], Sequence[Any]]:
        if ts.alg == "EdDSA":
            raise NotImplementedError("python-jose has no EdDSA")
        from jose import jwt as jose_jwt

        key: Any = ts.secret if ts.secret is not None else next(
            k for k in jwks["keys"] if k.get("kid") == kid)
        algs = [ts.alg]

        def decode(token: str) -> Any:
            return jose_jwt.decode(token, key, algorithms=algs, audience=AUDIENCE, issuer=ISSUER)

        return decode, ts.tokens

    def powertools() -> tuple[Callable[[Any], Any], Sequence[Any]]:
        if ts.secret is not None:
            raise NotImplementedError("Powertools' JWTVerifier verifies asymmetric algorithms only")
        from aws_lambda_powertools.utilities.auth_alpha import JWTVerifier

        verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=[ts.alg], jwks=dict(jwks))
        return verifier.verify, ts.tokens

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc's EdDSA deprecation notice, once per build
        return [_row(PYJWT, pyjwt, _is_claims), _row(JOSERFC, joserfc, _is_claims),
                _row(AUTHLIB, authlib, _is_claims), _row(PYTHON_JOSE, python_jose, _is_claims),
                _row(POWERTOOLS, powertools, _is_claims)]


def distinct_rows(ts: TokenSet, jwks: Mapping[str, Any], samples: Samples, jwks_uri: str) -> list[Row]:
    from serverless_jwt.adapters import decorators  # noqa: F401  (fail here, not mid-round)

    me_events = events_for(ts.tokens, event_template("me.json"))
    show_events = events_for(ts.tokens, event_template("show.json"))
    # One verifier per row: rows share the tokens, so they must not share a verified-token cache.
    ours, handler_v, bare_v, middleware_v = (our_verifier(ts, jwks, cache_size=1024) for _ in range(4))
    no_cache, pure = (our_verifier(ts, jwks, cache_size=0) for _ in range(2))
    rows = [
        _row(FLOOR, lambda: (floor_function(ts), ts.pairs), lambda r: r is True),
        _row(OURS, lambda: (ours.verify, ts.tokens), _is_claims, _clearing(ours)),
        _uri_row(ts, jwks_uri),
        _row(OURS_NO_CACHE, lambda: (no_cache.verify, ts.tokens), _is_claims),
        _row(OURS_PURE, lambda: (pure.verify, ts.tokens), _is_claims, pure=True) if speedups_in_use()
        else Row(OURS_PURE, note="n/a: the speedups extra is not installed (every row is pure)"),
        _row(HANDLER, lambda: (_call_with(decorated_handler(handler_v)), me_events), _is_200,
             _clearing(handler_v)),
        _row(HANDLER_BARE, lambda: (_call_with(bare_handler(bare_v)), me_events), _is_200, _clearing(bare_v)),
        _row(MIDDLEWARE, lambda: (_call_with(_middleware_app(middleware_v)), me_events), _is_200,
             _clearing(middleware_v)),
        _row(RESOLVER_ALONE, lambda: (_call_with(_middleware_app(None, auth=False,
                                                                 fixed_claims=no_cache.verify(ts.tokens[0]))),
                                      me_events), _is_200),
        _row(RESOLVER_FLOOR, lambda: (_call_with(_middleware_app(
            None, auth=False, fixed_claims=no_cache.verify(ts.tokens[0]), route_check=_raw_check(ts))),
            me_events), _is_200),
        *_other_libraries(ts, jwks),
    ]
    try:
        me = samples.module("me", ts.alg)
        rows.append(_row(SAMPLE_ME, lambda: (_call_with(me.handler), me_events), _is_200,
                         _clear_verified_cache(me)))
    except Exception as exc:
        rows.append(Row(SAMPLE_ME, note=f"skipped: {short_error(exc)}"))
    try:
        show = samples.module("shows", ts.alg)
        rows.append(_row(SAMPLE_SHOWS, lambda: (_call_with(show.handler), show_events), _is_200,
                         _clear_verified_cache(show)))
    except Exception as exc:
        rows.append(Row(SAMPLE_SHOWS, note=f"skipped: {short_error(exc)}"))
    return rows


def cached_rows(ts: TokenSet, jwks: Mapping[str, Any], repeats: int) -> list[Row]:
    verifier = our_verifier(ts, jwks, cache_size=1024)
    tokens = [ts.tokens[0]] * repeats
    events = events_for(ts.tokens[:1], event_template("me.json")) * repeats
    return [
        _row(CACHED_OURS, lambda: (verifier.verify, tokens), _is_claims),
        _row(CACHED_HANDLER, lambda: (_call_with(decorated_handler(verifier)), events), _is_200),
    ]


BLOCK = 500  # calls per row before the next row takes over, within a round


def measure(table: dict[str, list[Row]], *, rounds: int, warmup: int) -> float:
    """Warm every row, then run ``rounds`` interleaved rounds; returns the loop overhead (ns).

    Within a round the rows take turns on blocks of :data:`BLOCK` calls (the order rotates each round),
    so every row, its floor among them, samples the same stretch of time: on a shared host the
    neighbours' load changes over seconds, and a row run whole in one stretch would carry it alone.
    """
    live = [(alg, row) for alg, rows in table.items() for row in rows if row.fn is not None]
    for _, row in live:
        assert row.fn is not None
        try:
            with _speedups_off(row.pure):
                time_calls(row.fn, row.inputs[:warmup])
            if row.reset is not None:
                row.reset()
        except Exception as exc:
            row.fn, row.note = None, f"error: {short_error(exc)}"
    overhead = call_overhead_ns(range(2000))
    longest = max((len(row.inputs) for _, row in live), default=0)
    for r in range(rounds):
        order = [pair for pair in live if pair[1].fn is not None]
        shift = (r * 3) % len(order) if order else 0
        order = order[shift:] + order[:shift]
        for _, row in order:
            if row.reset is not None:
                row.reset()  # each round starts cold: a token is never a cache hit
        for start in range(0, longest, BLOCK):
            gc.collect()
            for _, row in order:
                block = row.inputs[start:start + BLOCK]
                if row.fn is None or not block:
                    continue
                try:
                    with _speedups_off(row.pure):
                        row.samples.extend(time_calls(row.fn, block))
                except Exception as exc:
                    row.fn, row.note = None, f"error: {short_error(exc)}"
    return overhead


def results(table: dict[str, list[Row]], overhead: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for alg, rows in table.items():
        out[alg] = {}
        for row in rows:
            if row.note is None and row.samples:
                out[alg][row.name] = summary_us(row.samples, overhead)
            else:
                out[alg][row.name] = {"note": row.note or "no samples"}
    return out


def with_ratios(res: dict[str, dict[str, Any]], floors: Mapping[str, float]) -> None:
    """Add ``x_floor`` (this alg's floor) and ``x_rs256`` (the raw RS256 verify) to each median."""
    for alg, rows in res.items():
        for stats in rows.values():
            if "median_us" not in stats:
                continue
            if floors.get(alg):
                stats["x_floor"] = round(stats["median_us"] / floors[alg], 2)
            if floors.get("RS256"):
                stats["x_rs256"] = round(stats["median_us"] / floors["RS256"], 2)


def targets(distinct: dict[str, dict[str, Any]], cached: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    # The default configuration: keys inline or, as most users have them, from a JWKS URI (the slower).
    ours = (OURS, OURS_URI)
    checks: list[tuple[str, dict[str, dict[str, Any]], str, str | tuple[str, ...], float, str]] = [
        (f"`Verifier` RS256 (default, speedups; static JWKS and JWKS URI) <= {VERIFIER_TARGET}x raw RS256 "
         "verify", distinct, "RS256", ours, VERIFIER_TARGET, "x_rs256"),
        (f"`Verifier` RS256 without speedups (cache off) <= {PURE_TARGET}x raw RS256 verify", distinct,
         "RS256", OURS_PURE, PURE_TARGET, "x_rs256"),
        (f"decorated handler RS256 <= {HANDLER_TARGET}x raw RS256 verify", distinct, "RS256", HANDLER,
         HANDLER_TARGET, "x_rs256"),
        (f"Event Handler middleware RS256 <= {MIDDLEWARE_TARGET}x raw RS256 verify", distinct, "RS256",
         MIDDLEWARE, MIDDLEWARE_TARGET, "x_rs256"),
        (f"`Verifier` ES256 (static JWKS and JWKS URI) <= {CURVE_TARGET}x raw ES256 verify", distinct,
         "ES256", ours, CURVE_TARGET, "x_floor"),
        (f"`Verifier` EdDSA (static JWKS and JWKS URI) <= {CURVE_TARGET}x raw EdDSA verify", distinct,
         "EdDSA", ours, CURVE_TARGET, "x_floor"),
        (f"cache hit, `Verifier` <= {CACHE_TARGET}x raw RS256 verify", cached, "RS256", CACHED_OURS,
         CACHE_TARGET, "x_rs256"),
        (f"cache hit, decorated handler <= {CACHE_TARGET}x raw RS256 verify", cached, "RS256", CACHED_HANDLER,
         CACHE_TARGET, "x_rs256"),
    ]
    out = []
    for label, res, alg, names, limit, key in checks:
        # Several rows: the verdict is the slowest one's; any row without a number makes it n/a.
        ratios = [res.get(alg, {}).get(name, {}).get(key) for name in
                  ((names,) if isinstance(names, str) else names)]
        ratio = None if None in ratios else max(ratios)
        verdict = "n/a" if ratio is None else ("PASS" if ratio <= limit else "MISS")
        out.append({"target": label, "ratio": ratio, "limit": limit, "verdict": verdict})
    return out
