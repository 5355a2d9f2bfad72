"""API Gateway Lambda authorizers from a verifier: REST TOKEN / REQUEST, HTTP API simple / IAM.

::

    handler = authorizer(Verifier.from_env(), kind="rest_token", resource="stage")

What API Gateway receives, and what the client then gets:

=====================================  ==========================================================
valid token (and scopes / roles)       Allow policy (``rest_*``, ``http_iam``) or
                                       ``{"isAuthorized": true}``; the claims go in ``context``
missing / malformed / invalid token    ``raise Unauthorized()``: message exactly ``"Unauthorized"``,
                                       which API Gateway answers with 401 (or, with
                                       ``reject_with="deny"``, the same as a failed check: 403)
valid token, missing scope or role     explicit Deny policy / ``{"isAuthorized": false}``: 403
signing keys unavailable               the :class:`KeysUnavailableError` is re-raised (logged):
                                       the invocation fails and API Gateway answers 500
=====================================  ==========================================================

The claims reach the backend through ``context`` in the flat form REST APIs require (strings; other
values JSON-encoded, ``scp``/``permissions`` space-delimited; see :mod:`._context`).
``require_auth(trust_authorizer=True)`` reads them back with their original types.

API Gateway caches an authorizer's answer by its identity source, not by the token, so the credential
must come only from what that cache key covers. A TOKEN authorizer's key is its one header. An HTTP
API authorizer reads the credential only from the event's ``identitySource`` values (a list in payload
2.0, one comma-joined string in 1.0)
(configure ``$request.header.Authorization``, plus ``$request.header.Cookie`` with ``cookie_name``).
A REST REQUEST authorizer reads only the sources named in ``identity_source`` (default
``method.request.header.Authorization``; a cookie needs ``method.request.header.Cookie``), which
must match the authorizer's ``IdentitySource`` in API Gateway.

An event without a usable ``methodArn`` / ``routeArn`` (the authorizer wired to something else) is
logged and answered ``Unauthorized``: nothing in a request raises anything but that.

Policies name the exact ``methodArn`` / ``routeArn`` by default. With authorizer caching on, API
Gateway reuses one policy for every route the caller hits: use ``resource="stage"`` (every method and
path of the stage: ``.../{stage}/*/*``, and ``.../{stage}/*`` for the HTTP kinds, whose ``$default``
route's ARN is ``.../{stage}/$default``) or a template such as
``"arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/GET/*"``. The ARN's partition
(``aws``, ``aws-cn``, ``aws-us-gov``) is always kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from serverless_jwt import authz
from serverless_jwt._rejections import configured_issuer, log_rejection
from serverless_jwt.adapters._authorizer_sources import cookie_only, identity_source_token, read_sources
from serverless_jwt.adapters._context import context_from_claims
from serverless_jwt.adapters.decorators import TokenVerifier
from serverless_jwt.adapters.events import bearer_token
from serverless_jwt.errors import (
    AuthError,
    ConfigurationError,
    InvalidClaimError,
    KeysUnavailableError,
)

__all__ = ["AuthorizerKind", "Unauthorized", "authorizer", "policy_resource"]

AuthorizerKind = Literal["rest_token", "rest_request", "http_simple", "http_iam"]
Enricher = Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, str | int | float | bool]]

_log = logging.getLogger("serverless_jwt.authorizer")
_KINDS = ("rest_token", "rest_request", "http_simple", "http_iam")
_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):execute-api:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<api_id>[A-Za-z0-9]+)/(?P<stage>[^/]+)/(?P<method>[^/]+)(?:/(?P<path>.*))?",
    re.DOTALL,
)
_SHORTCUTS = {
    "stage": "arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/*/*",
    "api": "arn:{partition}:execute-api:{region}:{account}:{api_id}/*/*/*",
}
# An HTTP API's $default route has a two-segment ARN (".../{stage}/$default"), which "/*/*" never
# matches: HTTP kinds end the shortcuts in one "*" (it matches "/" too), so a cached Allow covers it.
_HTTP_SHORTCUTS = {
    "stage": "arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/*",
    "api": "arn:{partition}:execute-api:{region}:{account}:{api_id}/*",
}


class Unauthorized(Exception):
    """Raised for a missing or invalid token: API Gateway turns the message ``"Unauthorized"`` into 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


