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
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from serverless_jwt.dev import _cli_output as _output
from serverless_jwt.dev._cli_types import cors_origin, nonempty, port, redirect_uri
from serverless_jwt.dev._template_file import default_template
from serverless_jwt.errors import ConfigurationError

__all__ = ["main"]


class CliError(Exception):
    """A usage or configuration problem, reported as ``serverless-jwt: error: ...`` with exit code 2."""


_TEMPLATE_HELP = "SAM template (default: template.yaml, else template.yml or template.json, as sam finds it)"


def _common_template(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", "-t", default=default_template(), help=_TEMPLATE_HELP)
    p.add_argument("--parameter-overrides", nargs="+", metavar="KEY=VALUE", default=[],
                   help="template parameter values, as with sam")
    _state_dir_here_too(p)
    p.add_argument("--env-vars", "-n", metavar="FILE",
                   help="JSON file of environment values, as with sam: {\"Parameters\": {...}} for every "
                        "function, {\"MeFunction\": {...}} for one, or a .env file (NAME=value lines, "
                        "for every function); only variables the template declares")
    p.add_argument("--no-dev-issuer", action="store_true",
                   help="use the template's JWT_* settings as they are (a real provider) instead of pointing "
                        "JWT_ISSUER/JWT_AUDIENCE at an embedded dev issuer")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--in-process", dest="mode", action="store_const", const="in-process", default="auto",
                      help="fast mode: import the handlers into this process (this interpreter and its "
                           "packages) instead of Lambda's runtime under the emulator")
    mode.add_argument("--emulator", dest="mode", action="store_const", const="emulator",
                      help="require Lambda's runtime under the emulator (error when it cannot run here)")


_SCOPE_HELP = ("grant a scope (repeat, or space-separated: --scope 'a b'); a comma is part of a scope's name "
               "(RFC 6749 section 3.3), so --scope a,b grants one scope, with a notice")


def _claims_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sub", default="dev-user", type=nonempty, help="subject (default: dev-user)")
    p.add_argument("--scope", action="append", default=[], metavar="SCOPE", help=_SCOPE_HELP)
    p.add_argument("--role", action="append", default=[], metavar="ROLE", help="grant a role (repeat)")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that help or usage that cannot be written is an error, not lost."""

    def _print_message(self, message: str, file: Any = None) -> None:
        if not message:
            return
        stream = file if file is not None else sys.stderr
        try:
            stream.write(message)
        except OSError:
            if stream is sys.stdout:
                raise  # help that cannot be shown; a usage error on a closed or full stderr still exits 2


class _CommandParser(_Parser):
    """A command's parser: an unknown option is its error, shown with its usage (argparse hands the
    leftovers to the top-level parser, whose usage names no option of the command)."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _state_dir_here_too(p: argparse.ArgumentParser) -> None:
    # `serverless-jwt token --state-dir DIR` as well as `serverless-jwt --state-dir DIR token`: SUPPRESS
    # keeps the top-level value (or default) unless the option is given after the command.
    p.add_argument("--state-dir", default=argparse.SUPPRESS, help=_STATE_DIR_HELP)


_STATE_DIR_HELP = ("where the dev issuer keeps its keys and address (default: .serverless-jwt, beside the "
                   "template for invoke and start-api, else in the working directory; in the user cache "
                   "folder instead when sam build would copy it, e.g. CodeUri: .)")


