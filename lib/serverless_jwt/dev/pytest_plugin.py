"""pytest plugin (registered through the ``pytest11`` entry point): test handlers with real tokens.

Nothing is patched: tokens are signed by a loopback OIDC issuer, and the code under test fetches its
discovery document and JWKS over HTTP on 127.0.0.1, exactly as it would from Cognito or Auth0.

Fixtures (all named ``jwt_*``, so none collides with a project's own ``tokens`` or ``lambda_context``)
--------
``jwt_issuer``
    A running :class:`~serverless_jwt.dev.issuer.DevIssuer` (RSA and EC keys). One server per test
    session (per xdist worker), so its URL stays the same for every test; its faults, extra keys,
    rotations, audience and request counts are reset before each test. ``jwt_issuer.stop()`` in a test
    is allowed: the next test gets it serving again at the same address (and ``stop()`` then ``start()``
    within a test keeps it).
``jwt_env``
    ``jwt_issuer`` with ``JWT_ISSUER``, ``JWT_AUDIENCE`` and ``JWT_ALGORITHMS`` (every algorithm
    ``jwt_issuer.rotate(alg=...)`` can sign with) set for the test and every other ``JWT_*`` variable
    removed, so ``Verifier.from_env()`` and ``@require_auth`` verify its tokens. Afterwards the
    ``JWT_*`` variables are exactly as before, also those the test set or removed through ``os.environ``
    itself.
``jwt_tokens``
    :class:`Tokens`: ``valid(**claims)``, ``with_scopes(...)``, ``with_roles(...)`` and the classic bad
    tokens ``expired()``, ``not_yet_valid()``, ``wrong_audience()``, ``wrong_issuer()``, ``tampered()``,
    ``foreign_key()``, ``unsigned()``.
``jwt_mint_token``
    ``jwt_issuer.mint``: full control (``sub``, ``scopes``, ``roles``, ``lifetime_seconds``, ``alg``...).
``jwt_sign_in``
    :func:`serverless_jwt.dev.oidc_client.sign_in` bound to ``jwt_issuer``: the browser's sign-in
    (login page, code + PKCE, token endpoint) over HTTP, returning the token response;
    ``jwt_sign_in(subject="alice", scopes=["openid", "read:shows"])["access_token"]``.
``jwt_lambda_event``
    :func:`serverless_jwt.dev.events.http_event`: ``jwt_lambda_event("http_v2", path="/me", token=...)``
    for ``"rest_v1"``, ``"http_v2"``, ``"alb"`` and ``"function_url"``.
``jwt_lambda_context``
    A fresh :class:`~serverless_jwt.dev.runtime.LambdaContext` (``function_name``, ``aws_request_id``,
    ``get_remaining_time_in_millis()``...) with ``identity_context = None``.

Every test that uses one of these fixtures starts and ends with the shared JWKS caches cleared, also
those of verifiers built earlier, such as a handler module's ``verifier = Verifier.from_env()``: it
fetches the keys again, as a new Lambda container would, but keeps the settings it read at import (no
autouse fixture: projects that never ask for them run nothing of ours). Imports are deferred to the
fixtures, so projects that install the package but never use these fixtures pay nothing.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from serverless_jwt.dev.issuer import DevIssuer
    from serverless_jwt.dev.runtime import LambdaContext

__all__ = ["Tokens"]

# DevIssuer settings a test may change; each test starts from the values the server began with.
_RESETTABLE = ("fault", "fault_paths", "slow_seconds", "retry_after", "drip_interval_seconds", "huge_bytes",
               "extra_jwks_keys", "discovery_overrides", "audience", "_keys", "_current", "_foreign")


# jwt_env's JWT_ALGORITHMS: all the issuer signs with after rotate(alg=...), so a verifier built from the
# environment (at import, in an earlier test) accepts them. ES256K stays out, as in from_env()'s default.
_ISSUER_ALGORITHMS = "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA"


class Tokens:
    """Tokens from one :class:`~serverless_jwt.dev.issuer.DevIssuer`: good ones and the classic bad ones.

    Every method takes extra claims as keyword arguments (``None`` removes a claim) and ``alg``
    (``"RS256"`` by default; ``"ES256"`` uses the issuer's EC key); the valid ones also take
    ``lifetime_seconds`` (one hour by default).

    Parameters
    ----------
    issuer:
        The issuer that signs (and whose JWKS publishes the keys).
    roles_claim:
        Where :meth:`with_roles` also writes the roles (a claim name or a path of names); they always go
        to ``app_metadata.authorization.roles``, the default place ``require_role`` reads.

    Examples
    --------
    >>> def test_rejects_expired(jwt_tokens, jwt_lambda_event, jwt_lambda_context, jwt_env):  # doctest: +SKIP
    ...     event = jwt_lambda_event("http_v2", path="/me", token=jwt_tokens.expired())
    ...     assert handler(event, jwt_lambda_context)["statusCode"] == 401
    """

    def __init__(self, issuer: DevIssuer, *, roles_claim: str | tuple[str, ...] | None = None) -> None:
        self.issuer = issuer
        self.roles_claim = roles_claim

    def _mint(self, *, alg: str, foreign: bool = False, **options: Any) -> str:
        if alg.upper().startswith("HS"):
            raise ValueError(
                "jwt_tokens signs with the test issuer's published keys (RS256 and ES256; others after "
                "jwt_issuer.rotate(alg=...)). For an HS "
                "token, set JWT_SECRET to your test secret (without jwt_env, which configures the issuer's "
                "keys) and mint with jwt_mint_token(alg='HS256', secret=..., issuer=None, audience=None) "
                "(Netlify-style: no iss, no aud)")
        if foreign:
            return self.issuer.mint_with_foreign_key(alg=alg, **options)
        return self.issuer.mint(alg=alg, **options)

    def valid(self, *, alg: str = "RS256", lifetime_seconds: float = 3600, **claims: Any) -> str:
        """A token the issuer's verifier accepts: ``sub="dev-user"``, the issuer's audience, one hour
        (``lifetime_seconds``)."""
        return self._mint(alg=alg, lifetime_seconds=lifetime_seconds, claims=claims)

    def with_scopes(self, *scopes: str | Iterable[str], alg: str = "RS256", lifetime_seconds: float = 3600,
                    **claims: Any) -> str:
        """A valid token whose ``scope`` claim lists ``scopes`` (space-delimited): ``with_scopes("a", "b")``
        or ``with_scopes(["a", "b"])``."""
        return self._mint(alg=alg, scopes=_flat(scopes, split=True), lifetime_seconds=lifetime_seconds,
                          claims=claims)

    def with_roles(self, *roles: str | Iterable[str], alg: str = "RS256", lifetime_seconds: float = 3600,
                   **claims: Any) -> str:
        """A valid token carrying ``roles`` (see ``roles_claim``): ``with_roles("admin")`` or a list."""
        return self._mint(alg=alg, roles=_flat(roles, split=False), roles_claim=self.roles_claim,
                          lifetime_seconds=lifetime_seconds, claims=claims)

    def expired(self, *, alg: str = "RS256", **claims: Any) -> str:
        """Expired an hour ago (far beyond any clock-skew leeway)."""
        return self._mint(alg=alg, now=time.time() - 7200, lifetime_seconds=3600, claims=claims)

    def not_yet_valid(self, *, alg: str = "RS256", **claims: Any) -> str:
        """``nbf`` an hour from now."""
        return self._mint(alg=alg, claims={"nbf": int(time.time()) + 3600, **claims})

    def wrong_audience(self, *, alg: str = "RS256", **claims: Any) -> str:
        """Signed by the issuer for another API (``aud`` is ``https://another-api.example``)."""
        return self._mint(alg=alg, audience="https://another-api.example", claims=claims)

    def wrong_issuer(self, *, alg: str = "RS256", **claims: Any) -> str:
        """Signed with the issuer's key but naming another issuer (``https://another-issuer.example``)."""
        return self._mint(alg=alg, issuer="https://another-issuer.example", claims=claims)

    def tampered(self, *, alg: str = "RS256", **claims: Any) -> str:
        """A valid token whose payload was edited afterwards (``sub`` changed), keeping its signature."""
        header, payload, signature = self.valid(alg=alg, **claims).split(".")
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        data["sub"] = "admin" if data.get("sub") != "admin" else "root"
        edited = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode("ascii")
        return f"{header}.{edited}.{signature}"

    def foreign_key(self, *, alg: str = "RS256", **claims: Any) -> str:
        """Right claims and the current ``kid``, signed by a key the JWKS never publishes."""
        return self._mint(alg=alg, foreign=True, claims=claims)

    def unsigned(self, **claims: Any) -> str:
        """``alg: none`` with an empty signature (must never be accepted)."""
        return self.issuer.mint(alg="none", claims=claims)


def _flat(values: tuple[str | Iterable[str], ...], *, split: bool) -> list[str]:
    # with_roles(["a", "b"]) once signed the role ["a", "b"]; a list is its members.
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.extend(value.split() if split else [value])
        else:
            out.extend(value)
    return out


class _IssuerHolder:
    """The session's DevIssuer, served again at its address when a test stopped it."""

    def __init__(self) -> None:
        self.issuer: DevIssuer | None = None
        self.baseline: dict[str, Any] = {}
        self.port = 0

    def acquire(self) -> DevIssuer:
        from collections import Counter

        from serverless_jwt.dev.issuer import DevIssuer

        issuer = self.issuer
        if issuer is None:
            issuer = self.issuer = DevIssuer().start()  # port 0: xdist workers never collide
            self.baseline = {name: copy.copy(getattr(issuer, name)) for name in _RESETTABLE}
            # Its address from now on, also for a test's own stop() and start() (handlers built at
            # import name it).
            issuer.port = self.port = _port(issuer)
        elif getattr(issuer, "_server", None) is None or _port(issuer) != self.port:
            issuer.stop()  # a test stopped it, or started it elsewhere: serve it at its address again
            self.port = _restart(issuer, self.port)
        for name, value in self.baseline.items():
            setattr(issuer, name, copy.copy(value))
        issuer.oidc.reset()
        issuer.requests = Counter()
        return issuer

    def close(self) -> None:
        if self.issuer is not None:
            self.issuer.stop()
            self.issuer = None


def _port(issuer: DevIssuer) -> int:
    return urlsplit(issuer.issuer).port or 0


def _restart(issuer: DevIssuer, port: int) -> int:
    issuer.port = port
    try:
        issuer.start()
    except OSError:  # the port was taken meanwhile: another address, the same keys
        issuer.port = 0
        issuer.port = _port(issuer.start())
    return issuer.port


_ENTRY_POINT = "serverless_jwt"  # this module's name in pyproject.toml's pytest11 entry points


class _LoadedAlready:
    """Holds one of this module's two plugin names while it is registered under the other."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}: placeholder; {__name__} is registered under its other plugin name>"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    # pytest knows this module by two names: "serverless_jwt" (the entry point) and its module name
    # (`pytest_plugins = [...]` in a conftest, `-p serverless_jwt.dev.pytest_plugin`). Loaded by one,
    # the other would register it again, which pluggy refuses ("Plugin already registered under a
    # different name"); pytest skips a name that is taken, so a placeholder takes the other one.
    for name in (_ENTRY_POINT, __name__):
        if pluginmanager.get_plugin(name) is None and not pluginmanager.is_blocked(name):
            pluginmanager.register(_LoadedAlready(name), name)


@pytest.fixture(scope="session")
def _serverless_jwt_issuer_holder() -> Iterator[_IssuerHolder]:
    holder = _IssuerHolder()
    yield holder
    holder.close()


def _clear_jwks_caches() -> None:
    module = sys.modules.get("serverless_jwt.jwks")
    if module is not None:  # never imported: nothing cached, and nothing to import for other projects
        module.clear_shared_cache()


@pytest.fixture
def _serverless_jwt_isolation() -> Iterator[None]:
    # The issuer's URL outlives a test; cached keys of one test must not decide the next one.
    _clear_jwks_caches()
    yield
    _clear_jwks_caches()


@pytest.fixture
def jwt_issuer(_serverless_jwt_issuer_holder: _IssuerHolder, _serverless_jwt_isolation: None) -> DevIssuer:
    """A running loopback OIDC issuer (discovery + JWKS, RSA and EC keys), reset for this test."""
    return _serverless_jwt_issuer_holder.acquire()


def _jwt_variables() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("JWT_")}


@pytest.fixture
def jwt_env(jwt_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> Iterator[DevIssuer]:
    """``jwt_issuer`` with ``JWT_ISSUER``, ``JWT_AUDIENCE`` and ``JWT_ALGORITHMS`` pointing at it."""
    before = _jwt_variables()
    # Any JWT_* of the developer's shell (a secret, a public key, a leeway) would change what is tested.
    for name in before:
        monkeypatch.delenv(name)
    monkeypatch.setenv("JWT_ISSUER", jwt_issuer.issuer)
    monkeypatch.setenv("JWT_AUDIENCE", jwt_issuer.audience)
    monkeypatch.setenv("JWT_ALGORITHMS", _ISSUER_ALGORITHMS)
    yield jwt_issuer
    # A JWT_* the test set through os.environ itself (monkeypatch undoes only its own) ends here too.
    for name in _jwt_variables().keys() - before.keys():
        del os.environ[name]
    os.environ.update(before)


@pytest.fixture
def jwt_tokens(jwt_issuer: DevIssuer) -> Tokens:
    """Good and classic bad tokens from ``jwt_issuer`` (see :class:`Tokens`)."""
    return Tokens(jwt_issuer)


@pytest.fixture
def jwt_mint_token(jwt_issuer: DevIssuer) -> Callable[..., str]:
    """``jwt_issuer.mint``: ``jwt_mint_token(sub="alice", scopes=["read"], lifetime_seconds=60)``."""
    return jwt_issuer.mint


@pytest.fixture
def jwt_sign_in(jwt_issuer: DevIssuer) -> Callable[..., dict[str, Any]]:
    """Sign in at ``jwt_issuer``'s login page as a browser would; returns the token response."""
    from functools import partial

    from serverless_jwt.dev.oidc_client import sign_in

    return partial(sign_in, jwt_issuer.issuer)


@pytest.fixture
def jwt_lambda_event(_serverless_jwt_isolation: None) -> Callable[..., dict[str, Any]]:
    """The event builder :func:`serverless_jwt.dev.events.http_event`."""
    from serverless_jwt.dev.events import http_event

    return http_event


@pytest.fixture
def jwt_lambda_context(_serverless_jwt_isolation: None) -> LambdaContext:
    """A fresh Lambda context stand-in named ``test-function`` (``identity_context`` starts as None)."""
    from serverless_jwt.dev.runtime import LambdaContext

    context = LambdaContext("test-function")
    context.identity_context = None  # type: ignore[attr-defined]
    return context