_SAMPLE_API = "arn:aws:execute-api:sample-region-1:000000000000:sampleapi0"
_MAX_RESOURCE = 512  # characters of a policy's Resource (API Gateway's Lambda authorizer output docs)


def policy_resource(arn: str, resource: str = "method", *, http_api: bool = False) -> str:
    """The ``Resource`` of the policy for a request to ``arn`` (a ``methodArn`` or ``routeArn``).

    Parameters
    ----------
    arn:
        ``arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path}``.
    resource:
        ``"method"`` (``arn`` itself), ``"stage"``, ``"api"``, or a template using ``{partition}``,
        ``{region}``, ``{account}``, ``{api_id}``, ``{stage}``, ``{method}``, ``{path}``.
    http_api:
        ``arn`` is an HTTP API's: ``"stage"`` and ``"api"`` then end in one ``*`` (``.../{stage}/*``),
        which also covers the ``$default`` route's ``.../{stage}/$default``.

    A result over 512 characters (API Gateway's limit for a ``Resource``) ends in ``*`` at the 512th.

    Raises
    ------
    ConfigurationError
        ``arn`` is not an execute-api ARN (the authorizer is wired to something else).

    Examples
    --------
    >>> policy_resource("arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/GET/shows/1", "stage")
    'arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/*/*'
    >>> policy_resource("arn:aws:execute-api:us-east-1:123456789012:abc123/$default/$default", "stage",
    ...                 http_api=True)
    'arn:aws:execute-api:us-east-1:123456789012:abc123/$default/*'
    """
    match = _ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise ConfigurationError("The event carries no execute-api methodArn/routeArn")
    result = arn
    if resource != "method":
        template = (_HTTP_SHORTCUTS if http_api else _SHORTCUTS).get(resource, resource)
        result = template.format(**{k: v or "" for k, v in match.groupdict().items()})
    # A methodArn may have 1600 bytes (a long path): its first 511 characters and "*" still cover it.
    return result if len(result) <= _MAX_RESOURCE else result[:_MAX_RESOURCE - 1] + "*"


