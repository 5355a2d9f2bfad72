"""Claim checks: pure functions of ``(claims, policy, now)``, run on every request after the signature.

Nothing here does I/O or reads a clock: the verifier passes ``now``. Times are compared without doing
arithmetic on token-supplied numbers, so a huge ``exp`` such as ``10**400`` cannot overflow a float.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from serverless_jwt._config import check_at_most
from serverless_jwt.errors import ConfigurationError, InvalidClaimError, TokenExpiredError

__all__ = ["DEFAULT_TYPES", "ClaimsPolicy", "access_token_types", "check_claims", "check_type"]

#: Accepted ``typ`` values by default, lower-cased without "application/": absent, JWT, at+jwt.
DEFAULT_TYPES: frozenset[str] = frozenset({"", "jwt", "at+jwt"})

_TYPE_NOT_ACCEPTED = "The access token type is not accepted"
_BOUND = "The access token is bound to a key (cnf) and cannot be used as a bearer token"
_TOO_OLD = "The authentication is too old; sign in again"
_NO_AUDIENCE = "The access token names an audience (aud) and this API accepts none"
_MAX_AGE_CLAIMS = ("iat", "auth_time")
_ABSENT: Any = object()


def access_token_types() -> frozenset[str]:
    """Accepted types for RFC 9068 access tokens: ``typ`` must be ``at+jwt`` (absent is rejected).

    Examples
    --------
    >>> sorted(access_token_types())
    ['at+jwt']
    """
    return frozenset({"at+jwt"})


def _normalize_type(value: str) -> str:
    """The canonical form of a ``typ`` media type: lower-cased, ``application/`` left off when allowed.

    RFC 7515 §4.1.9: a ``typ`` without ``/`` means ``application/`` + it, and media types compare
    case-insensitively. So ``application/at+jwt`` and ``at+jwt`` are one type, while
    ``application/text/jwt`` keeps its prefix (the rest has a ``/``) and never equals ``text/jwt``.
    """
    value = value.lower()
    # A bare "application/" keeps its prefix: stripped, it would read as an absent typ ("").
    if value.startswith("application/") and value[12:] and "/" not in value[12:]:
        return value[12:]
    return value


def string_set(value: Any, name: str) -> frozenset[str]:
    """``value`` as a set of strings; a bare ``str`` is refused, never split into characters."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Collection):
        raise ConfigurationError(f"{name} must be a collection of strings")
    if any(not isinstance(v, str) for v in value):
        raise ConfigurationError(f"{name} must contain only strings")
    return frozenset(value)


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What the claims of a correctly signed token must satisfy; validated once at construction.

    Parameters
    ----------
    issuer:
        Exact expected ``iss`` (no case, slash or prefix tolerance); ``None`` skips the check.
    audiences:
        ``aud`` must name at least one of these. ``None``: no audience is configured, so a token that
        carries ``aud`` is refused (RFC 7519 §4.1.3) unless ``accept_any_audience``.
    leeway_seconds:
        Clock skew tolerated on ``exp``, ``nbf``, ``iat`` and the max-age check; at most 300 (5 minutes,
        RFC 7519 §4.1.4's "a few minutes").
    required:
        Claim names that must be present and not ``null``.
    max_age_seconds:
        When set, ``max_age_claim`` is required and may be at most this old (plus leeway), and not in
        the future (beyond leeway).
    max_age_claim:
        ``"iat"`` or ``"auth_time"``.
    accepted_types:
        Accepted header ``typ`` values, compared lower-cased without an ``application/`` prefix;
        ``""`` means "``typ`` absent". ``None`` skips the check.
    allow_sender_constrained:
        Accept tokens with a ``cnf`` claim (bound to a DPoP or mTLS key, RFC 9449 / RFC 8705). Off by
        default: a bearer-token API cannot check the binding, so such a token would work for whoever
        stole it.
    accept_any_audience:
        With ``audiences=None`` (only), accept a token whatever its ``aud`` says (still type-checked). The
        explicit opt-out of RFC 7519 §4.1.3, for providers that put an unpredictable ``aud`` in tokens.

    Raises
    ------
    ConfigurationError
        For a negative or non-finite leeway (or one over 5 minutes), an empty audience set,
        ``accept_any_audience`` beside audiences, a bad max age or claim name.

    Examples
    --------
    >>> policy = ClaimsPolicy(issuer="https://id.example.com", audiences=frozenset({"api"}))
    >>> check_claims({"iss": "https://id.example.com", "aud": "api", "exp": 2000}, policy, now=1000)
    """

    issuer: str | None
    audiences: frozenset[str] | None
    leeway_seconds: float = 60
    required: frozenset[str] = frozenset()
    max_age_seconds: float | None = None
    max_age_claim: str = "iat"
    accepted_types: frozenset[str] | None = DEFAULT_TYPES
    allow_sender_constrained: bool = False
    accept_any_audience: bool = False

    def __post_init__(self) -> None:
        if self.issuer is not None and (not isinstance(self.issuer, str) or not self.issuer):
            raise ConfigurationError("issuer must be a non-empty string or None")
        if self.audiences is not None:
            audiences = string_set(self.audiences, "audiences")
            if not audiences or "" in audiences:
                raise ConfigurationError("audiences must be non-empty strings (None skips the check)")
            object.__setattr__(self, "audiences", audiences)
            if self.accept_any_audience:  # the opt-out would be ignored in silence: the aud still checked
                raise ConfigurationError("accept_any_audience cannot be combined with audiences (it applies "
                                         "when none is configured): set one")
        object.__setattr__(self, "required", string_set(self.required, "required"))
        if not finite_number(self.leeway_seconds) or self.leeway_seconds < 0:
            raise ConfigurationError("leeway_seconds must be a finite number >= 0")
        check_at_most("leeway_seconds", self.leeway_seconds)  # beyond 5 minutes, exp no longer expires
        if self.max_age_seconds is not None and (
            not finite_number(self.max_age_seconds) or self.max_age_seconds <= 0
        ):
            raise ConfigurationError("max_age_seconds must be a positive number or None")
        if self.max_age_claim not in _MAX_AGE_CLAIMS:
            raise ConfigurationError("max_age_claim must be 'iat' or 'auth_time'")
        if self.accepted_types is not None:
            types = string_set(self.accepted_types, "accepted_types")
            if not types:  # would refuse every token as 401; None is the way to turn the check off
                raise ConfigurationError("accepted_types must name at least one type")
            object.__setattr__(self, "accepted_types", frozenset(_normalize_type(t) for t in types))


def finite_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int)


def _time_claim(claims: Mapping[str, Any], name: str) -> int | float | None:
    """The claim's value, ``None`` when absent; anything but a finite JSON number is invalid."""
    return _time_value(claims.get(name, _ABSENT), name)


def _time_value(value: Any, name: str) -> int | float | None:
    if value is _ABSENT:
        return None
    # bool is an int subclass and NaN compares false with everything: both would slip through.
    if not finite_number(value):
        raise InvalidClaimError(name, "invalid")
    return value  # type: ignore[no-any-return]


def check_type(header: Mapping[str, Any], policy: ClaimsPolicy) -> None:
    """Check the header ``typ`` against ``policy.accepted_types``.

    Rejecting other explicit types keeps an ID token's siblings (``logout+jwt``, ``dpop+jwt``,
    ``secevent+jwt``) from being replayed as access tokens.

    Parameters
    ----------
    header:
        The token's protected header.
    policy:
        Supplies ``accepted_types``; ``None`` there skips the check.

    Raises
    ------
    InvalidClaimError
        ``claim="typ"``, ``reason="invalid"``, for a type that is not accepted.

    Examples
    --------
    >>> policy = ClaimsPolicy(issuer=None, audiences=None)
    >>> check_type({"alg": "RS256", "typ": "application/AT+JWT"}, policy)
    """
    accepted = policy.accepted_types
    if accepted is None:
        return
    typ = header.get("typ", _ABSENT)
    if typ is _ABSENT:
        key = ""
    elif isinstance(typ, str) and typ:
        key = _normalize_type(typ)
    else:
        # An explicit empty or non-string typ is not "absent": never let it match "".
        raise InvalidClaimError("typ", "invalid", _TYPE_NOT_ACCEPTED)
    if key not in accepted:
        raise InvalidClaimError("typ", "invalid", _TYPE_NOT_ACCEPTED)


def check_claims(claims: Mapping[str, Any], policy: ClaimsPolicy, now: float) -> None:
    """Check registered and required claims of a token whose signature already verified.

    Parameters
    ----------
    claims:
        The token's payload.
    policy:
        Issuer, audiences, leeway, required claims and max age.
    now:
        Current time in seconds since the epoch (injected, never read here).

    Raises
    ------
    TokenExpiredError
        When ``now >= exp + leeway``.
    InvalidClaimError
        With ``claim`` and ``reason``: ``missing`` (absent), ``invalid`` (wrong type, or ``iss`` not
        exactly the issuer) or ``check_failed`` (``nbf``/``iat`` in the future, no audience match,
        authentication older than ``max_age_seconds``).

    Examples
    --------
    >>> policy = ClaimsPolicy(issuer=None, audiences=None, leeway_seconds=0)
    >>> check_claims({"exp": 100}, policy, now=100)
    Traceback (most recent call last):
    ...
    serverless_jwt.errors.TokenExpiredError: The access token expired
    """
    get = claims.get
    # Integer times are the norm and need no further check (bool is not exactly int); anything else
    # takes the full rule.
    exp = get("exp", _ABSENT)
    if type(exp) is not int:
        exp = _time_value(exp, "exp")
        # A token without exp would be valid forever: always required.
        if exp is None:
            raise InvalidClaimError("exp", "missing")
    nbf = get("nbf", _ABSENT)
    if type(nbf) is not int:
        nbf = _time_value(nbf, "nbf")
    iat = get("iat", _ABSENT)
    if type(iat) is not int:
        iat = _time_value(iat, "iat")
    leeway = policy.leeway_seconds
    if exp <= now - leeway:
        raise TokenExpiredError()
    latest = now + leeway
    if nbf is not None and nbf > latest:
        raise InvalidClaimError("nbf", "check_failed")
    if iat is not None and iat > latest:
        raise InvalidClaimError("iat", "check_failed")
    issuer = policy.issuer
    if issuer is not None:
        if type(iss := get("iss")) is not str or iss != issuer:
            _check_issuer(claims, issuer)
    elif type(get("iss", "")) is not str:  # an absent claim reads as "": typed only when present
        raise InvalidClaimError("iss", "invalid")
    audiences = policy.audiences
    if audiences is not None:
        if type(aud := get("aud")) is not str or aud not in audiences:
            _check_audience(claims, audiences)
    elif "aud" in claims:
        _check_unexpected_audience(claims["aud"], policy.accept_any_audience)
    # Registered claims are typed whenever present, whatever is configured (one test each, no loop).
    if type(get("sub", "")) is not str:
        raise InvalidClaimError("sub", "invalid")
    if type(get("jti", "")) is not str:
        raise InvalidClaimError("jti", "invalid")
    if type(auth_time := get("auth_time", 0)) is not int:
        _time_value(auth_time, "auth_time")
    if "cnf" in claims and not policy.allow_sender_constrained:
        raise InvalidClaimError("cnf", "invalid", _BOUND)
    for name in policy.required:
        if get(name) is None:
            raise InvalidClaimError(name, "missing")
    if policy.max_age_seconds is not None:
        _check_max_age(claims, policy.max_age_claim, now - (policy.max_age_seconds + leeway), latest, iat)


def _check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    iss = claims.get("iss", _ABSENT)
    if iss is _ABSENT:
        raise InvalidClaimError("iss", "missing")
    # Exact string equality only: "https://issuer/" and "HTTPS://issuer" are other issuers.
    if not isinstance(iss, str) or iss != issuer:
        raise InvalidClaimError("iss", "invalid")


def _check_audience(claims: Mapping[str, Any], audiences: frozenset[str]) -> None:
    aud = claims.get("aud", _ABSENT)
    if aud is _ABSENT:
        raise InvalidClaimError("aud", "missing")
    if isinstance(aud, str):
        if aud not in audiences:
            raise InvalidClaimError("aud", "check_failed")
        return
    # RFC 7519 §4.1.3: a string or an array of strings; nothing else is coerced.
    if not isinstance(aud, list) or not aud or not all(isinstance(a, str) for a in aud):
        raise InvalidClaimError("aud", "invalid")
    if audiences.isdisjoint(aud):
        raise InvalidClaimError("aud", "check_failed")


def _check_unexpected_audience(aud: Any, accept_any: bool) -> None:
    # RFC 7519 §4.1.3: a string or a non-empty array of strings, whatever is configured.
    if type(aud) is not str and (
            not isinstance(aud, list) or not aud or not all(isinstance(a, str) for a in aud)):
        raise InvalidClaimError("aud", "invalid")
    if not accept_any:
        # "If the principal processing the claim does not identify itself with a value in the aud
        # claim ..., then the JWT MUST be rejected": with no audience configured, nothing matches.
        raise InvalidClaimError("aud", "check_failed", _NO_AUDIENCE)


def _check_max_age(claims: Mapping[str, Any], name: str, oldest: float, latest: float,
                   iat: int | float | None) -> None:
    value = iat if name == "iat" else _time_claim(claims, name)
    if value is None:
        raise InvalidClaimError(name, "missing")
    if value > latest:  # a sign-in "in the future" would pass the age rule for as long as it stays ahead
        raise InvalidClaimError(name, "check_failed")
    # Too old means now - value > max_age + leeway; written without arithmetic on the token's value.
    if value < oldest:
        raise InvalidClaimError(name, "check_failed", _TOO_OLD)
