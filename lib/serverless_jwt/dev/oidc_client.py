"""Sign in to the dev provider from a script or a test, over real HTTP, as a browser would.

:func:`sign_in` runs the whole authorization code + PKCE flow against a running
:class:`~serverless_jwt.dev.issuer.DevIssuer`: it opens the login page, submits the form with the
chosen subject, scopes, roles and claims, follows the redirect and exchanges the code. The tokens are
the ones a single-page app would get. The steps are public too, so a test can change one of them
(a wrong verifier, a reused code).

Uses ``urllib`` (no extra dependency) with redirects off: each redirect is a result to check, and
no proxy (the issuer is on this machine).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["HttpAnswer", "LoginRequest", "code_from", "exchange_code", "get", "post_form", "send", "sign_in",
           "start", "submit_login"]

_TRANSACTION = re.compile(r'name="transaction" value="([^"]+)"')
_ALERT = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
_MESSAGE = re.compile(r"<body><h1>([^<]*)</h1><p>([^<]*)</p>")


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP answer: status, headers (lower-cased names), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class LoginRequest:
    """An authorization request in progress: its URL and the secrets the client keeps."""

    url: str
    redirect_uri: str
    client_id: str
    code_verifier: str
    state: str
    nonce: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# The dev provider is this machine's: an HTTP_PROXY of the shell or a CI runner cannot reach its loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def _call(request: urllib.request.Request) -> HttpAnswer:
    try:
        with _OPENER.open(request, timeout=10) as response:
            return HttpAnswer(response.status, {k.lower(): v for k, v in response.headers.items()},
                              response.read())
    except urllib.error.HTTPError as exc:  # 3xx (redirects off), 4xx, 5xx: all answers to look at
        with exc:
            return HttpAnswer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def send(method: str, url: str, *, data: bytes | None = None,
         headers: Mapping[str, str] | None = None) -> HttpAnswer:
    """One request to an ``http(s)`` URL, without following redirects; every status is an answer."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("only http(s) URLs")
    return _call(urllib.request.Request(url, data=data, method=method,  # noqa: S310 - checked above
                                        headers=dict(headers or {})))


def get(url: str, headers: Mapping[str, str] | None = None) -> HttpAnswer:
    """GET without following redirects."""
    return send("GET", url, headers=headers)


def post_form(url: str, form: Mapping[str, str] | Iterable[tuple[str, str]],
              headers: Mapping[str, str] | None = None) -> HttpAnswer:
    """POST an ``application/x-www-form-urlencoded`` body without following redirects."""
    data = urlencode(list(form.items()) if isinstance(form, Mapping) else list(form)).encode("ascii")
    return send("POST", url, data=data,
                headers={"Content-Type": "application/x-www-form-urlencoded", **dict(headers or {})})


def start(issuer: str, *, client_id: str = "serverless-jwt-dev-spa",
          redirect_uri: str = "http://127.0.0.1/callback", scopes: Iterable[str] = ("openid",),
          extra: Mapping[str, str] | None = None) -> LoginRequest:
    """Build an authorization request with a fresh PKCE verifier (S256), ``state`` and ``nonce``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": " ".join(scopes), "state": state, "nonce": nonce, "code_challenge": challenge,
              "code_challenge_method": "S256", **dict(extra or {})}
    url = issuer + "/authorize?" + urlencode(params)
    return LoginRequest(url, redirect_uri, client_id, verifier, state, nonce)


def submit_login(request: LoginRequest, *, subject: str = "dev-user", scopes: Iterable[str] = ("openid",),
                 roles: Iterable[str] = (), claims: Mapping[str, Any] | None = None) -> HttpAnswer:
    """Open the login page and answer it; returns the provider's answer (a 303 to the redirect URI)."""
    page = get(request.url)
    found = _TRANSACTION.search(page.body.decode("utf-8", "replace"))
    if page.status != 200 or found is None:
        raise RuntimeError(f"the login page did not open (HTTP {page.status}){_page_problem(page)}")
    form = [("transaction", found.group(1)), ("subject", subject), ("roles", " ".join(roles)),
            ("claims", json.dumps(dict(claims)) if claims else ""), ("action", "sign_in")]
    form += [("scope", s) for s in scopes]
    base = urlsplit(request.url)
    return post_form(f"{base.scheme}://{base.netloc}/authorize", form)


def code_from(answer: HttpAnswer, request: LoginRequest) -> str:
    """The code in a redirect to the client, after checking ``state``; raises RuntimeError otherwise."""
    location = answer.headers.get("location", "")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if answer.status != 303 or not location.startswith(request.redirect_uri):
        raise RuntimeError(f"no redirect to the client (HTTP {answer.status}){_page_problem(answer)}")
    if params.get("state") != request.state:
        raise RuntimeError("the provider did not return the request's state")
    if "code" not in params:
        raise RuntimeError(f"the provider refused: {params.get('error', 'no code')}")
    return params["code"]


def _page_problem(answer: HttpAnswer) -> str:
    """What the provider's page says went wrong (the login form's alert, or a message page's heading
    and text): its own fixed wording, never a value of the request."""
    text = answer.body.decode("utf-8", "replace")
    found = _ALERT.search(text) or _MESSAGE.search(text)
    if found is None:
        return ""
    return ": " + ". ".join(html.unescape(part) for part in found.groups() if part)


def exchange_code(issuer: str, request: LoginRequest, code: str, *, code_verifier: str | None = None
                  ) -> HttpAnswer:
    """POST the code to the token endpoint (``code_verifier`` overrides the request's own)."""
    return post_form(issuer + "/oauth/token", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": request.redirect_uri,
        "client_id": request.client_id, "code_verifier": code_verifier or request.code_verifier})


def sign_in(issuer: str, *, subject: str = "dev-user", scopes: Iterable[str] = ("openid",),
            roles: Iterable[str] = (), claims: Mapping[str, Any] | None = None,
            client_id: str = "serverless-jwt-dev-spa", redirect_uri: str = "http://127.0.0.1/callback"
            ) -> dict[str, Any]:
    """The whole sign-in; returns the token response (``access_token``, ``id_token``...).

    Examples
    --------
    >>> tokens = sign_in(issuer.issuer, subject="alice", scopes=["openid", "read:shows"])  # doctest: +SKIP
    >>> tokens["access_token"]                                                              # doctest: +SKIP
    """
    # A string is the space-delimited list (as a scope parameter), never its characters.
    wanted = scopes.split() if isinstance(scopes, str) else list(scopes)
    role_list = [roles] if isinstance(roles, str) else list(roles)
    request = start(issuer, client_id=client_id, redirect_uri=redirect_uri, scopes=wanted)
    code = code_from(submit_login(request, subject=subject, scopes=wanted, roles=role_list,
                                  claims=claims), request)
    answer = exchange_code(issuer, request, code)
    if answer.status != 200:
        raise RuntimeError(f"the token endpoint refused the code (HTTP {answer.status})")
    tokens: dict[str, Any] = answer.json()
    return tokens