def _policy(principal: str, effect: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


def authorizer(
    verifier: TokenVerifier,
    *,
    kind: AuthorizerKind = "rest_token",
    scopes: Collection[str] = (),
    any_scope: bool = False,
    roles: Collection[str] = (),
    roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
    resource: str = "method",
    context_claims: Collection[str] | None = None,
    enrich: Enricher | None = None,
    reject_with: Literal["unauthorized", "deny"] = "unauthorized",
    cookie_name: str | None = None,
    identity_source: str | Collection[str] | None = None,
    logger: Any = None,
    claims_mapper: authz.ClaimsMapper | None = None,
    usage_identifier_key: str | Callable[[Mapping[str, Any], Mapping[str, Any]], str | None] | None = None,
) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]:
    """A Lambda authorizer handler ``handler(event, context)`` built on ``verifier``.

    Parameters
    ----------
    verifier:
        A ``Verifier``, ``MultiIssuerVerifier`` or preset.
    kind:
        ``"rest_token"`` (REST TOKEN authorizer: ``authorizationToken`` holds ``Bearer <jwt>``),
        ``"rest_request"`` (REST REQUEST authorizer: the ``Authorization`` header), ``"http_simple"``
        (HTTP API payload 2.0 with simple responses) or ``"http_iam"`` (HTTP API, IAM policy format).
    scopes, any_scope, roles, roles_claim:
        Authorization required on top of a valid token; failing it is an explicit Deny (403).
    resource:
        Policy resource: ``"method"`` (default), ``"stage"``, ``"api"`` or a template (see
        :func:`policy_resource`). Choose ``"stage"`` or wider when authorizer caching is on.
    context_claims:
        Only these claims go into ``context`` (default: all of them).
    enrich:
        ``enrich(claims, event) -> {name: str|int|float|bool}`` added to ``context`` (floats finite:
        Lambda would write NaN / Infinity bare, which API Gateway cannot parse; a ``ValueError`` instead).
        It returns ``{}`` to add nothing: anything but a mapping (``None`` too) is a ``TypeError``.
    reject_with:
        ``"unauthorized"`` (401, default) or ``"deny"`` (403) for a missing or invalid token. HTTP
        APIs document only ``isAuthorized: false`` (403); choose ``"deny"`` to stay on that path.
    cookie_name:
        REQUEST kinds: also read the token from this cookie, when the identity source covers it.
    identity_source:
        ``"rest_request"`` only: the authorizer's identity sources as configured in API Gateway (a list,
        or its comma-separated ``IdentitySource`` string; default
        ``["method.request.header.Authorization"]``). Only those are read, because API
        Gateway caches the answer by them: the ``Authorization`` header only if named, the cookie only
        with ``method.request.header.Cookie``.
    logger:
        Where each refusal is logged (code, status, failed check, issuer; never the token): a
        Powertools ``Logger`` or a ``logging.Logger``, as ``require_auth(logger=...)``. Default: the
        ``serverless_jwt.authorizer`` logger at INFO, which Lambda's default WARNING level drops.
    claims_mapper:
        Rewrites the verified claims before the checks and the context, as ``require_auth``'s does, so
        ``authorizer(multi, **multi.auth_options())`` reads each preset's roles as ``require_auth`` does.
        An ``AuthError`` it or ``enrich`` raises is answered as ``require_auth`` would: a
        ``ForbiddenError`` is a Deny (403), a 401 error the same as an invalid token.
    usage_identifier_key:
        REST kinds, for a usage plan whose API key source is ``AUTHORIZER``: the name of the claim
        holding the caller's API key, or ``f(claims, event) -> str | None``. An Allow then carries it
        as ``usageIdentifierKey``; without a non-empty string none is sent (API Gateway answers 403
        where the method requires an API key).

    Raises
    ------
    ConfigurationError
        At construction for unusable settings.

    Examples
    --------
    >>> handler = authorizer(verifier, kind="http_simple", scopes=["read:shows"])  # doctest: +SKIP
    """
    if kind not in _KINDS:
        raise ConfigurationError(f"kind must be one of {', '.join(_KINDS)}")
    if reject_with not in ("unauthorized", "deny"):
        raise ConfigurationError("reject_with must be 'unauthorized' or 'deny'")
    if resource not in ("method", *_SHORTCUTS):
        try:
            sample = policy_resource(f"{_SAMPLE_API}/sample-stage/GET/sample/path", resource)
        except (KeyError, IndexError, ValueError, AttributeError):
            raise ConfigurationError("resource template uses an unknown {field}") from None
        # Of this API: its id, then a path ("...:{account}:*" or "...:{api_id}*" would reach others).
        if not sample.startswith(_SAMPLE_API + "/"):
            raise ConfigurationError("resource template must produce an execute-api ARN of the same API")
    if kind == "http_simple" and resource != "method":
        raise ConfigurationError("http_simple responses carry no policy: leave resource unset")
    if cookie_name is not None and kind == "rest_token":
        raise ConfigurationError("cookie_name needs a REQUEST authorizer (a TOKEN one reads one header)")
    read_header, read_cookie = read_sources(kind, identity_source, cookie_name)
    required_scopes = authz.validate_names(scopes, "scope") if scopes else ()
    required_roles = authz.validate_names(roles, "role") if roles else ()
    roles_claim = authz.validate_claim_path(roles_claim, "roles_claim")
    if isinstance(context_claims, str):  # read as its characters, it would keep no claim at all
        raise ConfigurationError('context_claims must be a collection of claim names, such as ["sub"]')
    include = frozenset(context_claims) if context_claims is not None else None
    # Checked now: each would otherwise fail the invocation (a 500) on the requests that reach it.
    if usage_identifier_key is not None and kind not in ("rest_token", "rest_request"):
        raise ConfigurationError("usage_identifier_key applies to REST authorizers (HTTP APIs: no API keys)")
    if isinstance(usage_identifier_key, str) and not usage_identifier_key:
        raise ConfigurationError("usage_identifier_key must name a claim or be callable")
    for name, hook in (("enrich", enrich), ("claims_mapper", claims_mapper),
                       ("usage_identifier_key", None if isinstance(usage_identifier_key, str)
                        else usage_identifier_key)):
        if hook is not None and not callable(hook):
            raise ConfigurationError(f"{name} must be callable")
    if logger is not None and not all(callable(getattr(logger, m, None)) for m in ("info", "error")):
        raise ConfigurationError("logger must be a Powertools Logger or a logging.Logger")

    issuer = configured_issuer(verifier)
    log = logger if logger is not None else _log

    def token_of(event: Mapping[str, Any]) -> str:
        if kind == "rest_token":
            value = event.get("authorizationToken")
            # Same rules as the header: one "Bearer <token68>" value.
            return bearer_token({"headers": {"authorization": value}} if isinstance(value, str) else {})
        if kind == "rest_request":
            if read_header:
                return bearer_token(event, cookie_name=cookie_name if read_cookie else None)
            return cookie_only(event, cookie_name)
        return identity_source_token(event, cookie_name)

    def resource_of(event: Mapping[str, Any]) -> str:
        try:
            return policy_resource(_arn(event), resource, http_api=kind.startswith("http"))
        except ConfigurationError:
            # Wired to something that sends no execute-api ARN: no policy can be written. A 401, logged,
            # rather than an exception API Gateway would turn into a 500.
            log.error("authorizer: the event has no usable methodArn/routeArn; answering Unauthorized",
                       extra={"auth_code": "authorizer_event_invalid", "auth_issuer": issuer})
            raise Unauthorized() from None

    def refuse(event: Mapping[str, Any], err: AuthError, principal: str) -> dict[str, Any]:
        detail = {"error": err.error or err.code, "error_description": err.description}
        if kind == "http_simple":
            return {"isAuthorized": False, "context": detail}
        # The Deny covers what an Allow would have covered, so a cached answer is consistent.
        response = _policy(principal, "Deny", resource_of(event))
        response["context"] = detail
        return response

    def rejected(event: Mapping[str, Any], err: AuthError, principal: str) -> dict[str, Any]:
        if isinstance(err, KeysUnavailableError):
            # Failing the invocation makes API Gateway answer 500 rather than a misleading 401.
            log_rejection(err, issuer=issuer, logger=log, level=logging.ERROR)
            raise err
        log_rejection(err, issuer=issuer, logger=log)
        if err.status == 403:  # a failed scope / role check (or a hook's ForbiddenError): Deny
            return refuse(event, err, principal)
        if reject_with == "deny":
            return refuse(event, err, "unauthorized")
        raise Unauthorized() from None

    def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        if not isinstance(event, Mapping):
            raise Unauthorized()
        if kind == "http_simple" and event.get("version") == "1.0":
            # API Gateway takes simple responses with payload 2.0 only: an Allow here would fail there.
            log.error("authorizer: a payload 1.0 event reached kind='http_simple'; use kind='http_iam' "
                      "(or payload format 2.0); answering Unauthorized")
            raise Unauthorized()
        try:
            claims = verifier.verify(token_of(event))
        except AuthError as err:
            return rejected(event, err, "unauthorized")
        subject = claims.get("sub")
        if kind != "http_simple" and (not isinstance(subject, str) or not subject):
            # No principalId, no IAM answer: refused as an unusable token (a Deny under reject_with="deny").
            return rejected(event, InvalidClaimError("sub", "missing" if subject is None else "invalid"),
                            "unauthorized")
        principal = subject if isinstance(subject, str) else ""
        try:  # the hooks may refuse with an AuthError, as under require_auth: never a failed invocation
            if claims_mapper is not None:  # after the verified sub is read: the principal is never rewritten
                claims = claims_mapper(claims)
                if not isinstance(claims, Mapping):  # a mapper without `return`: loud, as in require_auth
                    raise TypeError("claims_mapper must return a mapping of claims")
            if required_scopes:
                authz.check_scopes(claims, required_scopes, any_of=any_scope)
            if required_roles:
                authz.check_roles(claims, required_roles, path=roles_claim)
            extra = enrich(claims, event) if enrich is not None else None
            if enrich is not None and not isinstance(extra, Mapping):  # its type, never its value (claims)
                raise TypeError(f"enrich must return a mapping of context values, not {type(extra).__name__}")
        except AuthError as err:
            return rejected(event, err, principal)
        ctx: dict[str, Any] = context_from_claims(claims, include=include, extra=extra)
        if kind == "http_simple":
            return {"isAuthorized": True, "context": ctx}
        response = _policy(principal, "Allow", resource_of(event))
        response["context"] = ctx
        if usage_identifier_key is not None:
            key = (claims.get(usage_identifier_key) if isinstance(usage_identifier_key, str)
                   else usage_identifier_key(claims, event))
            if isinstance(key, str) and key:
                response["usageIdentifierKey"] = key
        return response

    return handler


def _arn(event: Mapping[str, Any]) -> str:
    arn = event.get("methodArn", event.get("routeArn"))
    return arn if isinstance(arn, str) else ""
