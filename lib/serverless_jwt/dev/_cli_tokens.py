"""``serverless-jwt issuer``, ``token`` and ``decode``: the dev issuer and the tokens it signs."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serverless_jwt._config import secret_problem
from serverless_jwt.dev import _state_dir, _support
from serverless_jwt.dev._template_file import found_above
from serverless_jwt.dev.cli import CliError, _scopes, _wait_for_ctrl_c
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import AuthError, ConfigurationError, KeysUnavailableError

__all__ = ["cmd_decode", "cmd_issuer", "cmd_token"]


def _parse_claims(items: Sequence[str]) -> dict[str, Any]:
    """``--claim NAME=JSON`` pairs: ``email='"a@example.com"'``, ``tier=3``; ``aud=null`` removes aud."""
    claims: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise CliError("--claim takes NAME=JSON, e.g. --claim tier=3 or --claim email='\"a@b.example\"'")
        if name in claims:
            raise CliError(f"--claim {name} is given twice")
        try:
            claims[name] = json.loads(text)
        except RecursionError:
            raise CliError(f"--claim {name}: the value nests too deeply") from None
        except ValueError:
            raise CliError(f"--claim {name}: the value is not JSON (a string needs quotes: "
                           f"--claim {name}='\"text\"')") from None
        problem = _registered_claim_problem(name, claims[name])
        if problem is not None:
            raise CliError(f"--claim {name}={text}: {problem}, or every verifier refuses the token")
    return claims


def _registered_claim_problem(name: str, value: Any) -> str | None:
    # RFC 7519 §4.1, as the verifier checks them (claims.check_claims) whatever it is configured with;
    # null still removes a default claim.
    if value is None:
        return None
    if name in ("iss", "sub") and (not isinstance(value, str) or not value):
        return f"{name} must be a non-empty string (--claim {name}='\"text\"')"
    if name == "jti" and not isinstance(value, str):
        return "jti must be a string"
    if name in ("exp", "nbf", "iat", "auth_time") and (isinstance(value, bool)
                                                        or not isinstance(value, (int, float))):
        return f"{name} must be a number of seconds since the epoch"  # 1e400: _readable says why
    audiences = [value] if isinstance(value, str) else value
    if name == "aud" and not (isinstance(audiences, list) and audiences
                              and all(isinstance(a, str) and a for a in audiences)):
        return "aud must be a string or a non-empty array of strings"
    return None


def _readable(token: str) -> dict[str, Any]:
    # A token no verifier reads (NaN, 1e400, a lone surrogate in --sub or a --claim) is refused here
    # with the reason, not printed for a 401 later.
    from serverless_jwt.errors import MalformedTokenError
    from serverless_jwt.token import parse

    try:
        return dict(parse(token, max_bytes=1 << 30).claims)
    except MalformedTokenError as exc:
        raise CliError(f"this token could not be read by any verifier: {exc.description}") from None


def cmd_issuer(args: argparse.Namespace) -> int:
    state = _support.here(args.state_dir, writing=True)
    running = _support.running_issuer(state)
    if running is not None and _support.is_shared(running):
        # A second one would rewrite the record and split the dev identity.
        raise CliError(f"a dev issuer already runs at {running['issuer']} (pid {running['pid']}); "
                       f"mint its tokens with: {_support.command()} token")
    issuer = _support.start_issuer(state, port=args.port, owner="issuer")
    oidc = issuer.oidc
    oidc.redirect_uris, oidc.cors_origins = args.redirect_uri, args.cors_origin
    try:
        _wait_for_ctrl_c(
            f"dev issuer: {issuer.issuer}\n"
            f"  discovery  {issuer.discovery_uri}\n  jwks       {issuer.jwks_uri}\n"
            f"  audience   {issuer.audience}\n"
            f"  sign in    {issuer.issuer}/authorize (client_id {oidc.client_id}, code + PKCE S256)\n"
            f"  service    client_id {oidc.service_client_id} client_secret {oidc.service_client_secret} "
            "(client_credentials)\n"
            f"Configure a verifier with JWT_ISSUER={issuer.issuer} JWT_AUDIENCE={issuer.audience}\n"
            f"Mint tokens in another terminal: {_support.command()} token --scope read:shows")
    finally:
        issuer.stop()
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    state = _support.here(args.state_dir, writing=False)
    scopes, roles, claims = _scopes(args.scope), list(args.role), _parse_claims(args.claim)
    if args.hs256:
        secret = os.environ.get("JWT_SECRET", "").strip()
        if not secret:
            raise CliError("--hs256 signs with the JWT_SECRET environment variable, which is not set")
        if ":" in secret and secret.split(":", 1)[0] in ("arn", "ssm"):
            raise CliError("JWT_SECRET names a secret store entry; export the secret value itself")
        # Refuse what every verifier refuses, with the same words (RFC 7518 §3.2 key length).
        allow_short = os.environ.get("JWT_ALLOW_SHORT_SECRET", "").strip().lower() in (
            "1", "true", "yes", "on")
        # The verifier's allow-list (JWT_ALGORITHMS) sets how long the secret must be (HS512: 64 bytes).
        algorithms = [a.strip() for a in os.environ.get("JWT_ALGORITHMS", "").split(",") if a.strip()]
        if algorithms and "HS256" not in algorithms:
            raise CliError(f"--hs256 mints HS256 tokens, which JWT_ALGORITHMS={','.join(algorithms)} refuses")
        problem = secret_problem(secret, algorithms or ["HS256"], allow_short_secret=allow_short, env=True)
        if problem is not None:
            raise CliError(problem)
        # The aud a JWT_SECRET verifier expects: its JWT_AUDIENCE (first value), else none (Netlify).
        env_audience = os.environ.get("JWT_AUDIENCE", "").split(",")[0].strip() or None
        token = DevIssuer().mint(sub=args.sub, scopes=scopes, roles=roles, alg="HS256", secret=secret,
                                 issuer=args.issuer_url or os.environ.get("JWT_ISSUER", "").strip() or None,
                                 audience=args.audience or env_audience,
                                 lifetime_seconds=args.lifetime_seconds, claims=claims)
    else:
        record = _support.read_record(state)
        issuer_url = args.issuer_url or record.get("issuer")
        if not issuer_url:
            folder, above = _state_above(args.state_dir)
            if folder is not None:  # run from a subfolder
                raise CliError(f"no dev issuer has run here ({Path.cwd()}) yet; one has in {folder}: run "
                               f"from there, or name its state: {_support.command()} --state-dir "
                               f"{above} token ...")
            raise CliError(f"no dev issuer has run here yet: start one ({_support.command()} issuer, or "
                           "start-api) or pass --issuer-url")
        if not args.issuer_url and _support.running_issuer(state) is None:
            print(f"# note: no dev issuer answers at {issuer_url} now; this token is for it (start-api, "
                  "invoke and issuer reuse that address and key when the port is free)", file=sys.stderr)
        audience = args.audience or record.get("audience") or "serverless-jwt-dev"
        token = DevIssuer(key_dir=state).mint(sub=args.sub, scopes=scopes, roles=roles, issuer=issuer_url,
                                              audience=audience, lifetime_seconds=args.lifetime_seconds,
                                              claims=claims)
    claims = _readable(token)
    print(token)
    print(f"# {_summary(claims)}", file=sys.stderr)
    return 0


def _state_above(given: str | None) -> tuple[Path | None, Path | None]:
    """The nearest folder above the working directory whose dev issuer has run, and its state folder."""
    if given is not None:
        folder = found_above(given)
        return (folder, folder / given) if folder and _support.read_record(folder / given) else (None, None)
    for folder in Path.cwd().parents:
        state = _state_dir.for_folder(folder)
        if _support.read_record(state):
            return folder, state
    return None, None


def _summary(claims: dict[str, Any]) -> str:
    # What the token says, after every --claim: not what the options asked for.
    from serverless_jwt.authz import roles_of, scopes_of

    exp, iat = claims.get("exp"), claims.get("iat")
    valid = "no exp: no verifier accepts it" if exp is None else "exp as given"
    if isinstance(exp, (int, float)) and isinstance(iat, (int, float)):
        # A --claim may give any JSON number: beyond a float's range there is no lifetime to print.
        with contextlib.suppress(OverflowError):
            valid = _lifetime(exp - iat)
    return (f"sub={claims.get('sub', '-')} scopes={' '.join(sorted(scopes_of(claims))) or '-'} "
            f"roles={' '.join(sorted(roles_of(claims))) or '-'} {valid}")


def _lifetime(seconds: float) -> str:
    if seconds > 0:
        return f"valid {seconds:g}s"
    # --lifetime-seconds -10 answered 200: Verifier's default leeway (60 s, RFC 7519 §4.1.4's clock skew)
    # still accepts a token that expired that recently.
    leeway = 60
    if -seconds < leeway:
        return (f"expired {-seconds:g}s ago, yet accepted for {leeway + seconds:g}s more within the "
                f"verifiers' default {leeway} s leeway (pass --lifetime-seconds -{leeway} or less for a 401)")
    return f"expired {-seconds:g}s ago"


def cmd_decode(args: argparse.Namespace) -> int:
    from serverless_jwt.token import parse

    raw = sys.stdin.read() if args.token == "-" else args.token  # noqa: S105 - "-" means stdin
    token = raw.strip().removeprefix("Bearer ").removeprefix("bearer ").strip()
    if not token:  # usage errors, worded as every other one (serverless-jwt: error: ..., exit 2)
        raise CliError("no token given (standard input was empty)" if args.token == "-"  # noqa: S105
                       else "no token given (an empty argument: is the shell variable set?)")
    try:
        parsed = parse(token)
    except AuthError as exc:
        raise CliError(f"not a well-formed JWT: {exc.description}") from None
    print("UNVERIFIED header (anyone can write this):")
    print(json.dumps(parsed.header, indent=2))
    print("UNVERIFIED claims (anyone can write these):")
    print(json.dumps(parsed.claims, indent=2))
    for line in _support.describe_times(parsed.claims):
        print(line)
    configured = [n for n in ("JWT_ISSUER", "JWT_SECRET", "JWT_JWKS_URI", "JWT_PUBLIC_KEY")
                  if os.environ.get(n, "").strip()]
    if not configured:
        print("verification: skipped (set JWT_ISSUER + JWT_AUDIENCE, or JWT_SECRET, to check it)")
        return 0
    from serverless_jwt.verifier import Verifier

    try:
        verifier = Verifier.from_env()
    except ConfigurationError as exc:
        raise CliError(f"the JWT_* configuration is unusable: {exc}") from None
    try:
        verifier.verify(token)
    except KeysUnavailableError as exc:
        # No verdict on the token: its keys could not be had (a dev issuer that stopped, a provider down).
        print(f"verification: NOT CHECKED: the verifier configured from {', '.join(configured)} could not "
              "get its keys (is the issuer running?)")
        print(f"  code={exc.code} status={exc.status} error={exc.error or '-'}")
        print(f"  {exc.description}")
        return 1
    except AuthError as exc:
        print(f"verification: REJECTED by the verifier configured from {', '.join(configured)}")
        print(f"  code={exc.code} status={exc.status} error={exc.error or '-'}")
        print(f"  {exc.description}")
        return 1
    print(f"verification: ACCEPTED by the verifier configured from {', '.join(configured)}")
    return 0
