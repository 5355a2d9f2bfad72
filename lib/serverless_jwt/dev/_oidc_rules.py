"""The dev provider's checks: redirect URIs and origins, PKCE, scope syntax, form parsing, RFC 6749 errors,
and the extra claims the login page may add.

Pure functions (no provider state), so each rule reads on its own. PKCE is RFC 7636 §4.1/§4.6,
redirect URIs follow RFC 8252 §7.3 (any port on a loopback address), errors RFC 6749 §4.1.2.1 / §5.2.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from serverless_jwt.token import MAX_JSON_DEPTH

__all__ = [
    "LOOPBACK_HOSTS",
    "RESERVED_CLAIMS",
    "OAuthError",
    "Response",
    "canonical_origin",
    "cors_headers",
    "extra_claims",
    "is_allowed_origin",
    "is_allowed_redirect",
    "json_depth",
    "json_response",
    "parse_form",
    "pkce_matches",
    "refuse_unserved_target",
    "refuse_unsupported",
    "requested_scopes",
    "valid_challenge",
    "valid_scope_token",
]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# RFC 7636 §4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# An S256 challenge is BASE64URL(SHA-256(verifier)) without padding: exactly 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
# RFC 6749 §5.2 / §4.1.2.1: error_description uses %x20-21 / %x23-5B / %x5D-7E only.
_DESCRIPTION_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
# Claims the login page's "extra claims" may not set: the provider writes them and relies on them.
RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope",
                             "auth_time", "nonce", "azp", "sid", "at_hash", "cnf"})


@dataclass
class Response:
    """An HTTP answer of the provider: status, headers and body bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class OAuthError(Exception):
    """An RFC 6749 error: ``error`` code, fixed ``description`` (never a request value), HTTP status."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = _DESCRIPTION_UNSAFE.sub("", description)
        self.status = status

    def response(self, extra_headers: Mapping[str, str] | None = None) -> Response:
        body = {"error": self.error, "error_description": self.description}
        out = json_response(self.status, body)
        if self.error == "invalid_client":
            out.headers["WWW-Authenticate"] = 'Basic realm="serverless-jwt-dev"'
        out.headers.update(extra_headers or {})
        return out


def json_response(status: int, body: object) -> Response:
    # RFC 6749 §5.1: token responses (and their errors) must not be cached.
    return Response(status, {"Content-Type": "application/json", "Cache-Control": "no-store",
                             "Pragma": "no-cache"}, json.dumps(body).encode("utf-8"))


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; a repeated parameter is refused (RFC 6749 §3.1)."""
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded")
    return parse_params(body.decode("utf-8", "replace"), repeatable=())


def parse_params(text: str, *, repeatable: Sequence[str]) -> dict[str, str]:
    """Query or form parameters; only names in ``repeatable`` may appear more than once (space-joined).

    A parameter without a value is left out (RFC 6749 §3.1: "treated as if omitted"), so ``state=`` is
    not echoed back and ``response_mode=`` means the default.
    """
    out: dict[str, str] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=False, strict_parsing=False, max_num_fields=100)
    except ValueError:
        raise OAuthError("invalid_request", "Too many parameters") from None
    for name, value in pairs:
        if name in out:
            if name not in repeatable:
                raise OAuthError("invalid_request", "A parameter was sent more than once")
            out[name] = f"{out[name]} {value}"
        else:
            out[name] = value
    return out


def valid_scope_token(token: str) -> bool:
    return _SCOPE_TOKEN.fullmatch(token) is not None


