"""Configuration checks shared by the verifier: algorithms, issuers, secrets (``JWT_*``: ``_env.py``)."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from serverless_jwt._public_key_text import public_key_kind
from serverless_jwt.errors import ConfigurationError

_log = logging.getLogger(__name__)

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "ES256K", "EdDSA",
    "Ed25519", "Ed448",  # RFC 9864 fully-specified names for EdDSA on one curve
})
# The default for public-key sources: every common JWS algorithm, because each token must still fit
# its key (kty, curve, the JWK's own alg), so a provider signing ES256 or PS256 is not broken by a
# narrow default and no algorithm can be confused with another. HMAC never is a default here.
DEFAULT_PUBLIC_KEY_ALGORITHMS = PUBLIC_KEY_ALGORITHMS - {"ES256K"}

#: RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used".
SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

# A day: past any real deadline. Waits much longer (~1e10 s) overflow the timers and locks that bound
# them (OverflowError), so configurations are checked against this before any request.
MAX_TIMEOUT_SECONDS = 86400.0

# The upper bound of each time setting. Past it a setting no longer tunes a protection but turns it off
# (a leeway of 1e300 accepts every expired token; an infinite JWKS max age or cool-down never picks up a
# rotated or revoked key; an endless stale window serves a retired key for good), so a larger value is a
# ConfigurationError, as a timeout over a day is (MAX_TIMEOUT_SECONDS).
# - leeway: 5 minutes. RFC 7519 §4.1.4 allows "some small leeway, usually no more than a few minutes";
#   5 minutes is the largest default of the common validators (Microsoft.IdentityModel's ClockSkew, as
#   Kerberos' maximum skew), API Gateway's JWT authorizer allows none, and Lambda clocks are NTP-synced.
#   Ours is 60 s.
# - key and secret cache ages: a day (defaults 10 and 5 minutes): a key removed at the provider, or a
#   rotated secret, is dropped within that.
# - unknown-kid cool-down: an hour (default 30 s): a token signed with a new key waits at most that.
# - stale window: a week (defaults a day for a JWKS, an hour for a stored secret): the longest outage of
#   the provider (or of the secret's store) a verifier rides out on keys it can no longer confirm.
MAX_SECONDS: dict[str, float] = {
    "leeway_seconds": 300.0,
    "jwks_max_age_seconds": 86400.0,
    "secret_max_age_seconds": 86400.0,
    "unknown_kid_cooldown_seconds": 3600.0,
    "max_stale_seconds": 7 * 86400.0,
}


def check_at_most(name: str, value: object, setting: str | None = None) -> None:
    """``value`` must be a number no larger than the bound of ``setting`` (default: ``name``), which the
    message states; ``nan`` and ``inf`` never are. Called after each setting's own lower-bound check."""
    bound = MAX_SECONDS[setting or name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value <= bound:
        raise ConfigurationError(f"{name} must be at most {bound:.0f} ({_duration(bound)})")


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds:g} seconds"


def short_secret_message(algorithms: Collection[str], *, env: bool = False) -> str | None:
    """Why a secret of some length is refused, phrased for Python (``env=False``) or ``JWT_*`` users.

    ``None`` when ``algorithms`` holds no HS algorithm. The message names the longest hash's minimum.
    """
    needed = [(SECRET_BYTES[a], a) for a in algorithms if a in SECRET_BYTES]
    if not needed:
        return None
    size, alg = max(needed)
    if env:
        return (f"JWT_SECRET (template parameter JwtSecret) must be at least {size} bytes for {alg} "
                "(RFC 7518 section 3.2); set JWT_ALLOW_SHORT_SECRET=true to accept a shorter legacy secret "
                "(insecure)")
    return (f"Secrets must be at least {size} bytes for {alg} (RFC 7518 section 3.2), or pass "
            "allow_short_secret=True for a legacy secret (insecure)")


