"""Verifier: configured once per issuer, then ``verify(token) -> claims`` per request.

The request path is: parse (strict compact JWS) -> header rules (alg allow-list, typ) -> issuer
pre-check (no key work for a token that claims another issuer) -> key -> signature -> claims ->
custom checks. Every failure is one :class:`~serverless_jwt.errors.AuthError`. Methods of its base classes:
a verified-token cache hit, and the refusal from unverified claims when no key can be had, in
``_cache_hits.py``; the per-header plans (header rules, key lookup, signature checks) in ``_plans.py``.
Construction's checks are ``_verifier_setup.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from serverless_jwt import _custom_checks as _custom
from serverless_jwt import _plans
from serverless_jwt import _verifier_setup as _setup
from serverless_jwt import claims as _claims
from serverless_jwt import token as _token
from serverless_jwt._cache import VerifiedTokens
from serverless_jwt._cache_hits import CacheHits
from serverless_jwt._custom_checks import ClaimCheck, TokenCheck
from serverless_jwt._env import env_error
from serverless_jwt._plans import KeyPlans, Plan
from serverless_jwt.errors import (
    AuthError,
    ConfigurationError,
    InvalidClaimError,
    InvalidSignatureError,
    KeysUnavailableError,
)

__all__ = ["ClaimCheck", "TokenCheck", "Verifier"]


class Verifier(CacheHits, KeyPlans):
    """Verifies bearer JWTs for one issuer (or one shared-secret provider).

    Configure it once (at import time in a Lambda function, so its key cache serves every warm
    invocation) and call :meth:`verify` per request. All settings are checked here; nothing passed
    at verification time can weaken them.

    Parameters
    ----------
    issuer:
        Exact ``iss`` value to accept (no case, slash or prefix tolerance). With no other key source,
        keys are found by OIDC discovery at ``{issuer}/.well-known/openid-configuration``. Must be
        ``https://`` unless the host is loopback. Optional only for shared-secret providers.
    audience:
        Accepted ``aud`` value or values. Required for public-key sources unless
        ``require_audience=False``; an empty list is always a configuration error. With no audience
        configured, a token that carries ``aud`` is refused (RFC 7519 §4.1.3: a recipient not named
        there must reject it), unless ``accept_any_audience=True`` (the explicit opt-out; not beside an
        audience). Supabase
        tokens carry ``aud`` ``"authenticated"``; Netlify Identity tokens carry none.
    algorithms:
        Allow-list of JWS algorithms. Defaults to every RS, PS and ES algorithm except ``ES256K`` (opt
        in), plus ``EdDSA`` and RFC 9864's ``Ed25519`` / ``Ed448`` (each token must still fit its key:
        kty, curve and the JWK's own ``alg``), or ``("HS256",)`` with ``secrets``.
        HMAC and public-key algorithms never mix.
    jwks_uri, jwks, public_key, secrets:
        Key source, at most one: a JWKS URL (skips discovery), a static JWKS mapping, a PEM public key,
        or shared secret(s) for HS256/384/512 (several at once during rotation; each at least as long
        as the hash output, RFC 7518 §3.2: 32, 48 or 64 bytes, unless ``allow_short_secret=True``,
        which admits weak legacy secrets).
    secret_from, secret_max_age_seconds, secret_previous:
        Instead of ``secrets``: an AWS Secrets Manager ARN or ``ssm:<parameter name>`` holding the
        secret (one per line during rotation), fetched on first use through Powertools Parameters
        and cached for ``secret_max_age_seconds`` (default 300, at most a day). boto3 is imported only
        then.
        ``secret_previous=True`` also accepts the Secrets Manager secret's ``AWSPREVIOUS`` version.
    leeway_seconds:
        Clock-skew tolerance for ``exp``, ``nbf``, ``iat`` and max age. Default 60, at most 300: RFC
        7519 §4.1.4's leeway is "usually no more than a few minutes", and more turns ``exp`` off.
    required_claims:
        Claims that must be present in addition to ``exp`` (always required).
    max_age_seconds, max_age_claim:
        Reject tokens whose ``iat`` (or ``auth_time``, for "sign in again after N minutes") is older.
    claim_checks:
        Extra checks ``check(claims) -> bool``; False or any exception rejects the token.
    token_checks:
        Checks that also see the protected header and the key that verified the signature:
        ``check(header, claims, key) -> bool`` (``key`` a :class:`~serverless_jwt.keys.VerificationKey`:
        ``kid``, ``kty``, ``algorithms``). False or any exception rejects the token. They run on every
        request, so with them the verified-token cache is off.
    accepted_types, require_access_token_type:
        Accepted ``typ`` header values (default: absent, ``JWT``, ``at+jwt``); or require ``at+jwt``
        (RFC 9068).
    allow_sender_constrained:
        Accept tokens bound to a key (a ``cnf`` claim: DPoP, RFC 9449, or mTLS, RFC 8705) as plain
        bearer tokens. Off by default: this verifier cannot check the binding, so accepting them would
        let a stolen bound token work as a bearer token.
    max_token_bytes:
        Size cap checked before decoding. Default 16 KiB.
    timeout_seconds, jwks_max_age_seconds, max_stale_seconds, unknown_kid_cooldown_seconds:
        Remote key fetching: total deadline per fetch (3 s; with ``secret_from``, how long a request
        waits for a read of the store, which may go on for the next one); refresh after 10 minutes;
        keep serving cached keys for up to 24 hours while the issuer is down (``max_stale_seconds``;
        for a ``secret_from`` secret, the last one read, 1 hour by default); at most one refetch per
        30 s for unknown ``kid`` values. Each is bounded, as past it a protection is off (keys never
        refreshed, a rotated key never found): a day, a day, a week and an hour.
    verified_cache_size:
        How many already-verified tokens to remember (keyed by the whole token; ``exp``/``nbf`` and
        the other claim rules are re-checked on every hit; emptied when keys change). 0 disables it.
    prefetch:
        Load remote keys now (during a Lambda cold start). A failure here is not raised: the next
        request tries again. Several verifiers: ``MultiIssuerVerifier.prefetch()`` loads them side by
        side (one deadline for all, not one each).
    clock:
        Wall-clock seconds for claim checks; injectable for tests.

    Raises
    ------
    ConfigurationError
        For any unsafe or contradictory setting.

    Examples
    --------
    >>> v = Verifier(issuer="https://example.auth0.com/", audience="https://api.example.com")
    >>> claims = v.verify(token)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        algorithms: Sequence[str] | None = None,
        jwks_uri: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        public_key: str | bytes | None = None,
        secrets: str | bytes | Sequence[str | bytes] | None = None,
        secret_from: str | None = None,
        secret_max_age_seconds: float = 300,
        secret_previous: bool = False,
        allow_short_secret: bool = False,
        require_audience: bool = True,
        accept_any_audience: bool = False,
        leeway_seconds: float = 60,
        required_claims: Collection[str] = (),
        max_age_seconds: float | None = None,
        max_age_claim: str = "iat",
        claim_checks: Sequence[ClaimCheck] = (),
        token_checks: Sequence[TokenCheck] = (),
        accepted_types: Collection[str] | None = None,
        require_access_token_type: bool = False,
        allow_sender_constrained: bool = False,
        max_token_bytes: int = 16384,
        timeout_seconds: float = 3.0,
        jwks_max_age_seconds: float = 600,
        max_stale_seconds: float | None = None,
        unknown_kid_cooldown_seconds: float = 30,
        verified_cache_size: int = 1024,
        prefetch: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _setup.check_flags(allow_short_secret=allow_short_secret, require_audience=require_audience,
                           accept_any_audience=accept_any_audience,
                           allow_sender_constrained=allow_sender_constrained,
                           require_access_token_type=require_access_token_type, prefetch=prefetch,
                           secret_previous=secret_previous)
        algs = _setup.check_source(algorithms, issuer=issuer, jwks_uri=jwks_uri, jwks=jwks,
                                   public_key=public_key, secrets=secrets, secret_from=secret_from)
        shared = secrets is not None or secret_from is not None
        audiences = _setup.audiences(audience, required=require_audience and not shared)
        _setup.check_sizes(leeway_seconds=leeway_seconds, max_token_bytes=max_token_bytes,
                           verified_cache_size=verified_cache_size,
                           secret_max_age_seconds=secret_max_age_seconds, max_stale_seconds=max_stale_seconds)
        self._issuer = issuer
        self._algorithms = algs
        self._policy = _setup.claims_policy(
            issuer=issuer, audiences=audiences,
            leeway_seconds=leeway_seconds, required_claims=required_claims, max_age_seconds=max_age_seconds,
            max_age_claim=max_age_claim, accepted_types=accepted_types,
            require_access_token_type=require_access_token_type,
            allow_sender_constrained=allow_sender_constrained, accept_any_audience=accept_any_audience)
        self._checks, self._token_checks = _setup.custom_checks(claim_checks, token_checks, clock)
        self._max_token_bytes = max_token_bytes
        self._clock = clock
        self._keys = _setup.key_source(
            algs, issuer=issuer, jwks_uri=jwks_uri, jwks=jwks, public_key=public_key, secrets=secrets,
            secret_from=secret_from, secret_max_age_seconds=secret_max_age_seconds,
            secret_previous=secret_previous, allow_short_secret=allow_short_secret,
            timeout_seconds=timeout_seconds,
            jwks_max_age_seconds=jwks_max_age_seconds, max_stale_seconds=max_stale_seconds,
            unknown_kid_cooldown_seconds=unknown_kid_cooldown_seconds,
        )
        # A cache hit skips the key lookup that token checks need: with them, every token is verified.
        self._cache_size = 0 if self._token_checks else verified_cache_size
        # token -> the key generation it verified under: see _cache.py
        self._cache = VerifiedTokens(self._cache_size)
        # header segment -> (key generation, signature checks): see _plan
        self._plans: dict[bytes, Plan] = {}
        if prefetch:
            self.prefetch()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Verifier:
        """Build a verifier from ``JWT_*`` environment variables, as Lambda functions are configured.

        See ``serverless_jwt._env.ENV_VARIABLES`` (and the README) for every variable.
        Keyword ``overrides`` take precedence over the environment. With a Cognito user pool's
        ``JWT_ISSUER``, ``JWT_AUDIENCE`` names app clients, matched as API Gateway's JWT authorizer
        matches them: an ID token's ``aud``, else an access token's ``client_id``.

        Raises
        ------
        ConfigurationError
            When a variable is malformed or the combination is unsafe.

        Examples
        --------
        >>> import os
        >>> v = Verifier.from_env({"JWT_SECRET": "x" * 32})
        """
        from serverless_jwt._preset import cognito_env_settings  # Cognito: aud, else client_id

        kwargs = cognito_env_settings(_setup.env_settings(environ, overrides))
        try:
            return cls(**kwargs)
        except ConfigurationError as err:
            raise env_error(err, overrides) from None

    @property
    def issuer(self) -> str | None:
        """The configured issuer, if any."""
        return self._issuer

    @property
    def algorithms(self) -> frozenset[str]:
        """The algorithm allow-list."""
        return self._algorithms

    def prefetch(self) -> bool:
        """Load the signing keys now; returns whether it worked (never raises for an outage)."""
        try:
            self._keys.prefetch()
        except AuthError:
            return False
        return True

    def __repr__(self) -> str:
        # Never show secrets or keys: only what identifies the configuration (a preset's aud rule, which
        # runs among its claim checks, included).
        audiences = self._policy.audiences or _custom.rule_audiences(self._checks)
        return (
            f"Verifier(issuer={self._issuer!r}, audience={sorted(audiences)!r}, "
            f"algorithms={sorted(self._algorithms)!r}, keys={type(self._keys).__name__})"
        )

    def verify(self, token: str) -> dict[str, Any]:
        """Verify ``token`` and return its claims.

        Parameters
        ----------
        token:
            The compact JWS, without the ``Bearer`` scheme.

        Returns
        -------
        dict
            The verified claims (a fresh dict each call: mutate it freely).

        Raises
        ------
        InvalidTokenError
            Malformed, wrongly signed, expired, or failing a claim rule (see ``errors.py``).
        KeysUnavailableError
            No usable signing keys could be had; retry later (HTTP 503).
        """
        now = self._clock()
        since = None
        if self._cache_size:
            hit = self._cache.get(token) if type(token) is str else None
            if hit is not None:
                cached, since = self._from_cache(token, hit, now)
                if cached is not None:
                    return cached
        h64, claims, signing_input, signature = _token.decode(token, max_bytes=self._max_token_bytes)
        return self._verify_decoded(token, h64, claims, signing_input, signature, now, since)

    def _verify_decoded(self, token: str, header_segment: bytes, claims: dict[str, Any],
                        signing_input: bytes, signature: bytes, now: float,
                        since: int | None = None) -> dict[str, Any]:
        # ``since``: the key generation when this call began (None: read here, before any refresh).
        # The multi-issuer front parses once to route by `iss`, then continues here too.
        plan = self._plans.get(header_segment)
        # A known header passed the alg and typ rules when its plan was made; a new one is checked now,
        # before the issuer pre-check, as it always was.
        checked = None if plan is not None else self._check_header(_token.decode_header(header_segment))
        issuer = self._policy.issuer
        if issuer is not None and claims.get("iss") != issuer:
            # Decided before any key work: a token that claims another issuer costs no fetch.
            raise InvalidClaimError("iss", "missing" if "iss" not in claims else "invalid")
        try:
            if plan is not None:
                generation = self._fresh_generation()
                if generation is None:
                    before, generation = _plans.refresh(self._keys)
                    since = before if since is None else since
                if plan[0] != generation:
                    plan = None
            if plan is None:
                # A set that changed during this call lacks no kid a refetch would add: one fetch per call.
                plan = self._plan(header_segment, checked, refetch=since in (None, self._keys.generation))
        except KeysUnavailableError:
            self._refuse_unverified(claims, now)  # a 401 first, if they fail: _check_unverified
            raise
        for check in plan[1]:
            if check(signing_input, signature):
                break
        else:
            raise InvalidSignatureError()
        _claims.check_claims(claims, self._policy, now)
        if self._token_checks:
            # The key whose check just passed (``check`` is still bound to it), from the same plan:
            # never a second look-up that a rotation in between could answer differently.
            _custom.run_token_checks(self._token_checks, header_segment, claims,
                                     plan[2][plan[1].index(check)])
        if self._checks:
            _custom.run_claim_checks(self._checks, claims)
        if self._cache_size:
            # Not the claims: what a custom check or the caller does to its dict never reaches later
            # hits, which decode the payload segment of this same string again.
            self._cache.put(token, plan[0])
        return claims


# Classes whose own verify() refuses a token with any byte outside the JWT alphabet before key work (the
# parser decodes every segment as strict base64url), each with that verify: an adapter may hand such a
# verifier the credentials as sent (adapters/_auth.py). issuers.py adds MultiIssuerVerifier.
_STRICT_PARSERS: dict[type, Callable[..., Any]] = {Verifier: Verifier.verify}
