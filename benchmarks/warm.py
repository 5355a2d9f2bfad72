"""Warm per-request cost: many distinct tokens (no cache can help), then one token repeated (cache hit).

Every row verifies the same tokens in the same process; rounds interleave the rows and the medians of
all per-call samples are reported, minus the cost of the timing loop itself.

This module is the table: which rows, the other libraries' rows, and the targets. The row machinery
(building, interleaved timing, results) is :mod:`benchmarks._rows`; what is timed of ours (floor,
verifier, handlers, Event Handler apps, samples) is :mod:`benchmarks._subjects`. Both are re-exported.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks._common import AUDIENCE, ISSUER, TokenSet, event_template, events_for, short_error
from benchmarks._rows import Row, build_row, measure, results, speedups_in_use, with_ratios
from benchmarks._subjects import (
    Samples,
    bare_handler,
    call_with,
    clear_verified_cache,
    clearing,
    decorated_handler,
    floor_function,
    middleware_app,
    our_verifier,
    raw_check,
    uri_verifier,
)

# What run.py and breakdown.py use, some of it from _rows and _subjects.
__all__ = ["CACHED_ROWS", "DISTINCT_ROWS", "FLOOR", "Samples", "cached_rows", "decorated_handler",
           "distinct_rows", "floor_function", "measure", "results", "speedups_in_use", "targets",
           "with_ratios"]

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


def _is_claims(result: Any) -> bool:
    return isinstance(result, dict) and isinstance(result.get("sub"), str)


def _is_200(result: Any) -> bool:
    return isinstance(result, dict) and result.get("statusCode") == 200


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
        return [build_row(PYJWT, pyjwt, _is_claims), build_row(JOSERFC, joserfc, _is_claims),
                build_row(AUTHLIB, authlib, _is_claims), build_row(PYTHON_JOSE, python_jose, _is_claims),
                build_row(POWERTOOLS, powertools, _is_claims)]


def _uri_row(ts: TokenSet, jwks_uri: str) -> Row:
    try:
        verifier = uri_verifier(ts, jwks_uri)
    except NotImplementedError as exc:
        return Row(OURS_URI, note=f"n/a: {exc}")
    except Exception as exc:
        return Row(OURS_URI, note=f"error: {short_error(exc)}")
    return build_row(OURS_URI, lambda: (verifier.verify, ts.tokens), _is_claims, clearing(verifier))


def distinct_rows(ts: TokenSet, jwks: Mapping[str, Any], samples: Samples, jwks_uri: str) -> list[Row]:
    from serverless_jwt.adapters import decorators  # noqa: F401  (fail here, not mid-round)

    me_events = events_for(ts.tokens, event_template("me.json"))
    show_events = events_for(ts.tokens, event_template("show.json"))
    # One verifier per row: rows share the tokens, so they must not share a verified-token cache.
    ours, handler_v, bare_v, middleware_v = (our_verifier(ts, jwks, cache_size=1024) for _ in range(4))
    no_cache, pure = (our_verifier(ts, jwks, cache_size=0) for _ in range(2))
    rows = [
        build_row(FLOOR, lambda: (floor_function(ts), ts.pairs), lambda r: r is True),
        build_row(OURS, lambda: (ours.verify, ts.tokens), _is_claims, clearing(ours)),
        _uri_row(ts, jwks_uri),
        build_row(OURS_NO_CACHE, lambda: (no_cache.verify, ts.tokens), _is_claims),
        build_row(OURS_PURE, lambda: (pure.verify, ts.tokens), _is_claims, pure=True) if speedups_in_use()
        else Row(OURS_PURE, note="n/a: the speedups extra is not installed (every row is pure)"),
        build_row(HANDLER, lambda: (call_with(decorated_handler(handler_v)), me_events), _is_200,
                  clearing(handler_v)),
        build_row(HANDLER_BARE, lambda: (call_with(bare_handler(bare_v)), me_events), _is_200,
                  clearing(bare_v)),
        build_row(MIDDLEWARE, lambda: (call_with(middleware_app(middleware_v)), me_events), _is_200,
                  clearing(middleware_v)),
        build_row(RESOLVER_ALONE, lambda: (call_with(middleware_app(None, auth=False,
                                                                    fixed_claims=no_cache.verify(ts.tokens[0]))),
                                           me_events), _is_200),
        build_row(RESOLVER_FLOOR, lambda: (call_with(middleware_app(
            None, auth=False, fixed_claims=no_cache.verify(ts.tokens[0]), route_check=raw_check(ts))),
            me_events), _is_200),
        *_other_libraries(ts, jwks),
    ]
    try:
        me = samples.module("me", ts.alg)
        rows.append(build_row(SAMPLE_ME, lambda: (call_with(me.handler), me_events), _is_200,
                              clear_verified_cache(me)))
    except Exception as exc:
        rows.append(Row(SAMPLE_ME, note=f"skipped: {short_error(exc)}"))
    try:
        show = samples.module("shows", ts.alg)
        rows.append(build_row(SAMPLE_SHOWS, lambda: (call_with(show.handler), show_events), _is_200,
                              clear_verified_cache(show)))
    except Exception as exc:
        rows.append(Row(SAMPLE_SHOWS, note=f"skipped: {short_error(exc)}"))
    return rows


def cached_rows(ts: TokenSet, jwks: Mapping[str, Any], repeats: int) -> list[Row]:
    verifier = our_verifier(ts, jwks, cache_size=1024)
    tokens = [ts.tokens[0]] * repeats
    events = events_for(ts.tokens[:1], event_template("me.json")) * repeats
    return [
        build_row(CACHED_OURS, lambda: (verifier.verify, tokens), _is_claims),
        build_row(CACHED_HANDLER, lambda: (call_with(decorated_handler(verifier)), events), _is_200),
    ]


def targets(distinct: dict[str, dict[str, Any]] | None,
            cached: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """PASS/MISS per target; a section's results are ``None`` when --sections left it out."""
    # The default configuration: keys inline or, as most users have them, from a JWKS URI (the slower).
    ours = (OURS, OURS_URI)
    checks: list[tuple[str, dict[str, dict[str, Any]] | None, str, str | tuple[str, ...], float, str]] = [
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
        if res is None:
            out.append({"target": label, "ratio": None, "limit": limit, "verdict": "not run (--sections)"})
            continue
        ratios = [res.get(alg, {}).get(name, {}).get(key) for name in
                  ((names,) if isinstance(names, str) else names)]
        ratio = None if None in ratios else max(ratios)
        verdict = "n/a" if ratio is None else ("PASS" if ratio <= limit else "MISS")
        out.append({"target": label, "ratio": ratio, "limit": limit, "verdict": verdict})
    return out