def secret_problem(secret: str | bytes, algorithms: Collection[str], *, allow_short_secret: bool = False,
                   env: bool = False) -> str | None:
    """The message a verifier refuses this secret with, or ``None`` when it is usable.

    The ``serverless-jwt token --hs256`` command asks the same question, so it never mints with a
    secret that no verifier would accept.
    """
    try:
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    except UnicodeEncodeError:  # lone surrogates: bytes an environment variable held that were not UTF-8
        return f"{'JWT_SECRET' if env else 'A secret'} is not valid UTF-8 text (pass bytes for a binary key)"
    if not raw:
        return "JWT_SECRET must not be empty" if env else "A secret must not be empty"
    if isinstance(secret, str) and is_secret_reference(secret.strip()):
        # The name of a secret is no secret (templates, IAM policies and CloudTrail show it): as an
        # HMAC key, anyone who can read it could sign tokens.
        return ("A secret names an AWS secret store entry (a Secrets Manager ARN or ssm: parameter): "
                "pass it as secret_from=... (or JWT_SECRET) so the secret itself is fetched")
    if isinstance(secret, str) and secret.strip().startswith("arn:"):
        # Another resource's ARN (KMS, S3, an SSM document) is as public as a secret's: never the key.
        return (f"{'JWT_SECRET' if env else 'A secret'} is an ARN, but of no Secrets Manager secret or SSM "
                "parameter (a resource's name is no secret: anyone who can read it could sign tokens); "
                "give the secret's own ARN or 'ssm:<parameter name>' to fetch it")
    kind = public_key_kind(raw)
    if kind is not None:
        name = "JWT_SECRET" if env else "A secret"
        return (f"{name} looks like {kind}, not a shared secret: a published key is not an HMAC secret "
                "(anyone holding a public key could sign tokens; RFC 8725 section 2.1). Give the issuer or "
                "JWKS URL for RS/ES/EdDSA tokens, or the secret itself (an oct JWK's decoded 'k')")
    size = max((SECRET_BYTES[a] for a in algorithms if a in SECRET_BYTES), default=32)
    if len(raw) < size and not allow_short_secret:
        return short_secret_message(algorithms, env=env)
    return None


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (the only place plain HTTP is allowed, here and in ``_http``)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_issuer(issuer: object) -> None:
    """An issuer is an exact string; as a URL it must be https (http only for loopback hosts)."""
    if not isinstance(issuer, str) or not issuer or issuer != issuer.strip():
        raise ConfigurationError("issuer must be a non-empty string without surrounding whitespace")
    if "://" not in issuer:
        return  # a plain-string issuer (some shared-secret providers): compared exactly, never fetched
    try:
        parts = urlsplit(issuer)
    except ValueError:  # "https://[::1/": an unclosed IPv6 bracket
        raise ConfigurationError("issuer must be an https URL without query or fragment") from None
    if parts.query or parts.fragment or not parts.hostname:
        raise ConfigurationError("issuer must be an https URL without query or fragment")
    try:
        parts.port  # noqa: B018 - read for its ValueError: a port out of range or not a number
    except ValueError:
        raise ConfigurationError("issuer has a port that is not a number from 0 to 65535") from None
    scheme = issuer.partition("//")[0].rstrip(":")
    if scheme != scheme.lower():
        # urlsplit lower-cases it, but `iss` is compared exactly: HTTPS://... would refuse every token.
        raise ConfigurationError("issuer must be written as providers write iss: 'https://' in lower case")
    if parts.netloc != parts.netloc.lower():
        _log.warning("issuer %s has upper-case letters in its host; token iss values are compared exactly "
                     "and providers write hosts in lower case", issuer)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    raise ConfigurationError("issuer must use https (http is allowed only for loopback hosts)")


