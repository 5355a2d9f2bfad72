"""Verifier construction: option checks and the key source, kept out of ``verifier.py``'s request path.

Every check here runs once, when a verifier is built; a value that would silently weaken a check (a
string for a flag, ``nan`` for a size, a public key as a secret) is a ``ConfigurationError`` instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from serverless_jwt import claims as _claims
from serverless_jwt._config import check_at_most, validate_algorithms, validate_issuer
from serverless_jwt._env import check_env, env_kwargs
from serverless_jwt.errors import ConfigurationError, KeysUnavailableError
from serverless_jwt.keys import KeySet, KeySource, SecretKeys, StaticKeySource

__all__ = ["audiences", "check_flags", "check_sizes", "check_source", "claims_policy",
           "custom_checks", "env_settings", "key_source"]



def check_flags(**flags: object) -> None:
    """Each flag must be a real bool: ``"false"`` is truthy and would silently turn a check off."""
    for name, value in flags.items():
        if type(value) is not bool:
            raise ConfigurationError(f"{name} must be True or False")


def check_sizes(*, leeway_seconds: Any, max_token_bytes: Any, verified_cache_size: Any,
                secret_max_age_seconds: Any, max_stale_seconds: Any = None) -> None:
    """Numbers that bound a check: finite, of the right type, in range (``nan`` compares false), and
    each time no larger than its bound (``_config.MAX_SECONDS``: past it, the check is off)."""
    if not _claims.finite_number(leeway_seconds) or leeway_seconds < 0:
        raise ConfigurationError("leeway_seconds must be a finite number >= 0")
    check_at_most("leeway_seconds", leeway_seconds)
    if not _whole(max_token_bytes) or max_token_bytes <= 0:
        raise ConfigurationError("max_token_bytes must be a positive int")
    if not _whole(verified_cache_size) or verified_cache_size < 0:
        raise ConfigurationError("verified_cache_size must be an int >= 0")
    if not _claims.finite_number(secret_max_age_seconds) or secret_max_age_seconds < 0:
        raise ConfigurationError("secret_max_age_seconds must be a finite number >= 0")
    check_at_most("secret_max_age_seconds", secret_max_age_seconds)
    # Whatever the key source (a static one has nothing stale to serve): never silently ignored, and
    # never infinite (a retired secret or key must not serve for good while its source is down).
    if max_stale_seconds is not None and (
            not _claims.finite_number(max_stale_seconds) or max_stale_seconds < 0):
        raise ConfigurationError("max_stale_seconds must be a finite number >= 0")
    if max_stale_seconds is not None:
        check_at_most("max_stale_seconds", max_stale_seconds)


def check_source(algorithms: Sequence[str] | None, *, issuer: str | None, jwks_uri: object, jwks: object,
                 public_key: object, secrets: object, secret_from: object) -> frozenset[str]:
    """At most one key source, an issuer or a key source, and the algorithm allow-list it admits."""
    sources = [s for s in (jwks_uri, jwks, public_key, secrets, secret_from) if s is not None]
    if len(sources) > 1:
        raise ConfigurationError(
            "Configure one key source: jwks_uri, jwks, public_key, secrets or secret_from")
    if secrets is not None and not isinstance(secrets, (str, bytes)) and not secrets:
        raise ConfigurationError("secrets must not be empty")
    # Wrong types are refused as every other setting is, not as a TypeError from deep inside.
    for name, value, kinds in (("jwks_uri", jwks_uri, str), ("secret_from", secret_from, str),
                               ("public_key", public_key, (str, bytes))):
        if value is not None and not isinstance(value, kinds):
            raise ConfigurationError(f"{name} must be {'a string' if kinds is str else 'PEM text or bytes'}")
    if algorithms is not None and not isinstance(algorithms, (str, Collection)):
        raise ConfigurationError("algorithms must be a list of algorithm names")
    algs = validate_algorithms(algorithms, shared_secret=secrets is not None or secret_from is not None)
    if issuer is not None:
        validate_issuer(issuer)
    elif not sources:
        raise ConfigurationError("Configure an issuer (for OIDC discovery) or another key source")
    return algs


def custom_checks(claim_checks: Iterable[Any], token_checks: Iterable[Any],
                  clock: object = None) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """``claim_checks`` and ``token_checks`` as tuples; each must be callable (and ``clock`` too)."""
    if clock is not None and not callable(clock):  # else a TypeError on every request
        raise ConfigurationError("clock must be callable (returning epoch seconds)")
    if not isinstance(claim_checks, Iterable) or not isinstance(token_checks, Iterable):
        raise ConfigurationError("claim_checks and token_checks must be lists of callables")
    checks, token = tuple(claim_checks), tuple(token_checks)
    if not all(callable(check) for check in (*checks, *token)):
        raise ConfigurationError("claim_checks and token_checks must be callables")
    # A check that cannot take its arguments (a claim check among token_checks, or the reverse) would
    # raise a TypeError on every call, read as a refusal: every valid token a 401, never an error.
    if not all(_takes(check, 1) for check in checks):
        raise ConfigurationError("each claim_checks entry must accept one argument: check(claims)")
    if not all(_takes(check, 3) for check in token):
        raise ConfigurationError("each token_checks entry must accept three arguments: "
                                 "check(header, claims, key)")
    return checks, token


def _takes(check: Any, count: int) -> bool:
    """Whether ``check`` can be called with ``count`` positional arguments (True when unknowable)."""
    try:
        signature = inspect.signature(check)
    except (TypeError, ValueError):  # some builtins and C callables have no signature: trust them
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def key_source(
    algorithms: frozenset[str],
    *,
    issuer: str | None,
    jwks_uri: str | None,
    jwks: Mapping[str, Any] | None,
    public_key: str | bytes | None,
    secrets: str | bytes | Sequence[str | bytes] | None,
    secret_from: str | None,
    secret_max_age_seconds: float,
    allow_short_secret: bool,
    secret_previous: bool = False,
    timeout_seconds: float,
    jwks_max_age_seconds: float,
    max_stale_seconds: float | None,
    unknown_kid_cooldown_seconds: float,
) -> KeySource:
    """The key source the options name (exactly one was checked to be given, or only the issuer)."""
    if secret_previous and secret_from is None:
        raise ConfigurationError("secret_previous needs secret_from (a Secrets Manager ARN)")
    if secrets is not None:
        if not isinstance(secrets, (str, bytes, Iterable)):  # 5, object(): a plain TypeError otherwise
            raise ConfigurationError("secrets must be a secret (text or bytes) or a list of them")
        values = [secrets] if isinstance(secrets, (str, bytes)) else list(secrets)
        return SecretKeys(values, algorithms=algorithms, allow_short_secret=allow_short_secret)
    if secret_from is not None:
        from serverless_jwt.secret_store import StoredSecretKeys

        stale = 3600 if max_stale_seconds is None else max_stale_seconds  # a secret: 1 h by default
        return StoredSecretKeys(secret_from, algorithms=algorithms,
                                allow_short_secret=allow_short_secret, max_age_seconds=secret_max_age_seconds,
                                max_stale_seconds=stale, timeout_seconds=timeout_seconds,
                                previous=secret_previous)
    if jwks is not None:
        try:
            static = KeySet.from_jwks(jwks, algorithms=algorithms)
        except KeysUnavailableError:
            raise ConfigurationError('jwks must be a JWKS document: {"keys": [...]}') from None
        if not len(static):  # a configuration mistake: say so now, not as a 503 on every request
            why = ", ".join(sorted({reason for _, reason in static.skipped})) or "it has no keys"
            raise ConfigurationError(f"jwks holds no key usable with the allowed algorithms ({why})")
        return StaticKeySource(static)
    if public_key is not None:
        return StaticKeySource(KeySet.from_pem(public_key, algorithms=algorithms))
    from serverless_jwt.jwks import RemoteKeySource

    return RemoteKeySource(
        issuer=issuer, jwks_uri=jwks_uri, algorithms=algorithms,
        timeout_seconds=timeout_seconds, jwks_max_age_seconds=jwks_max_age_seconds,
        max_stale_seconds=86400 if max_stale_seconds is None else max_stale_seconds,
        unknown_kid_cooldown_seconds=unknown_kid_cooldown_seconds,
    )


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def audiences(audience: str | Sequence[str] | None, *, required: bool) -> frozenset[str] | None:
    if audience is None:
        if required:
            raise ConfigurationError(
                "audience is required for public-key verification (pass require_audience=False to skip "
                "the aud check deliberately)"
            )
        return None
    try:
        values = [audience] if isinstance(audience, str) else list(audience)
    except TypeError:  # not a collection (a number): refused below like an empty one
        values = []
    if not values or any(not isinstance(a, str) or not a for a in values):
        raise ConfigurationError("audience must be a non-empty string or a non-empty list of them")
    return frozenset(values)


# The opt-out means "no audience of ours": beside one it would be ignored in silence (the aud still checked).
ANY_AUDIENCE_CONFLICT = ("accept_any_audience=True cannot be combined with audience (the opt-out applies "
                         "when no audience is configured): set one")


def claims_policy(*, issuer: str | None, audiences: frozenset[str] | None, leeway_seconds: float,
                  required_claims: Collection[str], max_age_seconds: float | None, max_age_claim: str,
                  accepted_types: Collection[str] | None, require_access_token_type: bool,
                  allow_sender_constrained: bool, accept_any_audience: bool) -> _claims.ClaimsPolicy:
    """The claim rules of one verifier, each option checked."""
    if max_age_claim not in ("iat", "auth_time"):
        raise ConfigurationError("max_age_claim must be 'iat' or 'auth_time'")
    if max_age_seconds is not None and (not _claims.finite_number(max_age_seconds) or max_age_seconds <= 0):
        raise ConfigurationError("max_age_seconds must be positive")
    if accept_any_audience is True and audiences is not None:
        raise ConfigurationError(ANY_AUDIENCE_CONFLICT)
    if require_access_token_type and accepted_types is not None:
        # One of them would be ignored in silence: say so rather than drop the list the user wrote.
        raise ConfigurationError("accepted_types cannot be combined with require_access_token_type "
                                 "(which accepts at+jwt only)")
    if require_access_token_type:
        types = _claims.access_token_types()
    elif accepted_types is not None:
        types = _claims.string_set(accepted_types, "accepted_types")  # normalized by ClaimsPolicy
    else:
        types = _claims.DEFAULT_TYPES
    return _claims.ClaimsPolicy(
        issuer=issuer,
        audiences=audiences,
        leeway_seconds=float(leeway_seconds),
        required=_claims.string_set(required_claims, "required_claims"),
        max_age_seconds=max_age_seconds,
        max_age_claim=max_age_claim,
        accepted_types=types,
        allow_sender_constrained=bool(allow_sender_constrained),
        accept_any_audience=bool(accept_any_audience),
    )


# A JWT_* variable does not count as "set by the user" when an override replaced what it configures.
_OVERRIDDEN_BY: dict[str, set[str]] = {"JWT_ISSUER": {"issuer"}, "JWT_SECRET": {"secrets", "secret_from"},
                                       "JWT_AUDIENCE": {"audience"}}


def env_settings(environ: Mapping[str, str] | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``Verifier.from_env``'s keyword arguments: the ``JWT_*`` variables, then ``overrides``, checked."""
    import os

    env = os.environ if environ is None else environ
    kwargs = env_kwargs(env)
    kwargs.update(overrides)
    # Errors name the JWT_* variable (and template parameter) the user set, not a Python argument.
    check_env(kwargs, {k: v for k, v in env.items() if not overrides.keys() & _OVERRIDDEN_BY.get(k, set())})
    return kwargs
