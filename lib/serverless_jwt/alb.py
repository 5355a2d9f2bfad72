"""Application Load Balancer authentication: verify the ``x-amzn-oidc-data`` header the ALB signs.

Behind a listener rule with ``authenticate-oidc`` / ``authenticate-cognito`` the ALB forwards the
user's claims as an ES256 JWT whose header names the ALB (``signer``), the IdP (``iss``), the client
(``client``) and the key (``kid``). The public key is a PEM at
``https://public-keys.auth.elb.{region}.amazonaws.com/{kid}`` (``.amazonaws.com.cn`` in China).

This token format carries base64 padding (``=``). The padding is tolerated here, and only here:
:func:`serverless_jwt.token.parse` stays strict for bearer tokens. The key cache (one PEM per ``kid``, single
flight, the unknown-kid fetch budget) is AlbVerifier's base class in ``_alb_keys.py``, which also holds
:func:`default_key_url` (re-exported here).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from serverless_jwt import claims as _claims
from serverless_jwt import token as _token
from serverless_jwt._alb_keys import AlbKeys, default_key_url
from serverless_jwt._config import check_at_most
from serverless_jwt._http import MAX_TIMEOUT_SECONDS, url_problem
from serverless_jwt.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidClaimError,
    InvalidSignatureError,
    MalformedTokenError,
    UnknownKeyError,
)

if TYPE_CHECKING:
    from serverless_jwt.adapters.decorators import Decorator

__all__ = ["HEADER", "AlbVerifier", "require_alb_auth"]

HEADER = "x-amzn-oidc-data"
# The partitions whose ALBs sign with a key endpoint this module knows (as aws-jwt-verify accepts).
# ASCII only: the region names the key endpoint's host, and a Unicode digit there (\d matches "\u0661")
# made an IDNA host no ALB signs from, a 503 on every request. The name is an ALB name (letters, digits,
# hyphens, up to 32) and its id: anything else there is never a signer, a 401 on every request.
_ALB_ARN = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):elasticloadbalancing:([a-z]{2}(?:-[a-z]+)+-\d+):\d{12}"
    r":loadbalancer/app/[A-Za-z0-9-]{1,32}/[A-Za-z0-9]+", re.ASCII)
# Each partition's regions: an ARN whose region is not of its partition names no load balancer.
_PARTITION_OF = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))
_KID = re.compile(r"[A-Za-z0-9-]{1,128}")
_PADDED = re.compile(r"([A-Za-z0-9_-]+)(={0,2})")


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _partition(region: str) -> str:
    return next((name for prefix, name in _PARTITION_OF if region.startswith(prefix)), "aws")


def _unpad(token: str) -> tuple[str, bytes]:
    """The token without padding (for the strict parser) and the signing input exactly as sent."""
    if not isinstance(token, str) or not token.isascii() or len(token) > 16384:
        raise MalformedTokenError()
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedTokenError()
    stripped = []
    for part in parts:
        match = _PADDED.fullmatch(part)
        # Padding only at the end, and only as much as the length calls for.
        if match is None or (match.group(2) and (len(part) % 4 != 0)):
            raise MalformedTokenError()
        stripped.append(match.group(1))
    return ".".join(stripped), f"{parts[0]}.{parts[1]}".encode("ascii")


class AlbVerifier(AlbKeys):
    """Verifies ``x-amzn-oidc-data`` headers signed by one (or several) ALBs.

    Parameters
    ----------
    alb_arns:
        The load balancer ARN(s) whose signature is accepted (the ``signer`` header, exact match).
        The key endpoint's region and partition come from the ARN.
    client_ids:
        Accepted ``client`` header values (the IdP app client configured on the listener), optional.
    issuer:
        Accepted ``iss`` header value (the IdP), optional.
    key_url_template:
        ``"...{kid}"`` override of the key URL (tests use a loopback server).
    leeway_seconds, timeout_seconds, unknown_kid_cooldown_seconds, clock:
        Clock-skew on ``exp`` (60 s); total deadline of one key fetch (3 s); after a failed key fetch,
        no fetch for 30 s (answering 503, ``Retry-After`` the seconds left, at most 60); wall-clock
        seconds for ``exp`` and the cool-down (a clock stepped back never lengthens a cool-down).
    max_unknown_kid_fetches:
        Key fetches for not-yet-cached kids per cool-down window (default 4), as the JWKS source
        bounds its refetches: a storm of forged headers with random kids costs at most this many
        fetches per window, answered 401 beyond it. The window's last fetch is kept for the kid asked
        for most (at least twice): after an ALB key rotation every user sends the new kid, while
        forged kids come once each, so the genuine one is never starved by them (a flood repeating
        forged kids, with this ALB's ARN as signer, can still take that fetch each window).

    Raises
    ------
    ConfigurationError
        A malformed ALB ARN or template; a timeout or cool-down that is not a finite number (> 0, >= 0);
        a leeway over 300 s or a cool-down over an hour.

    Examples
    --------
    >>> v = AlbVerifier("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c49")
    >>> claims = v.verify(event["headers"]["x-amzn-oidc-data"])  # doctest: +SKIP
    """

    def __init__(
        self,
        alb_arns: str | Collection[str],
        *,
        client_ids: str | Collection[str] | None = None,
        issuer: str | None = None,
        key_url_template: str | None = None,
        leeway_seconds: float = 60,
        timeout_seconds: float = 3.0,
        unknown_kid_cooldown_seconds: float = 30,
        clock: Callable[[], float] = time.time,
        max_unknown_kid_fetches: int = 4,
    ) -> None:
        if isinstance(max_unknown_kid_fetches, bool) or not isinstance(max_unknown_kid_fetches, int) or (
                max_unknown_kid_fetches < 2):
            raise ConfigurationError("max_unknown_kid_fetches must be a whole number >= 2")
        for name, value, positive in (("timeout_seconds", timeout_seconds, True),
                                      ("unknown_kid_cooldown_seconds", unknown_kid_cooldown_seconds, False),
                                      ("leeway_seconds", leeway_seconds, False)):
            # A zero or NaN deadline would make every request a 503; a NaN cool-down, a window never ending.
            if not _number(value) or not math.isfinite(value) or value < 0 or (positive and value == 0):
                raise ConfigurationError(f"{name} must be a finite number {'>' if positive else '>='} 0")
        if timeout_seconds > MAX_TIMEOUT_SECONDS:  # 1e10: an OverflowError (500) per key fetch
            raise ConfigurationError(f"timeout_seconds must be at most {MAX_TIMEOUT_SECONDS:.0f}")
        check_at_most("leeway_seconds", leeway_seconds)  # 5 minutes: beyond, exp no longer expires
        check_at_most("unknown_kid_cooldown_seconds", unknown_kid_cooldown_seconds)  # an hour
        arns = [alb_arns] if isinstance(alb_arns, str) else list(alb_arns)
        matches = [_ALB_ARN.fullmatch(a) if isinstance(a, str) else None for a in arns]
        if not arns:
            raise ConfigurationError("alb_arns must be application load balancer ARNs")
        for number, m in enumerate(matches, 1):
            if m is None:  # named by position: ARNs are not secret, but a wrong value may be anything
                raise ConfigurationError(f"alb_arns item {number} is not an application load balancer ARN "
                                         "(arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:"
                                         "loadbalancer/app/NAME/ID)")
            if m.group(1) != _partition(m.group(2)):
                raise ConfigurationError(f"alb_arns item {number}: region {m.group(2)} is not in partition "
                                         f"{m.group(1)}")
        regions = {m.group(2) for m in matches if m is not None}
        if key_url_template is None:
            if len(regions) != 1:
                raise ConfigurationError("ALBs of several regions need one AlbVerifier each")
            key_url_template = default_key_url(regions.pop())
        if not isinstance(key_url_template, str) or key_url_template.count("{kid}") != 1:
            raise ConfigurationError("key_url_template must contain {kid} once")
        problem = url_problem(key_url_template.replace("{kid}", "kid"))
        if problem is not None:  # refused by every fetch: a 503 on every request
            raise ConfigurationError(f"key_url_template {problem}")
        clients = [client_ids] if isinstance(client_ids, str) else client_ids
        # As Verifier: a clock that is no callable failed every request (a 500), an issuer or client
        # that is no string (or an empty list of clients) refused every token.
        if clients is not None and (not isinstance(clients, Collection) or not clients
                                    or not all(isinstance(c, str) and c for c in clients)):
            raise ConfigurationError("client_ids must be an app client id or a list of them")
        if issuer is not None and (not isinstance(issuer, str) or not issuer):
            raise ConfigurationError("issuer must be the IdP's issuer URL")
        if not callable(clock):
            raise ConfigurationError("clock must be callable (returning epoch seconds)")
        self._signers = frozenset(arns)
        self._clients = frozenset(clients) if clients is not None else None
        self._issuer = issuer
        self._template = key_url_template
        self._timeout = timeout_seconds
        self._cooldown = unknown_kid_cooldown_seconds
        self._clock = clock
        # The payload is the IdP's user claims; the header's signer and client are what name this
        # recipient, so an aud there (some userinfo answers carry one) is typed but not matched.
        self._policy = _claims.ClaimsPolicy(issuer=None, audiences=None, leeway_seconds=float(leeway_seconds),
                                            accepted_types=None, accept_any_audience=True)
        self._start_key_cache(max_unknown_kid_fetches)

    def __repr__(self) -> str:
        return f"AlbVerifier(signers={sorted(self._signers)!r})"

    def verify(self, token: str) -> dict[str, Any]:
        """Verify an ``x-amzn-oidc-data`` value and return its claims (the IdP's user claims).

        Raises
        ------
        MalformedTokenError, AlgorithmNotAllowedError, InvalidSignatureError, TokenExpiredError
            The header value is not a valid ALB token.
        InvalidClaimError
            ``signer`` (another load balancer), ``client`` or ``iss`` not accepted.
        UnknownKeyError, KeysUnavailableError
            No key for the ``kid`` / the key endpoint cannot be reached (503).
        """
        unpadded, signing_input = _unpad(token)
        parsed = _token.parse(unpadded)
        header, claims = parsed.header, parsed.claims
        if header.get("alg") != "ES256":
            raise AlgorithmNotAllowedError()
        # Checked before any fetch: a token from another ALB (another tenant's account) costs nothing.
        signer, client = header.get("signer"), header.get("client")
        if not isinstance(signer, str) or signer not in self._signers:
            raise InvalidClaimError("signer", "invalid", "The load balancer signature is not accepted")
        if self._clients is not None and (not isinstance(client, str) or client not in self._clients):
            raise InvalidClaimError("client", "invalid")
        if self._issuer is not None and header.get("iss") != self._issuer:
            raise InvalidClaimError("iss", "invalid")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise UnknownKeyError()  # the kid goes into a URL: only a plain identifier may
        key = self._key(kid)
        if not key.verify("ES256", signing_input, parsed.signature):
            raise InvalidSignatureError()
        exp = claims.get("exp", header.get("exp"))
        header_exp = header.get("exp")
        if _number(exp) and _number(header_exp):
            exp = min(exp, header_exp)  # the ALB puts exp in the header too: the earlier one rules
        checked = {**claims, "exp": exp} if exp is not None else claims
        _claims.check_claims(checked, self._policy, self._clock())
        return claims

def require_alb_auth(verifier: AlbVerifier, **options: Any) -> Decorator:
    """Like :func:`~serverless_jwt.adapters.decorators.require_auth`, reading ``x-amzn-oidc-data``.

    The header is verified here; the handler then finds the caller on ``context.identity_context``
    (``token`` is the ALB's header value) and scope / role decorators work under it.
    ``options`` are ``require_auth`` keyword arguments (``roles_claim``, ``scopes``, ``realm``, ...);
    ``trust_authorizer``, ``cookie_name`` and ``token_source`` are a ``ConfigurationError``.
    A missing header is 401, several values 400, a failed verification 401 (503 for key outages).

    Examples
    --------
    >>> @require_alb_auth(AlbVerifier(ALB_ARN, client_ids=["my-client"]))  # doctest: +SKIP
    ... def handler(event, context): ...
    """
    from serverless_jwt.adapters.decorators import _authenticate
    from serverless_jwt.adapters.events import header_values
    from serverless_jwt.errors import InvalidRequestError, MissingTokenError

    # The ALB header is the only credential here: trust_authorizer=True let a requestContext.authorizer
    # stand in for it (no ALB sends one; whoever builds the event does), cookie_name was silently unused,
    # token_source a TypeError.
    foreign = sorted(name for name in ("trust_authorizer", "cookie_name", "token_source")
                     if options.get(name) not in (None, False))
    if foreign:
        raise ConfigurationError(f"require_alb_auth reads only the {HEADER} header: {', '.join(foreign)} "
                                 "does not apply")

    def alb_header(event: Mapping[str, Any]) -> str:
        values = header_values(event, HEADER)
        if not values:
            raise MissingTokenError()
        if len(values) > 1:
            raise InvalidRequestError("The request carries more than one ALB identity header")
        return values[0]

    # The shared request path with the ALB's header as the token source: verified claims go straight
    # to the identity, never through an event field (such as requestContext.authorizer) a caller controls.
    return _authenticate(verifier, **options, token_source=alb_header)