def validate_algorithms(algorithms: Sequence[str] | None, *, shared_secret: bool) -> frozenset[str]:
    if algorithms is None:
        return frozenset({"HS256"}) if shared_secret else DEFAULT_PUBLIC_KEY_ALGORITHMS
    if isinstance(algorithms, str):
        algorithms = [algorithms]
    algs = frozenset(algorithms)
    if not algs:
        raise ConfigurationError("algorithms must not be empty")
    unknown = algs - HMAC_ALGORITHMS - PUBLIC_KEY_ALGORITHMS
    if unknown:
        # Names are exact (JWA is case-sensitive): say which one was meant, and why 'none' never is.
        hints = sorted({a for a in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS
                        if isinstance(a, str) and a.lower() in {str(u).lower() for u in unknown}})
        why = (f"; names are case-sensitive: {', '.join(hints)}" if hints else "") + (
            "; 'none' is never accepted" if any(str(u).lower() == "none" for u in unknown) else "")
        raise ConfigurationError(f"algorithms has unsupported values: {sorted(unknown)}{why}")
    if shared_secret and not algs <= HMAC_ALGORITHMS:
        raise ConfigurationError("algorithms must be HS256/HS384/HS512 with shared secrets")
    if not shared_secret and algs & HMAC_ALGORITHMS:
        # Never let public key material act as an HMAC key: HS needs an explicit secret source.
        raise ConfigurationError(
            "algorithms must not name HS algorithms for public-key sources (HS needs a shared secret)")
    return algs


# A Secrets Manager secret's or an SSM parameter's ARN, in every partition (aws, aws-cn, aws-us-gov,
# aws-iso*, aws-eusc): what secret_store can fetch, and so what is_secret_reference names.
_STORE_ARN = re.compile(r"arn:aws[a-z-]*:(?:secretsmanager:[^:]*:[^:]*:secret:|ssm:[^:]*:[^:]*:parameter/)")
# What may follow 'ssm:': a parameter name (AWS: letters, digits, '_', '.', '-', '/' for hierarchies),
# then GetParameter's own ':version' or ':label' selector; a parameter ARN uses ':' too.
_SSM_NAME = re.compile(r"[A-Za-z0-9_./-][A-Za-z0-9_./:-]*")


def secret_reference_problem(reference: str) -> str | None:
    """Why ``secret_from`` cannot be fetched (each request would be a 503), or ``None``."""
    if not is_secret_reference(reference):
        # An S3 or KMS ARN, say, would only fail at request time: every request a 503.
        return "secret_from must be a Secrets Manager ARN, an SSM parameter ARN or 'ssm:<parameter name>'"
    arn = _STORE_ARN.match(reference)
    if (reference[len("ssm:"):] if arn is None else reference[arn.end():]) == "":
        # 'ssm:' or an ARN ending at 'secret:' / 'parameter/' (a template's empty parameter, say): no name.
        return "secret_from names no secret: the parameter or secret name after the prefix is empty"
    if arn is None and _SSM_NAME.fullmatch(reference[len("ssm:"):]) is None:
        # Whitespace, '${...}' left unexpanded, quotes: no parameter can be named so, every request a 503.
        return ("secret_from must be 'ssm:' and the parameter's name: letters, digits, '_', '.', '-' and '/' "
                "(then ':' and a version or label)")
    if reference.startswith("arn:") and reference.split(":")[2] == "secretsmanager" and (
            reference.count(":") > 6):
        # ECS's and CloudFormation's ":json-key:version-stage:version-id" suffix: not part of the secret's
        # ARN (names hold no ':'), so GetSecretValue answers ResourceNotFound on every request.
        return ("secret_from must be the secret's ARN alone (arn:...:secret:NAME-AbCdEf), without a "
                "':json-key:version-stage:' suffix: store one value, or a JSON object of one member")
    return None


def is_secret_reference(value: str) -> bool:
    """Whether a JWT_SECRET value names an AWS secret store entry instead of being the secret: ``ssm:<name>``,
    or a Secrets Manager secret or SSM parameter ARN (exactly what ``secret_from`` accepts)."""
    return value.startswith("ssm:") or _STORE_ARN.match(value) is not None
