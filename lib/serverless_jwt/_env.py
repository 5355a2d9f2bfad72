"""The ``JWT_*`` environment variables: ``Verifier.from_env()``'s settings, and errors that name them.

:func:`env_kwargs` reads the variables into verifier arguments; :func:`check_env` refuses what the
verifier would refuse, in the words of the variable (and template parameter) a user actually set.
The option rules themselves live in :mod:`serverless_jwt._config`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from serverless_jwt._config import is_secret_reference, secret_problem, validate_algorithms
from serverless_jwt.errors import ConfigurationError

ENV_VARIABLES: dict[str, str] = {
    "JWT_ISSUER": "Exact issuer (iss). Keys are found by OIDC discovery unless another source is set.",
    "JWT_AUDIENCE": "Accepted audience(s), comma-separated. Required with public-key sources; with "
    "JWT_SECRET, the aud your tokens carry (Supabase: authenticated; Netlify Identity: unset).",
    "JWT_ALGORITHMS": "Allowed algorithms, comma-separated (default: every RS, PS and ES algorithm except "
    "ES256K, plus EdDSA and Ed25519/Ed448, each only with a key it fits; HS256 with JWT_SECRET).",
    "JWT_SECRET": "Shared HS secret (Netlify Identity, GoTrue, Supabase), or an AWS Secrets Manager ARN "
    "/ 'ssm:<parameter name>' to fetch it from (the fetched value may list several secrets, one a line).",
    "JWT_SECRET_PREVIOUS": "A second accepted secret while rotating; with a Secrets Manager ARN in "
    "JWT_SECRET, 'AWSPREVIOUS' accepts that secret's previous version too.",
    "JWT_ALLOW_SHORT_SECRET": "'true' admits secrets shorter than the hash output (32/48/64 bytes for "
    "HS256/384/512; insecure; legacy providers only).",
    "JWT_JWKS_URI": "Explicit JWKS URL (skips discovery).",
    "JWT_PUBLIC_KEY": "A PEM public key instead of a JWKS.",
    "JWT_REQUIRE_AUDIENCE": "'false' lets a public-key source run without JWT_AUDIENCE (tokens that "
    "carry aud are then refused unless JWT_ACCEPT_ANY_AUDIENCE is 'true').",
    "JWT_ACCEPT_ANY_AUDIENCE": "'true' accepts tokens whatever their aud, with no JWT_AUDIENCE set "
    "(opt-out of RFC 7519 section 4.1.3; default: a token carrying aud needs a matching JWT_AUDIENCE).",
    "JWT_LEEWAY_SECONDS": "Clock-skew tolerance (default 60, at most 300).",
    "JWT_REQUIRED_CLAIMS": "Claims that must be present, comma-separated (exp is always required).",
    "JWT_MAX_AGE_SECONDS": "Reject tokens older than this (from JWT_MAX_AGE_CLAIM).",
    "JWT_MAX_AGE_CLAIM": "'iat' (default) or 'auth_time' (re-authenticate after N seconds).",
    "JWT_ACCEPTED_TYPES": "Accepted typ header values, comma-separated (default: absent, JWT, at+jwt).",
    "JWT_REQUIRE_ACCESS_TOKEN_TYPE": "'true' requires typ at+jwt (RFC 9068 access tokens).",
    "JWT_ALLOW_SENDER_CONSTRAINED": "'true' accepts tokens bound to a key (cnf: DPoP, mTLS) as bearer tokens "
    "(default: refused, since this API cannot check the binding).",
    "JWT_MAX_TOKEN_BYTES": "Token size cap (default 16384).",
    "JWT_TIMEOUT_SECONDS": "Total deadline of one key fetch, discovery and JWKS together "
    "(default 3, at most 86400).",
    "JWT_JWKS_MAX_AGE_SECONDS": "Refresh cached keys after this long (default 600, at most 86400).",
    "JWT_MAX_STALE_SECONDS": "Serve cached keys this long while the issuer is down (default 86400), "
                             "or a stored JWT_SECRET while its store cannot be read (default 3600); "
                             "at most 604800 (a week).",
    "JWT_UNKNOWN_KID_COOLDOWN_SECONDS": "At most one refetch per this many seconds for unknown kids "
    "(default 30, at most 3600).",
    "JWT_VERIFIED_CACHE_SIZE": "Already-verified tokens remembered (default 1024; 0 disables).",
    "JWT_PREFETCH": "'true' loads keys during the cold start.",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false")


def _number(name: str, value: str) -> float:
    try:
        out = float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number") from None
    if out != out or out in (float("inf"), float("-inf")):
        raise ConfigurationError(f"{name} must be a finite number")
    return out


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


PREVIOUS_STAGE = "AWSPREVIOUS"
_PREVIOUS_OF_STORED = (
    "JWT_SECRET_PREVIOUS must be AWSPREVIOUS when JWT_SECRET names a stored secret (it then accepts the "
    "Secrets Manager secret's previous version); list further secrets in the stored value, one per line")


_PREVIOUS_OF_SSM = ("JWT_SECRET_PREVIOUS is not used with an SSM parameter in JWT_SECRET (it has no previous "
                    "version stage): list the current and the previous secret in its value, one per line")
_PREVIOUS_OF_PLAIN = ("JWT_SECRET_PREVIOUS=AWSPREVIOUS needs JWT_SECRET to name a Secrets Manager secret "
                      "(its ARN); beside a secret given as text, JWT_SECRET_PREVIOUS is the previous secret")


def env_kwargs(environ: Mapping[str, str]) -> dict[str, Any]:
    """Verifier keyword arguments from ``JWT_*`` variables; empty values count as unset."""
    env = {k: v.strip() for k, v in environ.items() if k.startswith("JWT_") and v.strip()}
    kw: dict[str, Any] = {}
    if "JWT_ISSUER" in env:
        kw["issuer"] = env["JWT_ISSUER"]
    if "JWT_AUDIENCE" in env:
        kw["audience"] = _list(env["JWT_AUDIENCE"])
    if "JWT_ALGORITHMS" in env:
        kw["algorithms"] = _list(env["JWT_ALGORITHMS"])
    if "JWT_SECRET" in env:
        secret = env["JWT_SECRET"]
        if is_secret_reference(secret):
            # Fetched at request time (and cached) so an AWS outage is a 503, never a failed cold start.
            kw["secret_from"] = secret
            if "JWT_SECRET_PREVIOUS" in env:
                # Never dropped in silence: a stored secret's previous one is its AWSPREVIOUS version.
                if secret.startswith("ssm:") or ":ssm:" in secret:
                    raise ConfigurationError(_PREVIOUS_OF_SSM)
                if env["JWT_SECRET_PREVIOUS"] != PREVIOUS_STAGE:
                    raise ConfigurationError(_PREVIOUS_OF_STORED)
                kw["secret_previous"] = True
        else:
            previous = env.get("JWT_SECRET_PREVIOUS")
            if previous is not None and previous.upper() == PREVIOUS_STAGE:
                # Never a literal key: the stage name is public, anyone could sign with it.
                raise ConfigurationError(_PREVIOUS_OF_PLAIN)
            kw["secrets"] = [secret] if previous is None else [secret, previous]
    elif "JWT_SECRET_PREVIOUS" in env:  # never ignored in silence: it would be no key at all
        raise ConfigurationError("JWT_SECRET_PREVIOUS is set without JWT_SECRET (the current secret)")
    if "JWT_JWKS_URI" in env:
        kw["jwks_uri"] = env["JWT_JWKS_URI"]
    if "JWT_PUBLIC_KEY" in env:
        kw["public_key"] = env["JWT_PUBLIC_KEY"].replace("\\n", "\n")
    for var, arg in (("JWT_ALLOW_SHORT_SECRET", "allow_short_secret"),
                     ("JWT_REQUIRE_AUDIENCE", "require_audience"),
                     ("JWT_ACCEPT_ANY_AUDIENCE", "accept_any_audience"),
                     ("JWT_REQUIRE_ACCESS_TOKEN_TYPE", "require_access_token_type"),
                     ("JWT_ALLOW_SENDER_CONSTRAINED", "allow_sender_constrained"),
                     ("JWT_PREFETCH", "prefetch")):
        if var in env:
            kw[arg] = _flag(var, env[var])
    for var, arg in (("JWT_LEEWAY_SECONDS", "leeway_seconds"), ("JWT_MAX_AGE_SECONDS", "max_age_seconds"),
                     ("JWT_TIMEOUT_SECONDS", "timeout_seconds"),
                     ("JWT_JWKS_MAX_AGE_SECONDS", "jwks_max_age_seconds"),
                     ("JWT_MAX_STALE_SECONDS", "max_stale_seconds"),
                     ("JWT_UNKNOWN_KID_COOLDOWN_SECONDS", "unknown_kid_cooldown_seconds")):
        if var in env:
            kw[arg] = _number(var, env[var])
    for var, arg in (("JWT_MAX_TOKEN_BYTES", "max_token_bytes"),
                     ("JWT_VERIFIED_CACHE_SIZE", "verified_cache_size")):
        if var in env:
            number = _number(var, env[var])
            if number != int(number):
                raise ConfigurationError(f"{var} must be a whole number")
            kw[arg] = int(number)
    if "JWT_REQUIRED_CLAIMS" in env:
        kw["required_claims"] = _list(env["JWT_REQUIRED_CLAIMS"])
    if "JWT_MAX_AGE_CLAIM" in env:
        if "JWT_MAX_AGE_SECONDS" not in env:  # it would change nothing: say so rather than ignore it
            raise ConfigurationError("JWT_MAX_AGE_CLAIM needs JWT_MAX_AGE_SECONDS (how old it may be)")
        kw["max_age_claim"] = env["JWT_MAX_AGE_CLAIM"]
    if "JWT_ACCEPTED_TYPES" in env:
        kw["accepted_types"] = _list(env["JWT_ACCEPTED_TYPES"])
    return kw


# Python argument -> the JWT_* variable (and template.yaml parameter) a from_env() user set instead.
_ENV_NAMES = {
    "issuer": "JWT_ISSUER (template parameter JwtIssuer)",
    "audience": "JWT_AUDIENCE (template parameter JwtAudience)",
    "audiences": "JWT_AUDIENCE (template parameter JwtAudience)",
    "algorithms": "JWT_ALGORITHMS", "public_key": "JWT_PUBLIC_KEY", "jwks_uri": "JWT_JWKS_URI",
    "leeway_seconds": "JWT_LEEWAY_SECONDS", "max_age_seconds": "JWT_MAX_AGE_SECONDS",
    "max_age_claim": "JWT_MAX_AGE_CLAIM", "accepted_types": "JWT_ACCEPTED_TYPES",
    "required": "JWT_REQUIRED_CLAIMS", "timeout_seconds": "JWT_TIMEOUT_SECONDS",
    "jwks_max_age_seconds": "JWT_JWKS_MAX_AGE_SECONDS", "max_stale_seconds": "JWT_MAX_STALE_SECONDS",
    "unknown_kid_cooldown_seconds": "JWT_UNKNOWN_KID_COOLDOWN_SECONDS",
    "max_token_bytes": "JWT_MAX_TOKEN_BYTES", "verified_cache_size": "JWT_VERIFIED_CACHE_SIZE",
    "secret_from": "JWT_SECRET",
}
_SOURCE_NAMES = {"secrets": "JWT_SECRET", "secret_from": "JWT_SECRET", "jwks_uri": "JWT_JWKS_URI",
                 "jwks": "jwks", "public_key": "JWT_PUBLIC_KEY"}
_AUDIENCE_NEEDED = (
    "JWT_AUDIENCE (template parameter JwtAudience) must be set to the audience your tokens carry in aud "
    "(your API identifier; Supabase: authenticated), or set JWT_REQUIRE_AUDIENCE=false to run without one"
)
_NOTHING_SET = (
    "Set JWT_ISSUER (template parameter JwtIssuer) to your provider's issuer URL, or JWT_SECRET "
    "(template parameter JwtSecret) to a shared secret"
)


def check_env(kwargs: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Refuse what the verifier would refuse, naming the ``JWT_*`` variable a user actually set.

    ``kwargs`` are the merged verifier arguments; ``environ`` holds the variables whose settings were
    not replaced by an override (only those are named).
    """
    sources = ("issuer", "secrets", "secret_from", "jwks_uri", "jwks", "public_key")
    if not any(kwargs.get(name) is not None for name in sources):
        raise ConfigurationError(_NOTHING_SET)
    given = [name for name in sources[1:] if kwargs.get(name) is not None]
    if len(given) > 1:  # the constructor would name Python arguments the user never wrote
        names = [_SOURCE_NAMES[name] if _SOURCE_NAMES[name].split()[0] in environ else name for name in given]
        raise ConfigurationError(f"Set one key source, not {' and '.join(names)}: JWT_SECRET (template "
                                 "parameter JwtSecret), JWT_JWKS_URI or JWT_PUBLIC_KEY")
    if kwargs.get("require_access_token_type") is True and kwargs.get("accepted_types") is not None and (
            "JWT_ACCEPTED_TYPES" in environ and "JWT_REQUIRE_ACCESS_TOKEN_TYPE" in environ):
        raise ConfigurationError("JWT_ACCEPTED_TYPES cannot be combined with "
                                 "JWT_REQUIRE_ACCESS_TOKEN_TYPE=true (which accepts at+jwt only): set one")
    conflict = any_audience_conflict(kwargs, environ)
    if conflict is not None:
        raise ConfigurationError(conflict)
    shared = kwargs.get("secrets") is not None or kwargs.get("secret_from") is not None
    issuer = kwargs.get("issuer")
    if isinstance(issuer, str) and "JWT_ISSUER" in environ and not shared and "://" not in issuer:
        raise ConfigurationError(
            "JWT_ISSUER (template parameter JwtIssuer) must be the issuer URL with its scheme, such as "
            "https://example.eu.auth0.com/ (the scheme is missing)")
    if not shared and kwargs.get("audience") is None and kwargs.get("require_audience", True):
        raise ConfigurationError(_AUDIENCE_NEEDED)
    secrets = kwargs.get("secrets")
    if secrets is not None and "JWT_SECRET" in environ:
        values = [secrets] if isinstance(secrets, (str, bytes)) else list(secrets)
        try:
            algorithms = validate_algorithms(kwargs.get("algorithms"), shared_secret=True)
        except ConfigurationError as err:  # "algorithms must be HS..." named as the variable set
            raise env_error(err, {} if "JWT_ALGORITHMS" in environ else {"algorithms": None}) from None
        for index, value in enumerate(values):
            problem = secret_problem(value, algorithms, allow_short_secret=bool(
                kwargs.get("allow_short_secret", False)), env=True)
            if problem is not None:
                if index == 1 and "JWT_SECRET_PREVIOUS" in environ:  # name the variable that holds it
                    problem = problem.replace("JWT_SECRET (template parameter JwtSecret)",
                                              "JWT_SECRET_PREVIOUS")
                raise ConfigurationError(problem)


def any_audience_conflict(kwargs: Mapping[str, Any], environ: Collection[str]) -> str | None:
    """The message for ``accept_any_audience=True`` beside an audience when either came from a variable in
    ``environ``, naming what the user set (the verifier's own message names Python arguments)."""
    if kwargs.get("accept_any_audience") is not True or kwargs.get("audience") is None or not (
            "JWT_ACCEPT_ANY_AUDIENCE" in environ or "JWT_AUDIENCE" in environ):
        return None
    opt_out = ("JWT_ACCEPT_ANY_AUDIENCE=true" if "JWT_ACCEPT_ANY_AUDIENCE" in environ
               else "accept_any_audience=True")
    audience = _ENV_NAMES["audience"] if "JWT_AUDIENCE" in environ else "audience"
    return f"{opt_out} cannot be combined with {audience}, which names the accepted audiences: set one"


def env_error(err: ConfigurationError, overrides: Mapping[str, Any]) -> ConfigurationError:
    """``err`` with a leading Python argument name replaced by its environment variable."""
    message = str(err)
    head, _, rest = message.partition(" ")
    if head in _ENV_NAMES and head not in overrides and rest:
        return ConfigurationError(f"{_ENV_NAMES[head]} {rest}")
    return err