def _version() -> str:
    import serverless_jwt

    return serverless_jwt.__version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="serverless-jwt", description="Local development loop for serverless-jwt protected functions.")
    parser.add_argument("--state-dir", default=None, help=_STATE_DIR_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_CommandParser)

    p = sub.add_parser("issuer", help="run the embedded dev OIDC issuer (and its login page) until Ctrl-C")
    p.add_argument("--port", type=port, default=None, help="port (default: the last one used, else free)")
    p.add_argument("--redirect-uri", action="append", default=None, metavar="URI", type=redirect_uri,
                   help="register a redirect URI (repeat; default: any http URI on a loopback host)")
    p.add_argument("--cors-origin", action="append", default=None, metavar="ORIGIN", type=cors_origin,
                   help="allow a browser origin (repeat; default: http loopback origins)")
    _state_dir_here_too(p)

    p = sub.add_parser("token", help="print a token signed with the dev issuer's key")
    _claims_options(p)
    p.add_argument("--claim", action="append", default=[], metavar="NAME=JSON",
                   help="set any claim to a JSON value (repeat); null removes a default claim")
    p.add_argument("--lifetime-seconds", type=int, default=3600,
                   help="validity (default: 3600; negative mints an already expired token, which "
                   "verifiers refuse from -60 on: they allow 60 s of clock skew)")
    p.add_argument("--audience", type=nonempty, help="aud (default: the dev issuer's audience)")
    p.add_argument("--issuer-url", type=nonempty, help="iss (default: the dev issuer last started here)")
    p.add_argument("--hs256", action="store_true",
                   help="sign with the JWT_SECRET environment variable (HS256) instead of the RSA key")
    _state_dir_here_too(p)

    p = sub.add_parser("invoke", help="run one function of the template once, as sam local invoke")
    # Optional for argparse only: `--parameter-overrides A=B MeFunction` (sam's order) hands the name to
    # the greedy option, and cmd_invoke takes it back (a missing function is still a usage error there).
    p.add_argument("function", nargs="?", help="logical id or FunctionName, e.g. MeFunction (required)")
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
    p.add_argument("--port", "-p", type=port, default=3000, help="port (default: 3000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    p.add_argument("--scope", action="append", default=None, metavar="SCOPE",
                   help="scopes of the token in the printed curl lines (default: read:shows; as token's)")
    p.add_argument("--disable-authorizer", action="store_true",
                   help="serve routes behind a Lambda authorizer without running it, as sam local's "
                        "option does (JWT authorizers still check tokens)")
    p.add_argument("--static-dir", "-s", default=None,
                   help="static files served at / (default: public, next to the template; '' for none)")
    _common_template(p)

    p = sub.add_parser("decode", help="show a token's header and claims; verify it when JWT_* is configured")
    p.add_argument("token", help="the token ('-' reads it from stdin, keeping it out of shell history)")

    p = sub.add_parser("demo", help="embedded issuer + local API + sample calls (200, 401, 403, 404)")
    p.add_argument("--template", "-t", default=default_template(), help=_TEMPLATE_HELP)
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
    saved = _output.open_streams()
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help or a usage error, printed: written out before the exit
            sys.stdout.flush()
            raise
        _output.serve_without_stdout(args.command)
        code = _run(args)
        sys.stdout.flush()  # a write error surfaces here, not in Python's own flush at exit
        return code
    except _output.OutputClosed:
        with contextlib.suppress(OSError, ValueError):
            print("serverless-jwt: error: standard output is closed (>&-): nothing can be shown",
                  file=sys.stderr)
        _output.discard_output()
        return 141
    except BrokenPipeError:
        # The reader went away (`... | head`, on stdout or stderr): stop quietly, as Unix tools do.
        _output.discard_output()
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the broken pipe
    except _output.OutputFailed as exc:  # `> /dev/full`, an I/O error: say so, no traceback
        with contextlib.suppress(OSError, ValueError):
            print(f"serverless-jwt: error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        _output.discard_output()
        return 1
    except OSError as exc:  # the command's own (a request that timed out ...): one line, no traceback
        with contextlib.suppress(OSError, ValueError):
            print(f"serverless-jwt: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved


class _Terminated(BaseException):
    """SIGTERM (``kill``, ``timeout``) while a command runs: unwinds it so its clean-up runs (a
    BaseException, as KeyboardInterrupt, so no ``except Exception`` on the way stops it)."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated()


def _run(args: argparse.Namespace) -> int:
    # Without a handler, SIGTERM ends the process at once: the runtime a running invoke started
    # (the emulator's child) would outlive it, unbounded by the Timeout the emulator enforced.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main else None
    try:
        return _command(args)
    except _Terminated:
        print("terminated", file=sys.stderr)
        return 143  # 128 + SIGTERM, as a shell reports a process the signal ended
    finally:
        if main:  # None: a handler not set from Python, i.e. the default
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _command(args: argparse.Namespace) -> int:
    try:
        # Each command's module is imported when it runs: `token` never loads the runtime machinery.
        module_name, _, function = _COMMANDS[args.command].partition(":")
        handler: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module_name), function)
        return handler(args)
    except (CliError, ConfigurationError) as exc:
        print(f"serverless-jwt: error: {exc}", file=sys.stderr)
        if isinstance(exc, ConfigurationError) and getattr(args, "no_dev_issuer", False) \
                and "JWT_" in str(exc):  # the function's own key settings, not the tool's inputs
            # As with sam, the template configures the function (the shell only for variables it declares).
            print(_NO_DEV_ISSUER_HINT, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


_NO_DEV_ISSUER_HINT = ("hint: with --no-dev-issuer, configure the function through the template, e.g. "
                       "--parameter-overrides JwtIssuer=https://... JwtAudience=..., or --env-vars env.json")


def _scopes(values: Sequence[str]) -> list[str]:
    """--scope values, space-separated as in a token's ``scope`` claim; a comma is kept (a scope character,
    RFC 6749 section 3.3) with a notice, as ``--scope a,b`` more likely meant two scopes."""
    scopes = [s for value in values for s in value.split()]
    for scope in [s for s in scopes if "," in s]:
        parts = " ".join(f"--scope {part}" for part in scope.split(",") if part)
        print(f"notice: --scope {scope} is one scope named {scope!r} (scopes are space-separated); "
              f"did you mean {parts}?", file=sys.stderr)
    return scopes


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


_COMMANDS = {
    "issuer": "serverless_jwt.dev._cli_tokens:cmd_issuer",
    "token": "serverless_jwt.dev._cli_tokens:cmd_token",
    "invoke": "serverless_jwt.dev._cli_run:cmd_invoke",
    "start-api": "serverless_jwt.dev._cli_run:cmd_start_api",
    "decode": "serverless_jwt.dev._cli_tokens:cmd_decode",
    "demo": "serverless_jwt.dev._cli_run:cmd_demo",
}

if __name__ == "__main__":
    # Run as `python -m`: through the imported module, so the commands' CliError is the one caught here.
    from serverless_jwt.dev.cli import main as _main

    sys.exit(_main())