def valid_challenge(challenge: str) -> bool:
    return _CHALLENGE.fullmatch(challenge) is not None


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6 with S256 (the only method this provider accepts), compared in constant time."""
    if _VERIFIER.fullmatch(verifier) is None:
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, challenge)


def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def _is_loopback(url: str) -> bool:
    origin = _origin_of(url)
    return origin is not None and origin[0] == "http" and origin[1] in LOOPBACK_HOSTS


def is_allowed_redirect(uri: str, registered: Sequence[str] | None) -> bool:
    """Exact match against ``registered``; ``None``: any http URI on a loopback host, any port.

    A fragment is never allowed (RFC 6749 §3.1.2), nor user information in the authority, nor a port
    that is no number in 0-65535 (even registered: the login page's CSP would fail on it).
    """
    # Printable ASCII only: it goes into a Location header as it is.
    if not uri or len(uri) > 2048 or "#" in uri or any(not 0x21 <= ord(c) <= 0x7E for c in uri):
        return False
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - a port that is no number in 0-65535 raises here, not later (a 500)
        if parts.username is not None:
            return False
    except ValueError:
        return False
    if registered is None:
        return _is_loopback(uri)
    return uri in registered


def is_allowed_origin(origin: str, allowed: Sequence[str] | None) -> bool:
    """An exact ``Origin`` from ``allowed``; ``None``: any http loopback origin (``http://127.0.0.1:PORT``)."""
    if not origin or origin == "null":
        return False
    if allowed is None:
        parsed = _origin_of(origin)
        return _is_loopback(origin) and origin == _serialize(parsed)
    return origin in allowed


def _serialize(origin: tuple[str, str, int | None] | None) -> str | None:
    if origin is None:
        return None
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")


def canonical_origin(url: str) -> str | None:
    """``url``'s origin as a browser writes it in ``Origin`` (``http://localhost:5173``), or ``None``."""
    return _serialize(_origin_of(url))


def cors_headers(origin: str | None, allowed: Sequence[str] | None, *, preflight: bool) -> dict[str, str]:
    """CORS answer headers for an allowed ``origin`` (empty for any other; ``Vary`` always)."""
    headers = {"Vary": "Origin"}
    if origin is None or not is_allowed_origin(origin, allowed):
        return headers
    headers["Access-Control-Allow-Origin"] = origin
    if preflight:
        headers["Access-Control-Allow-Methods"] = "GET, POST"
        headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        headers["Access-Control-Max-Age"] = "600"
    else:
        # A 401/403 from userinfo says why in WWW-Authenticate (RFC 6750 §3); without this a page's
        # script cannot read it (oauth4webapi then reports "unexpected HTTP status code").
        headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
    return headers


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests arrays and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def refuse_unsupported(params: Mapping[str, str]) -> None:
    """Refuse what an authorization request may ask that this provider cannot do, as OIDC names it."""
    if params.get("response_mode", "query") != "query":  # the code would not arrive where asked
        raise OAuthError("invalid_request", "Only response_mode=query is supported")
    if "request" in params:
        raise OAuthError("request_not_supported", "Request objects are not supported")
    if "request_uri" in params:
        raise OAuthError("request_uri_not_supported", "request_uri is not supported")
    prompts = params.get("prompt", "").split()
    if "none" in prompts:
        if len(prompts) > 1:  # OIDC Core §3.1.2.1: none with any other value is an error
            raise OAuthError("invalid_request", "prompt=none cannot be combined with another prompt value")
        # OIDC Core §3.1.2.6: no session to sign in silently with (a page a frame may not show).
        raise OAuthError("login_required", "The dev provider keeps no session to sign in silently")


def refuse_unserved_target(params: Mapping[str, str], audience: str) -> None:
    """``invalid_target`` for an ``audience`` (Auth0 style) or RFC 8707 ``resource`` this provider does
    not issue tokens for, at the authorization and the token endpoint alike (RFC 8707 §2)."""
    for requested in (params.get("audience"), params.get("resource")):
        if requested and requested != audience and not (requested is params.get("resource")
                                                        and local_api_resource(requested)):
            raise OAuthError("invalid_target", "The requested audience is not served by this provider")


def local_api_resource(resource: str) -> bool:
    """Whether an RFC 8707 ``resource`` is a local API's URL (``http://127.0.0.1:3000``, as its RFC 9728
    metadata names it): the dev audience serves it, an audience the provider maps it to (RFC 8707 §2)."""
    try:
        parts = urlsplit(resource)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and parts.hostname in _LOOPBACK_HOSTS and not parts.fragment
            and not parts.username and not parts.password)


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def requested_scopes(form: Mapping[str, str]) -> tuple[str, ...]:
    """The ``scope`` parameter's scope tokens, in order, each once (``invalid_scope`` for a bad one)."""
    scopes = tuple(dict.fromkeys(form.get("scope", "").split()))
    if not all(valid_scope_token(s) for s in scopes):
        raise OAuthError("invalid_scope", "A requested scope is not a valid scope token")
    return scopes


def _not_json(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity, -Infinity: JavaScript's, not JSON (RFC 8259 §6)


def extra_claims(text: str) -> dict[str, Any]:
    """The login page's extra claims: a JSON object no deeper than verifiers read, setting no
    :data:`RESERVED_CLAIMS` (``ValueError`` with the message the page shows)."""
    if not text:
        return {}
    try:
        value = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise ValueError("Extra claims must be valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("Extra claims must be a JSON object")
    if json_depth(value) >= MAX_JSON_DEPTH:  # a token nested deeper than verifiers read is no use
        raise ValueError(f"Extra claims may nest at most {MAX_JSON_DEPTH - 1} levels deep")
    try:  # 1e999 reads as inf, "\ud800" as a lone surrogate: tokens every verifier refuses
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except ValueError:
        raise ValueError("Extra claims may hold only finite numbers and valid Unicode text") from None
    reserved = sorted(RESERVED_CLAIMS & set(value))
    if reserved:
        raise ValueError("Extra claims may not set protocol claims: " + ", ".join(reserved))
    return value
