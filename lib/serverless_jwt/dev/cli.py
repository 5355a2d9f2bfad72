"""The ``serverless-jwt`` command: a local loop with no Docker and no cloud account.

::

    serverless-jwt issuer      [--port N]                      run the dev OIDC issuer until Ctrl-C
    serverless-jwt token       [--sub S] [--scope S] [--claim NAME=JSON] ...  print a dev-signed token
    serverless-jwt invoke      FUNCTION [--event FILE] ...     run a template function once
    serverless-jwt start-api   [--port 3000] [--host H]        serve every API of the template (REST + HTTP)

``invoke`` and ``start-api`` run functions in Lambda's Python runtime under the Runtime Interface
Emulator wherever it runs (Linux), else (or with ``--in-process``) in this process; they say which.
    serverless-jwt decode      TOKEN                           show header and claims (unverified) + verdict
    serverless-jwt demo                                        issuer + local API + sample calls

Exit codes: 0 success (``invoke``: the function answered, whatever it answered: a 401, an error object,
a timeout, as ``sam local invoke``); 1 a failed outcome (``invoke``: no answer from the runtime;
``decode``: a rejected token; ``demo``: a mismatch); 2 a usage or configuration error (missing template,
unknown function, port in use, a dev issuer already running); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serverless_jwt._config import secret_problem
from serverless_jwt.dev import _support
from serverless_jwt.dev._template_checks import malformed
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import AuthError, ConfigurationError

if TYPE_CHECKING:
    from serverless_jwt.dev.runners import Prepared
    from serverless_jwt.dev.template import Template

__all__ = ["main"]


class CliError(Exception):
    """A usage or configuration problem, reported as ``serverless-jwt: error: ...`` with exit code 2."""


def _common_template(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", "-t", default="template.yaml", help="SAM template (default: template.yaml)")
    p.add_argument("--parameter-overrides", nargs="+", metavar="KEY=VALUE", default=[],
                   help="template parameter values, as with sam")
    p.add_argument("--env-vars", "-n", metavar="FILE",
                   help="JSON file of environment values, as with sam: {\"Parameters\": {...}} for every "
                        "function, {\"MeFunction\": {...}} for one; only variables the template declares")
    p.add_argument("--no-dev-issuer", action="store_true",
                   help="use the template's JWT_* settings as they are (a real provider) instead of pointing "
                        "JWT_ISSUER/JWT_AUDIENCE at an embedded dev issuer")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--in-process", dest="mode", action="store_const", const="in-process", default="auto",
                      help="fast mode: import the handlers into this process (this interpreter and its "
                           "packages) instead of Lambda's runtime under the emulator")
    mode.add_argument("--emulator", dest="mode", action="store_const", const="emulator",
                      help="require Lambda's runtime under the emulator (error when it cannot run here)")


def _port(text: str) -> int:
    """A TCP port for argparse: 0-65535 (0 picks a free one), else a usage error (exit 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0-65535")
    return port


def _claims_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sub", default="dev-user", help="subject (default: dev-user)")
    p.add_argument("--scope", action="append", default=[], metavar="SCOPE",
                   help="grant a scope (repeat, or space-separated)")
    p.add_argument("--role", action="append", default=[], metavar="ROLE", help="grant a role (repeat)")


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
    return claims


def _readable(token: str) -> dict[str, Any]:
    # A token no verifier reads (NaN, 1e400, a lone surrogate in --sub or a --claim) is refused here
    # with the reason, not printed for a 401 later.
    from serverless_jwt.errors import MalformedTokenError
    from serverless_jwt.token import parse

    try:
        return dict(parse(token, max_bytes=1 << 30).claims)
    except MalformedTokenError as exc:
        raise CliError(f"this token could not be read by any verifier: {exc.description}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serverless-jwt", description="Local development loop for serverless-jwt protected functions.")
    parser.add_argument("--state-dir", default=".serverless-jwt",
                        help="where the dev issuer keeps its keys and address (default: .serverless-jwt)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("issuer", help="run the embedded dev OIDC issuer (and its login page) until Ctrl-C")
    p.add_argument("--port", type=_port, default=None, help="port (default: the last one used, else free)")
    p.add_argument("--redirect-uri", action="append", default=None, metavar="URI",
                   help="register a redirect URI (repeat; default: any http URI on a loopback host)")
    p.add_argument("--cors-origin", action="append", default=None, metavar="ORIGIN",
                   help="allow a browser origin (repeat; default: http loopback origins)")

    p = sub.add_parser("token", help="print a token signed with the dev issuer's key")
    _claims_options(p)
    p.add_argument("--claim", action="append", default=[], metavar="NAME=JSON",
                   help="set any claim to a JSON value (repeat); null removes a default claim")
    p.add_argument("--lifetime-seconds", type=int, default=3600,
                   help="validity (default: 3600; negative mints an already expired token)")
    p.add_argument("--audience", help="aud (default: the dev issuer's audience)")
    p.add_argument("--issuer-url", help="iss (default: the dev issuer last started here)")
    p.add_argument("--hs256", action="store_true",
                   help="sign with the JWT_SECRET environment variable (HS256) instead of the RSA key")

    p = sub.add_parser("invoke", help="run one function of the template once, as sam local invoke")
    p.add_argument("function", help="logical id, e.g. MeFunction")
    p.add_argument("--event", "-e",
                   help="event JSON file ('-' for stdin; default: built from the function's first route)")
    _claims_options(p)
    token = p.add_mutually_exclusive_group()
    token.add_argument("--no-token", action="store_true",
                       help="send the event without any Authorization header")
    token.add_argument("--fresh-token", action="store_true",
                       help="replace the event's own Authorization header with a fresh dev token (by default "
                            "the event's token is kept, and one is minted only when it has none)")
    _common_template(p)

    p = sub.add_parser("start-api", help="serve every API of the template locally (REST under its stage, "
                                         "HTTP APIs at the root), with their authorizers")
    p.add_argument("--port", type=_port, default=3000, help="port (default: 3000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    p.add_argument("--scope", action="append", default=None, metavar="SCOPE",
                   help="scopes of the token in the printed curl lines (default: read:shows)")
    p.add_argument("--static-dir", "-s", default=None,
                   help="static files served at / (default: public, next to the template; '' for none)")
    _common_template(p)

    p = sub.add_parser("decode", help="show a token's header and claims; verify it when JWT_* is configured")
    p.add_argument("token", help="the token ('-' reads it from stdin, keeping it out of shell history)")

    p = sub.add_parser("demo", help="embedded issuer + local API + sample calls (200, 401, 403, 404)")
    p.add_argument("--template", "-t", default="template.yaml", help="SAM template (default: template.yaml)")
    p.add_argument("--verbose", "-v", action="store_true", help="also show the functions' logs")
    p.add_argument("--in-process", dest="mode", action="store_const", const="in-process", default="auto",
                   help="import the handlers into this process, not Lambda's runtime under the emulator")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Examples
    --------
    >>> main(["token", "--scope", "read:shows"])  # doctest: +SKIP
    """
    try:
        return _run(build_parser().parse_args(argv))
    except BrokenPipeError:
        # The reader went away (`... | head`, on stdout or stderr): stop quietly, as Unix tools do.
        # Python flushes both again at exit, so point them at /dev/null first (the signal docs' recipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(devnull, stream.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the broken pipe


def _run(args: argparse.Namespace) -> int:
    try:
        handler = _COMMANDS[args.command]
        return handler(args)
    except (CliError, ConfigurationError) as exc:
        print(f"serverless-jwt: error: {exc}", file=sys.stderr)
        if isinstance(exc, ConfigurationError) and getattr(args, "no_dev_issuer", False):
            # As with sam, the template configures the function (the shell only for variables it declares).
            print(_NO_DEV_ISSUER_HINT, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


_NO_DEV_ISSUER_HINT = ("hint: with --no-dev-issuer, configure the function through the template, e.g. "
                       "--parameter-overrides JwtIssuer=https://... JwtAudience=..., or --env-vars env.json")


def _scopes(values: Sequence[str]) -> list[str]:
    return [s for value in values for s in value.split()]


def _wait_for_ctrl_c(banner: str) -> None:
    """Print ``banner``, then wait for Ctrl-C, ``kill -INT`` or ``kill`` (SIGTERM).

    The handlers are in place before the banner, so whoever waits for it may signal at once. A shell
    starts ``cmd &`` with SIGINT ignored, and Python keeps it so: we take SIGINT anyway, as
    ``sam local start-api`` does. After the first signal a second Ctrl-C interrupts the clean-up.
    """
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum: int, frame: Any) -> None:
            stop.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(banner + "\nCtrl-C to stop.", flush=True)
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if previous.get(signal.SIGTERM) is not None:
            signal.signal(signal.SIGTERM, previous[signal.SIGTERM])
    print("\nstopped", flush=True)


def cmd_issuer(args: argparse.Namespace) -> int:
    running = _support.running_issuer(Path(args.state_dir))
    if running is not None and _support.is_shared(running):
        # A second one would rewrite the record and split the dev identity.
        raise CliError(f"a dev issuer already runs at {running['issuer']} (pid {running['pid']}); "
                       f"mint its tokens with: {_support.command()} token")
    issuer = _support.start_issuer(Path(args.state_dir), port=args.port, owner="issuer")
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
    state = Path(args.state_dir)
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
        problem = secret_problem(secret, ["HS256"], allow_short_secret=allow_short, env=True)
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


def _summary(claims: dict[str, Any]) -> str:
    # What the token says, after every --claim: not what the options asked for.
    from serverless_jwt.authz import roles_of, scopes_of

    exp, iat = claims.get("exp"), claims.get("iat")
    valid = (f"valid {exp - iat:g}s" if isinstance(exp, (int, float)) and isinstance(iat, (int, float))
             else "no exp: no verifier accepts it" if exp is None else "exp as given")
    return (f"sub={claims.get('sub', '-')} scopes={' '.join(sorted(scopes_of(claims))) or '-'} "
            f"roles={' '.join(sorted(roles_of(claims))) or '-'} {valid}")


def _runners(args: argparse.Namespace, template: Template, names: list[str],
             env: dict[str, str] | None, *, watch: bool) -> Prepared:
    from serverless_jwt.dev.runners import prepare

    env_vars = _support.read_env_vars(args.env_vars) if args.env_vars else None
    if env_vars is not None and env is not None:
        from serverless_jwt.dev.runtime import KEY_SOURCE_VARIABLES

        replaced = sorted({n for values in env_vars.values() for n in values if n in KEY_SOURCE_VARIABLES})
        if replaced:
            print(f"notice: the dev issuer replaces {', '.join(replaced)} from --env-vars "
                  "(pass --no-dev-issuer to use them)", file=sys.stderr)
    prepared = prepare(template, names, mode=args.mode, environment=env, env_vars=env_vars, watch=watch,
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    for notice in prepared.notices:
        print(f"notice: {notice}", file=sys.stderr)
    return prepared


def _print_payload(payload: Any) -> None:
    # As `sam local invoke`: stdout gets the answer as the runtime serialised it (awslambdaric's
    # json.dumps, one line) and nothing else, so it pipes into jq or a file as is; the newline that ends
    # the terminal line goes to stderr.
    if sys.stdout is None:  # stdout closed (`>&-`): as a closed pipe
        raise BrokenPipeError
    sys.stdout.write(json.dumps(payload, default=str))
    sys.stdout.flush()
    sys.stderr.write("\n")


def _template(args: argparse.Namespace) -> Template:
    from serverless_jwt.dev.template import Template, parse_overrides

    template = Template(args.template, parameter_overrides=parse_overrides(args.parameter_overrides))
    if template.ignored_overrides:
        print(f"notice: --parameter-overrides names no parameter of {template.path.name}: "
              f"{', '.join(template.ignored_overrides)} (ignored, as sam does)", file=sys.stderr)
    return template


def cmd_invoke(args: argparse.Namespace) -> int:
    from serverless_jwt.dev.apigw import collect
    from serverless_jwt.dev.apigw.responses import MalformedResponse, from_function
    from serverless_jwt.dev.invocation import FunctionError, InvocationError, RuntimeFailure
    from serverless_jwt.dev.runtime import SetupError

    template = _template(args)
    function = template.function(args.function)
    event = _support.read_event(args.event, function, template)
    with malformed(template.path, "an Api or HttpApi"):
        routes = collect(template).routes
    mismatch = _support.authorizer_event_mismatch(event, function, routes)
    if mismatch is not None:
        print(f"warning: {mismatch}", file=sys.stderr)
    issuer = None if args.no_dev_issuer else _support.shared_issuer(Path(args.state_dir), owner="invoke")
    try:
        env = None if issuer is None else {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience}
        if args.no_token:
            _support.set_authorization(event, None)
        elif issuer is not None and (args.fresh_token or _support.get_authorization(event) is None):
            token = issuer.mint(sub=args.sub, scopes=_scopes(args.scope), roles=args.role)
            _support.set_authorization(event, "Bearer " + token)
        prepared = _runners(args, template, [function.name], env, watch=False)
        print(prepared.describe(), file=sys.stderr, flush=True)
        runner = prepared.runners[function.name]
        try:
            result = runner.invoke(event)
        except RuntimeFailure as exc:
            print(f"serverless-jwt: no answer from {function.name}: {exc}", file=sys.stderr)
            return 1
        except InvocationError as exc:  # an error object or a timeout: the function answered
            if exc.__cause__ is not None:  # in-process: show the handler's traceback as the runtime logs it
                _print_from_user_code(exc.__cause__)
            if isinstance(exc, FunctionError) and exc.init:
                print(f"{function.name} failed to initialise: {exc}", file=sys.stderr)
                if exc.error_type == "ConfigurationError" and args.no_dev_issuer:
                    print(_NO_DEV_ISSUER_HINT, file=sys.stderr)
            _print_payload(exc.payload)
            return 0
        except SetupError:
            raise  # ours to report (its Handler, CodeUri or environment): a usage error, exit 2
        except Exception as exc:  # in-process: the handler's module failed to import
            traceback.print_exception(exc, file=sys.stderr)
            if isinstance(exc, ConfigurationError) and args.no_dev_issuer:
                print(_NO_DEV_ISSUER_HINT, file=sys.stderr)
            _print_payload({"errorMessage": str(exc), "errorType": type(exc).__name__})
            return 0
        finally:
            prepared.close()
        route = next((r for r in routes if r.function == function.name), None)
        if route is not None:
            try:
                from_function(result, api=route.api, payload_version=route.payload_version, accept=None)
            except MalformedResponse as exc:
                status = 502 if route.api.kind == "REST" else 500
                print(f"warning: API Gateway would answer {status} to this response: {exc}", file=sys.stderr)
        _print_payload(result)
        return 0
    finally:
        if issuer is not None:
            issuer.stop()


def _print_from_user_code(exc: BaseException) -> None:
    """``exc``'s traceback from the first frame outside this tool (the runner that called the handler)."""
    ours = str(Path(__file__).parent)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(ours):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


def _resource_metadata(issuer: DevIssuer | _support.AttachedIssuer) -> Callable[[str], dict[str, Any]]:
    from serverless_jwt.dev.oidc_provider import resource_metadata

    return lambda url: resource_metadata(issuer, url)


def cmd_start_api(args: argparse.Namespace) -> int:
    from serverless_jwt._config import is_loopback
    from serverless_jwt.dev.apigw import LocalApiGateway, collect

    template = _template(args)
    with malformed(template.path, "an Api or HttpApi"):
        collection = collect(template)
    if not collection.routes:
        raise CliError(f"{template.path} has no Api or HttpApi routes to serve")
    if not args.host.strip():
        raise CliError("--host needs an address (127.0.0.1 by default; 0.0.0.0 for every interface)")
    if not is_loopback(args.host):
        print(f"warning: --host {args.host} serves this API beyond this machine; with the dev issuer "
              "it trusts tokens that anyone can mint or sign in for (no password)", file=sys.stderr)
    static_dir = None if args.static_dir == "" else Path(args.static_dir or "public")
    if static_dir is not None and not static_dir.is_absolute():
        static_dir = template.path.parent / static_dir
    if static_dir is not None and args.static_dir is not None and not static_dir.is_dir():
        what = "a file, not a folder" if static_dir.exists() else "no such folder"
        raise CliError(f"--static-dir {args.static_dir}: {what} ({static_dir}); '' serves none")
    if not args.no_dev_issuer:
        running = _support.running_issuer(Path(args.state_dir))
        if running is not None and running.get("pid") != os.getpid() and _support.is_shared(running):
            print(f"notice: reusing the dev issuer already running at {running['issuer']} "
                  f"(pid {running['pid']})", file=sys.stderr)
    issuer = None if args.no_dev_issuer else _support.shared_issuer(Path(args.state_dir), owner="start-api")
    prepared = None
    try:
        env = None if issuer is None else {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience}
        # Backends and the Lambda authorizers in front of them, each in its own runtime.
        names = list(dict.fromkeys(
            [r.function for r in collection.routes]
            + [r.authorizer.function for r in collection.routes if r.authorizer and r.authorizer.function]
            + [a.default_authorizer.function for a in collection.apis
               if a.default_authorizer and a.default_authorizer.function]))
        names = [n for n in names if n in template.functions]
        prepared = _runners(args, template, names, env, watch=True)
        prepared.start()  # in-process: import errors now, not on the first request; emulator: start it
        with malformed(template.path, "an Api or HttpApi"):
            api = LocalApiGateway(collection.routes, prepared.runners, host=args.host, port=args.port,
                                  static_dir=static_dir, access_log=sys.stderr,
                                  jwt_override=None if issuer is None else (issuer.issuer, issuer.audience),
                                  resource_metadata=None if issuer is None else _resource_metadata(issuer))
        try:
            api.start()
        except OSError as exc:
            raise _support.port_error(exc, "start-api", args.host, args.port) from None
        for warning in collection.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        lines = [_support.api_banner(api, template, issuer, args.scope, mode=prepared.mode),
                 prepared.describe()]
        if prepared.mode == "emulator":
            watched = sorted({str(d) for n in names for d in template.function(n).watched_dirs})
            lines.append("watching for code changes (a change restarts that function's runtime): "
                         + ", ".join(watched))
        try:
            _wait_for_ctrl_c("\n".join(lines))
        finally:
            api.stop()
    finally:
        if prepared is not None:
            prepared.close()
        if issuer is not None:
            issuer.stop()
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from serverless_jwt.token import parse

    raw = sys.stdin.read() if args.token == "-" else args.token  # noqa: S105 - "-" means stdin
    token = raw.strip().removeprefix("Bearer ").removeprefix("bearer ").strip()
    if not token:
        print("no token given (an empty argument: is the shell variable set?)", file=sys.stderr)
        return 2
    try:
        parsed = parse(token)
    except AuthError as exc:
        print(f"not a well-formed JWT: {exc.description}", file=sys.stderr)
        return 2
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
    except AuthError as exc:
        print(f"verification: REJECTED by the verifier configured from {', '.join(configured)}")
        print(f"  code={exc.code} status={exc.status} error={exc.error or '-'}")
        print(f"  {exc.description}")
        return 1
    print(f"verification: ACCEPTED by the verifier configured from {', '.join(configured)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from serverless_jwt.dev.demo import run_demo

    return run_demo(args.template, verbose=args.verbose, mode=args.mode)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "issuer": cmd_issuer,
    "token": cmd_token,
    "invoke": cmd_invoke,
    "start-api": cmd_start_api,
    "decode": cmd_decode,
    "demo": cmd_demo,
}

if __name__ == "__main__":
    sys.exit(main())
