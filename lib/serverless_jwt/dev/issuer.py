"""A loopback OIDC issuer for tests, the CLI and the demo: discovery, JWKS, token minting, faults.

Real HTTP on 127.0.0.1 (a ``ThreadingHTTPServer`` in a daemon thread). Never use it in production:
its private keys live in memory or in a local key folder, and it signs whatever it is asked to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from jwt.algorithms import get_default_algorithms

from serverless_jwt.dev import _dev_keys
from serverless_jwt.dev._issuer_http import DISCOVERY_PATH, JWKS_PATH, _Handler, _Server
from serverless_jwt.dev._private_dir import make_private_dir
from serverless_jwt.dev._serve import serve_in_thread, shut_down
from serverless_jwt.dev.oidc_provider import OidcProvider

__all__ = ["DISCOVERY_PATH", "FAULTS", "JWKS_PATH", "DevIssuer"]

FAULTS = frozenset(
    {"429", "500", "503", "slow", "drip", "huge", "huge_undeclared", "redirect", "not_json", "json_bomb",
     "wrong_shape", "wrong_issuer", "reset"}
)
_ALGORITHMS = get_default_algorithms()
_UNSET: Any = object()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DevIssuer:
    """A loopback OpenID Connect issuer: discovery, JWKS, a sign-in flow (``oidc``), token minting.

    Parameters
    ----------
    host, port:
        Where to listen; ``port=0`` picks a free port. Loopback only.
    key_dir:
        Folder holding ``rs256.pem`` and ``es256.pem`` (created with 0600 permissions when missing),
        so tokens stay valid across restarts (the CLI uses this). ``None``: fresh keys in memory.
    audience:
        Default ``aud`` of minted tokens.

    ``oidc`` (an :class:`~serverless_jwt.dev.oidc_provider.OidcProvider`) serves the login page,
    token, userinfo and logout endpoints; its settings (redirect URIs, CORS origins, offered scopes)
    are attributes. Faults are switched at runtime with ``fault`` (one of :data:`FAULTS` or ``None``)
    and apply to the paths in ``fault_paths`` (both well-known paths by default). ``requests``
    counts requests per path.

    Examples
    --------
    >>> with DevIssuer() as issuer:                                   # doctest: +SKIP
    ...     token = issuer.mint(sub="alice", scopes=["read"])
    ...     issuer.fault = "503"                                      # the JWKS endpoint now fails
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        key_dir: str | os.PathLike[str] | None = None,
        audience: str = "serverless-jwt-dev",
    ) -> None:
        from serverless_jwt._config import is_loopback
        from serverless_jwt.errors import ConfigurationError

        if not is_loopback(host):
            # It signs whatever token anyone asks for, and its login page takes no password.
            raise ConfigurationError(f"The dev issuer listens on loopback only, not on {host!r}")
        self.host = host
        self.port = port
        self.key_dir = Path(key_dir) if key_dir is not None else None
        self.audience = audience
        self.fault: str | None = None
        self.fault_paths: set[str] = {DISCOVERY_PATH, JWKS_PATH}
        self.slow_seconds = 1.0
        self.retry_after: str | None = "120"  # fault "429"'s Retry-After (seconds, an HTTP date, None: none)
        self.drip_interval_seconds = 0.2
        self.huge_bytes = 2 * 1024 * 1024 + 17
        self.extra_jwks_keys: list[dict[str, Any]] = []
        self.discovery_overrides: dict[str, Any] = {}  # e.g. {"issuer": ...}, {"jwks_uri": ...}
        self.requests: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._keys: dict[str, tuple[str, Any]] = {}  # kid -> (alg, private key), in publish order
        self._current: dict[str, str] = {}  # alg -> kid used by default
        self._foreign: dict[str, Any] = {}  # alg -> a key the JWKS never publishes
        self._load_keys()
        self.oidc = OidcProvider(self, service_client_secret=self._derived_secret())

    # -- lifecycle -----------------------------------------------------------------------------

    def _load_keys(self) -> None:
        for alg in ("RS256", "ES256"):
            if self.key_dir is not None:
                make_private_dir(self.key_dir)
                key = _dev_keys.load_or_create(self.key_dir / f"{alg.lower()}.pem", alg)
            else:
                key = _dev_keys.generate(alg)
            self._add(key, alg)

    def _derived_secret(self) -> str:
        # Stable while the key folder is: `serverless-jwt issuer` prints the same secret after a restart.
        der = self.private_key(alg="RS256").private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return _b64(hashlib.sha256(b"serverless-jwt dev client secret\0" + der).digest())[:32]

    def _add(self, key: Any, alg: str) -> str:
        kid = _dev_keys.kid_for(key, alg)
        self._keys[kid] = (alg, key)
        self._current[alg] = kid
        return kid

    def start(self) -> DevIssuer:
        """Start serving in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self._server = server
        self._thread = serve_in_thread(server, "DevIssuer")
        return self

    def stop(self) -> None:
        """Stop serving; requests in progress (drips, slow answers) are cut short."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        shut_down(server, self._thread)
        self._thread = None

    def __enter__(self) -> DevIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The issuer identifier, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._server is not None:
            port = self._server.server_address[1]
        elif self.port:
            port = self.port  # a fixed port is known before start (the CLI mints offline)
        else:
            raise RuntimeError("DevIssuer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    @property
    def jwks_uri(self) -> str:
        return self.issuer + JWKS_PATH

    @property
    def discovery_uri(self) -> str:
        return self.issuer + DISCOVERY_PATH

    # -- keys ----------------------------------------------------------------------------------

    def kid(self, alg: str = "RS256") -> str:
        """The kid currently used to sign tokens with ``alg`` (RSA key for RS*/PS*)."""
        kid = self._current.get(self._family(alg))
        if kid is None:
            raise ValueError(f"The dev issuer holds RS256 and ES256 keys, no {alg} key: "
                             f"rotate(alg={alg!r}) publishes one")
        return kid

    def _family(self, alg: str) -> str:
        if alg.startswith(("RS", "PS")) and alg not in self._current:
            return "RS256"
        return alg

    def rotate(self, *, alg: str = "RS256", keep_old: bool = False) -> str:
        """Publish a new key for ``alg`` under a new kid and sign with it from now on.

        ``keep_old=False`` drops the previous key from the JWKS; ``True`` keeps publishing it.
        Also adds a key for an algorithm not yet held (e.g. ``"EdDSA"``, ``"ES384"``). Returns the kid.
        """
        old = self._current.get(alg)
        kid = self._add(_dev_keys.generate(alg), alg)
        if old is not None and not keep_old:
            del self._keys[old]
        return kid

    def private_key(self, kid: str | None = None, *, alg: str = "RS256") -> Any:
        return self._keys[kid or self.kid(alg)][1]

    def public_pem(self, kid: str | None = None, *, alg: str = "RS256") -> bytes:
        """The PEM (SubjectPublicKeyInfo) of a published key."""
        return bytes(self.private_key(kid, alg=alg).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ))

    def jwks(self) -> dict[str, Any]:
        """The JWKS document as served (public members only, plus ``extra_jwks_keys``)."""
        keys = [_dev_keys.public_jwk(key, alg, kid) for kid, (alg, key) in self._keys.items()]
        return {"keys": keys + [dict(k) for k in self.extra_jwks_keys]}

    def discovery(self) -> dict[str, Any]:
        iss = self.issuer
        doc = {
            "issuer": iss,
            "jwks_uri": iss + JWKS_PATH,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({alg for alg, _ in self._keys.values()}),
        }
        doc.update(self.oidc.discovery())
        doc.update(self.discovery_overrides)
        return doc

    # -- minting -------------------------------------------------------------------------------

    def mint(
        self,
        *,
        sub: str | None = "dev-user",
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
        roles_claim: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = _UNSET,
        issuer: str | None = _UNSET,
        lifetime_seconds: float = 3600,
        alg: str = "RS256",
        kid: str | None = _UNSET,
        secret: str | bytes | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """Sign a token with the issuer's current key for ``alg``.

        Parameters
        ----------
        scopes:
            Written space-delimited to ``scope`` (omitted when empty); a string is taken as that
            space-delimited list (``"read write"``).
        roles:
            One role (a string) or several, written to ``app_metadata.authorization.roles`` (Netlify
            style) and, when ``roles_claim`` is given, also there: a top-level claim name, or a
            sequence of names for a nested path.
        audience, issuer, kid:
            Defaults: the issuer's audience, its issuer URL, the current kid; ``None`` omits them.
        secret:
            For ``HS*`` algorithms only: the shared secret to sign with.
        claims, headers:
            Extra or overriding members; a value of ``None`` deletes the member.
        now:
            Epoch seconds used for ``iat``/``nbf``/``exp`` (default: the current time).

        Examples
        --------
        >>> issuer.mint(sub="alice", scopes=["orders:read"], roles=["admin"])  # doctest: +SKIP
        """
        issued = int(time.time() if now is None else now)
        payload: dict[str, Any] = {
            "iss": self.issuer if issuer is _UNSET else issuer,
            "sub": sub,
            "aud": self.audience if audience is _UNSET else (
                list(audience) if audience is not None and not isinstance(audience, str) else audience
            ),
            "iat": issued,
            "nbf": issued,
            "exp": int(issued + lifetime_seconds),
            "jti": secrets.token_urlsafe(12),
        }
        # A string is one value, never its characters (scopes="read" once signed "r e a d").
        scope_list = scopes.split() if isinstance(scopes, str) else list(scopes)
        if scope_list:
            payload["scope"] = " ".join(scope_list)
        role_list = [roles] if isinstance(roles, str) else list(roles)
        if role_list:
            payload["app_metadata"] = {"authorization": {"roles": role_list}}
            if roles_claim is not None:
                path = [roles_claim] if isinstance(roles_claim, str) else list(roles_claim)
                node = payload
                for name in path[:-1]:
                    node = node.setdefault(name, {})
                node[path[-1]] = list(role_list)
        header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        if alg.startswith("HS"):
            if secret is None:
                raise ValueError("HS algorithms need secret=")
            sign_key: Any = secret.encode() if isinstance(secret, str) else secret
            if kid is not _UNSET and kid is not None:
                header["kid"] = kid
        elif alg == "none":
            sign_key = None
        else:
            header["kid"] = self.kid(alg) if kid is _UNSET else kid
            sign_key = self._keys[self.kid(alg)][1]
        return self._sign(header, payload, alg, sign_key, claims, headers)

    def mint_with_foreign_key(self, *, alg: str = "RS256", **kwargs: Any) -> str:
        """Like :meth:`mint`, with the current kid but signed by a key the JWKS never publishes."""
        if alg not in self._foreign:
            self._foreign[alg] = _dev_keys.generate(alg)
        header = {"alg": alg, "typ": "JWT", "kid": kwargs.pop("kid", self.kid(alg))}
        claims_extra = kwargs.pop("claims", None)
        headers_extra = kwargs.pop("headers", None)
        # Reuse mint() for the payload, then re-sign its parts with the foreign key.
        unsigned = self.mint(alg=alg, **kwargs).split(".")
        payload = json.loads(base64.urlsafe_b64decode(unsigned[1] + "=" * (-len(unsigned[1]) % 4)))
        return self._sign(header, payload, alg, self._foreign[alg], claims_extra, headers_extra)

    @staticmethod
    def _sign(
        header: dict[str, Any],
        payload: dict[str, Any],
        alg: str,
        key: Any,
        claims: Mapping[str, Any] | None,
        headers: Mapping[str, Any] | None,
    ) -> str:
        for target, extra in ((payload, claims), (header, headers)):
            for name, value in (extra or {}).items():
                if value is None:
                    target.pop(name, None)
                else:
                    target[name] = value
        for name in [n for n, v in payload.items() if v is None]:
            del payload[name]
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(payload, separators=(",", ":")).encode())
        )
        signature = b"" if alg == "none" else _ALGORITHMS[alg].sign(signing_input.encode(), key)
        return signing_input + "." + _b64(signature)
