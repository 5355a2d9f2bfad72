"""Several issuers behind one ``verify(token)``: an allow-list selected by the token's ``iss``.

The token is parsed once; its ``iss`` (a string, compared exactly) picks the issuer's own
:class:`~serverless_jwt.verifier.Verifier` before any key is looked up, so an unknown or missing
issuer costs no network call. Each issuer keeps its own audience, algorithms, keys and rules: a key
of one issuer can never verify a token that claims another, because only the claimed issuer's key
source is ever asked.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from serverless_jwt import authz
from serverless_jwt import token as _token
from serverless_jwt.errors import ConfigurationError, InvalidClaimError, MalformedTokenError
from serverless_jwt.verifier import _STRICT_PARSERS, Verifier

__all__ = ["MultiIssuerVerifier"]


class _HasVerifier(Protocol):
    """A provider preset (``serverless_jwt.presets.Preset``): what it verifies with."""

    @property
    def verifier(self) -> Verifier: ...


class MultiIssuerVerifier:
    """Verify tokens from an allow-list of issuers, each with its own :class:`Verifier`.

    Parameters
    ----------
    verifiers:
        ``{issuer: Verifier}``, or an iterable of verifiers each configured with an ``issuer`` (or
        provider presets, whose verifiers are used; :meth:`require_auth` / :meth:`auth_options` then
        read each preset's tokens with its own roles claim and claims mapper). A verifier configured
        with an issuer must be listed under exactly that issuer; a shared-secret verifier without one
        may be listed under the ``iss`` its tokens carry.
    max_token_bytes:
        Size cap checked before the token is decoded (each issuer's own cap is checked too).
    verified_cache_size:
        Already-verified tokens remembered across all issuers together (default 4096; 0 keeps none).
        Each issuer's verifier still has its own ``verified_cache_size`` as a per-issuer cap, but
        with many issuers the total is what bounds memory: the oldest entry, whichever issuer holds
        it, is dropped first.

    Raises
    ------
    ConfigurationError
        No issuer, an issuer listed twice, or a verifier listed under another issuer than its own.

    Examples
    --------
    >>> from serverless_jwt.verifier import Verifier
    >>> verifier = MultiIssuerVerifier([
    ...     Verifier(issuer="https://tenant-a.eu.auth0.com/", audience="https://api.example.com"),
    ...     Verifier(issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC",
    ...              audience="client-id"),
    ... ])
    >>> sorted(verifier.issuers)[0]
    'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC'
    >>> claims = verifier.verify(token)  # doctest: +SKIP
    """

    def __init__(
        self,
        verifiers: Mapping[str, Verifier] | Iterable[Verifier | _HasVerifier],
        *,
        max_token_bytes: int = 16384,
        verified_cache_size: int = 4096,
    ) -> None:
        pairs: list[tuple[str, Verifier]] = []
        # issuer -> a listed preset's require_auth options (its roles claim, claims mapper, cookie)
        self._options: dict[str, dict[str, Any]] = {}
        if isinstance(verifiers, Mapping):
            pairs = list(verifiers.items())
        elif not isinstance(verifiers, Iterable):  # None, a number: not a TypeError from the loop below
            raise ConfigurationError(
                "List Verifier objects configured with an issuer, or pass {issuer: Verifier}")
        else:
            for item in verifiers:
                # A provider preset brings its Verifier, and its rules for auth_options().
                verifier = item if isinstance(item, Verifier) else getattr(item, "verifier", item)
                if not isinstance(verifier, Verifier) or verifier.issuer is None:
                    raise ConfigurationError(
                        "List Verifier objects configured with an issuer, or pass {issuer: Verifier}")
                pairs.append((verifier.issuer, verifier))
                options = getattr(item, "auth_options", None)
                if item is not verifier and callable(options):
                    self._options[verifier.issuer] = dict(options())
        if not pairs:
            raise ConfigurationError("MultiIssuerVerifier needs at least one issuer")
        by_issuer: dict[str, Verifier] = {}
        for issuer, verifier in pairs:
            if not isinstance(issuer, str) or not issuer or not isinstance(verifier, Verifier):
                raise ConfigurationError("Map each issuer string to a Verifier")
            if verifier.issuer is not None and verifier.issuer != issuer:
                # The routing key and the verifier's own iss check must agree, or the entry is a typo.
                raise ConfigurationError("A verifier is listed under another issuer than its own")
            if issuer in by_issuer:
                raise ConfigurationError("An issuer is listed twice")
            by_issuer[issuer] = verifier
        if type(max_token_bytes) is not int or max_token_bytes <= 0:
            raise ConfigurationError("max_token_bytes must be a positive int")
        if isinstance(verified_cache_size, bool) or not isinstance(verified_cache_size, int) or (
                verified_cache_size < 0):
            raise ConfigurationError("verified_cache_size must be a whole number >= 0")
        self._by_issuer = by_issuer
        self._max_token_bytes = max_token_bytes
        self._budget = verified_cache_size
        # (verifier, token) in the order they were remembered: one FIFO over every issuer's cache.
        self._remembered: deque[tuple[Verifier, str]] = deque()
        self._budget_lock = threading.Lock()

    @classmethod
    def from_configs(cls, configs: Iterable[Mapping[str, Any]], **common: Any) -> MultiIssuerVerifier:
        """Build one :class:`Verifier` per configuration mapping (``Verifier`` keyword arguments).

        ``common`` keyword arguments apply to every issuer; a configuration's own values win.

        Examples
        --------
        >>> v = MultiIssuerVerifier.from_configs(
        ...     [{"issuer": "https://a.example.com/", "audience": "api"},
        ...      {"issuer": "https://b.example.com/", "audience": "api", "algorithms": ["ES256"]}],
        ...     leeway_seconds=30)
        >>> len(v.issuers)
        2
        """
        verifiers = []
        for config in configs:
            if not isinstance(config.get("issuer"), str):
                raise ConfigurationError("Each issuer configuration needs an 'issuer'")
            verifiers.append(Verifier(**{**common, **config}))
        return cls(verifiers)

    def auth_options(self) -> dict[str, Any]:
        """``require_auth`` options (also the framework glue's) that give each listed preset's tokens
        that preset's own rules, chosen by ``iss``: its roles claim (``roles_claim={iss: claim}``) and
        its claims mapper (Auth0's namespace stripping, say); its cookie when the presets agree on one.

        Examples
        --------
        >>> from serverless_jwt import presets
        >>> verifier = MultiIssuerVerifier([
        ...     presets.cognito(region="eu-west-1", user_pool_id="eu-west-1_AbC", client_ids=["app"]),
        ...     presets.auth0("tenant.eu.auth0.com", "https://api.example.com",
        ...                   namespace="https://example.com/")])
        >>> sorted(verifier.auth_options())
        ['claims_mapper', 'roles_claim']
        """
        options: dict[str, Any] = {}
        if self._options:
            options["roles_claim"] = {iss: o.get("roles_claim", authz.DEFAULT_ROLES_PATH)
                                      for iss, o in self._options.items()}
        mappers = {iss: o["claims_mapper"] for iss, o in self._options.items() if o.get("claims_mapper")}
        if mappers:
            options["claims_mapper"] = _mapper_by_issuer(mappers)
        cookies = {o.get("cookie_name") for o in self._options.values()} - {None}
        if len(cookies) == 1:
            options["cookie_name"] = cookies.pop()
        return options

    def require_auth(self, **overrides: Any) -> Any:
        """``require_auth(self, **self.auth_options(), **overrides)``, as a preset's ``require_auth``."""
        from serverless_jwt.adapters.decorators import require_auth  # adapters load only when used

        return require_auth(self, **{**self.auth_options(), **overrides})

    @property
    def issuers(self) -> frozenset[str]:
        """The accepted issuers."""
        return frozenset(self._by_issuer)

    def verifier_for(self, issuer: str) -> Verifier | None:
        """The verifier configured for ``issuer`` (exact match), or ``None``."""
        return self._by_issuer.get(issuer)

    def prefetch(self) -> bool:
        """Load every issuer's keys now; returns whether all of them loaded (never raises).

        The issuers load side by side: issuers that hang cost one deadline together, not one each
        (a Lambda cold start has 10 s for its whole init).
        """
        verifiers = list(self._by_issuer.values())
        results = [False] * len(verifiers)

        def load(index: int) -> None:
            results[index] = verifiers[index].prefetch()

        threads, in_turn = [], []
        for index in range(1, len(verifiers)):
            thread = threading.Thread(target=load, args=(index,), name="serverless-jwt-prefetch", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                # Out of threads ("can't start new thread": a pids limit): that issuer loads here, after
                # the first, in turn. Slower, but prefetch() still answers rather than raising.
                in_turn.append(index)
            else:
                threads.append(thread)
        for index in [0, *in_turn] if verifiers else []:
            load(index)
        for thread in threads:
            thread.join()  # each within its verifier's own deadline
        return all(results)

    def __repr__(self) -> str:
        return f"MultiIssuerVerifier(issuers={sorted(self._by_issuer)!r})"

    def verify(self, token: str) -> dict[str, Any]:
        """Verify ``token`` with the verifier of the issuer it claims.

        Raises
        ------
        MalformedTokenError
            Not a strict compact JWS.
        InvalidClaimError
            ``claim="iss"``: missing, not a string, or not on the allow-list (no key is fetched).
        InvalidTokenError, KeysUnavailableError
            Whatever that issuer's :meth:`Verifier.verify` raises.
        """
        parsed = _token.parse(token, max_bytes=self._max_token_bytes)
        iss = parsed.claims.get("iss")
        if not isinstance(iss, str):
            # As the verifier's own check: only an absent iss is "missing"; "iss": null is "invalid".
            raise InvalidClaimError("iss", "invalid" if "iss" in parsed.claims else "missing")
        # Exact dictionary lookup: no case folding, no trailing-slash or prefix tolerance.
        verifier = self._by_issuer.get(iss)
        if verifier is None:
            raise InvalidClaimError("iss", "invalid")
        if len(token) > verifier._max_token_bytes:
            raise MalformedTokenError("The access token is too large")
        now = verifier._clock()
        # as Verifier.verify: one fetch per call, a hit's refresh included (since)
        cached, since = verifier._cached(token, now) if verifier._cache_size else (None, None)
        if cached is not None:
            return cached
        signing_input = parsed.signing_input
        claims = verifier._verify_decoded(token, signing_input[:signing_input.index(b".")], parsed.claims,
                                          signing_input, parsed.signature, now, since)
        if verifier._cache_size:
            self._count(verifier, token)
        return claims

    def _check_unverified(self, token: str) -> None:
        """As :meth:`Verifier._check_unverified`, by the verifier of the token's issuer."""
        claims = _token.parse(token, max_bytes=self._max_token_bytes).claims
        iss = claims.get("iss")
        verifier = self._by_issuer.get(iss) if isinstance(iss, str) else None
        if verifier is None:
            raise InvalidClaimError("iss", "invalid" if "iss" in claims else "missing")
        verifier._check_unverified(token)

    def _count(self, verifier: Verifier, token: str) -> None:
        """Charge a newly remembered token to the global budget, dropping the oldest beyond it."""
        cache = getattr(verifier, "_cache", None)
        if not isinstance(cache, dict) or token not in cache:
            return  # a custom check refused it, or the verifier keeps no cache
        with self._budget_lock:
            remembered = self._remembered
            remembered.append((verifier, token))
            while len(remembered) > self._budget:
                owner, oldest = remembered.popleft()
                owner._cache.pop(oldest, None)  # one dict operation: atomic, no lock of the owner's needed


_STRICT_PARSERS[MultiIssuerVerifier] = MultiIssuerVerifier.verify


def _mapper_by_issuer(mappers: Mapping[str, authz.ClaimsMapper]) -> authz.ClaimsMapper:
    def by_issuer(claims: Mapping[str, Any]) -> Mapping[str, Any]:
        issuer = claims.get("iss")
        mapper = mappers.get(issuer) if type(issuer) is str else None
        return claims if mapper is None else mapper(claims)

    return by_issuer
