"""``serverless-jwt invoke``, ``start-api`` and ``demo``: the template's functions, run locally."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serverless_jwt.dev import _support
from serverless_jwt.dev._template_checks import malformed
from serverless_jwt.dev.cli import _NO_DEV_ISSUER_HINT, CliError, _scopes, _wait_for_ctrl_c
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import ConfigurationError

if TYPE_CHECKING:
    from serverless_jwt.dev.runners import Prepared
    from serverless_jwt.dev.template import Template

__all__ = ["cmd_demo", "cmd_invoke", "cmd_start_api"]


def _runners(args: argparse.Namespace, template: Template, names: list[str],
             env: dict[str, str] | None, *, watch: bool) -> Prepared:
    from serverless_jwt.dev.runners import prepare

    env_vars = _support.read_env_vars(args.env_vars) if args.env_vars else None
    for notice in _unused_env_vars(template, env_vars or {}):
        print(f"notice: --env-vars {notice} (ignored, as sam does)", file=sys.stderr)
    if env_vars is not None and env is not None:
        from serverless_jwt.dev._function_environment import KEY_SOURCE_VARIABLES

        replaced = sorted({n for values in env_vars.values() for n in values if n in KEY_SOURCE_VARIABLES})
        if replaced:
            print(f"notice: the dev issuer replaces {', '.join(replaced)} from --env-vars "
                  "(pass --no-dev-issuer to use them)", file=sys.stderr)
    prepared = prepare(template, names, mode=args.mode, environment=env, env_vars=env_vars, watch=watch,
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    for notice in prepared.notices:
        print(f"notice: {notice}", file=sys.stderr)
    return prepared


def _unused_env_vars(template: Template, env_vars: dict[str, dict[str, Any]]) -> list[str]:
    # As --parameter-overrides' notice: a misspelt function or variable is ignored by sam without a word.
    functions = {**{f.function_name: f for f in template.functions.values() if f.function_name},
                 **template.functions}
    unknown = [key for key in env_vars if key != "Parameters" and key not in functions]
    undeclared: list[str] = []
    for key, values in env_vars.items():
        owners = list(template.functions.values()) if key == "Parameters" else \
            [functions[key]] if key in functions else []
        undeclared += [f"{name} ({key})" for name in values
                       if owners and not any(name in f.environment for f in owners)]
    notices = [f"names no function of {template.path.name}: {', '.join(unknown)}"] if unknown else []
    if undeclared:
        notices.append(f"sets variables the template does not declare there: {', '.join(undeclared)}")
    return notices


def _warn_without_key_source(args: argparse.Namespace, template: Template, names: list[str]) -> None:
    # start-api --no-dev-issuer: a function whose JWT_* settings name no key source answers every
    # request with an error, which only its log explained; invoke hints when it fails, this says so first.
    from serverless_jwt.dev._function_environment import KEY_SOURCE_VARIABLES, function_environment
    from serverless_jwt.dev.runners import _for

    env_vars = _support.read_env_vars(args.env_vars) if args.env_vars else None
    unset = [f.name for f in map(template.function, names)
             if any(v in f.environment for v in KEY_SOURCE_VARIABLES)
             and not any(function_environment(f, env_vars=_for(env_vars, f)).get(v, "").strip()
                         for v in ("JWT_ISSUER", "JWT_SECRET", "JWT_JWKS_URI", "JWT_PUBLIC_KEY"))]
    if unset:
        one = len(unset) == 1
        print(f"notice: with --no-dev-issuer, {', '.join(unset)} {'has' if one else 'have'} no JWT_ISSUER, "
              f"JWT_SECRET, JWT_JWKS_URI or JWT_PUBLIC_KEY value: every request to {'it' if one else 'them'} "
              f"fails until one is set\n{_NO_DEV_ISSUER_HINT}", file=sys.stderr)


def _print_payload(payload: Any) -> None:
    # As `sam local invoke`: stdout gets the answer as the runtime serialised it (awslambdaric's
    # json.dumps, one line) and nothing else, so it pipes into jq or a file as is; the newline that ends
    # the terminal line goes to stderr.
    sys.stdout.write(json.dumps(payload, default=str))
    sys.stdout.flush()
    sys.stderr.write("\n")


def _template(args: argparse.Namespace) -> Template:
    from serverless_jwt.dev.template import Template, parse_overrides

    template = Template(args.template, parameter_overrides=parse_overrides(args.parameter_overrides))
    if template.ignored_overrides:
        print(f"notice: --parameter-overrides names no parameter of {template.path.name}: "
              f"{', '.join(template.ignored_overrides)} (ignored, as sam does)", file=sys.stderr)
    names, variables = _replaced_by_dev_issuer(template, parse_overrides(args.parameter_overrides)) \
        if not getattr(args, "no_dev_issuer", True) else ([], [])
    if names:
        print(f"notice: {', '.join(names)} from --parameter-overrides set {' / '.join(variables)}, "
              "which the dev issuer replaces; add --no-dev-issuer to trust that provider instead",
              file=sys.stderr)
    return template


def _replaced_by_dev_issuer(template: Template, overrides: dict[str, str]) -> tuple[list[str], list[str]]:
    # The overrides whose value reaches a function's key-source variable (JWT_ISSUER, JWT_AUDIENCE,
    # JWT_SECRET...), which the dev issuer's own values replace as a group: a provider or secret named that
    # way would otherwise be ignored without a word, and its tokens refused for no visible reason.
    from serverless_jwt.dev._function_environment import KEY_SOURCE_VARIABLES

    reached = [(var, value) for f in template.functions.values() for var in KEY_SOURCE_VARIABLES
               if (value := f.environment.get(var))]
    names = [name for name, value in overrides.items() if value and value in {v for _, v in reached}]
    chosen = {overrides[n] for n in names}
    return names, [var for var in KEY_SOURCE_VARIABLES if any(v == var and x in chosen for v, x in reached)]


def _function_argument(args: argparse.Namespace) -> None:
    """Settle ``args.function``: ``invoke --parameter-overrides A=B MeFunction``, the order ``sam local
    invoke`` takes, leaves the name as the last override (the option takes every word after it)."""
    if args.function is not None:
        return
    if args.parameter_overrides and "=" not in args.parameter_overrides[-1]:
        args.function = args.parameter_overrides.pop()


def _only_function(template: Template) -> str:
    """The function ``invoke`` runs when none is named: the template's only one, as ``sam local invoke``."""
    if len(template.functions) == 1:
        return next(iter(template.functions))
    names = ", ".join(template.functions) or "none"
    raise CliError("invoke needs a function: its logical id or FunctionName, e.g. "
                   f"{_support.command()} invoke MeFunction (functions: {names})")


def cmd_invoke(args: argparse.Namespace) -> int:
    from serverless_jwt.dev.apigw import collect
    from serverless_jwt.dev.apigw.responses import MalformedResponse, from_function
    from serverless_jwt.dev.invocation import FunctionError, InvocationError, RuntimeFailure
    from serverless_jwt.dev.runtime import SetupError, init_error

    _function_argument(args)
    template = _template(args)
    function = template.function(args.function or _only_function(template))
    if function.inline_code:  # as `sam local invoke` (UnsupportedInlineCodeError), but a usage error here
        from serverless_jwt.dev.invocation import UnsupportedInlineCode

        raise ConfigurationError(str(UnsupportedInlineCode(function.name)))
    event = _support.read_event(args.event, function, template)
    with malformed(template.path, "an Api or HttpApi"):
        routes = collect(template).routes
    mismatch = None if not isinstance(event, dict) else _support.authorizer_event_mismatch(
        event, function, routes)
    if mismatch is not None:
        print(f"warning: {mismatch}", file=sys.stderr)
    state = _support.state_dir(args.state_dir, template)
    issuer = None if args.no_dev_issuer else _support.shared_issuer(state, owner="invoke")
    try:
        env = None if issuer is None else {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience}
        if not isinstance(event, dict):
            if issuer is not None and not args.no_token:
                print("notice: the event is not a JSON object: no token added", file=sys.stderr)
        elif args.no_token:
            _support.set_authorization(event, None)
        elif issuer is not None and not args.fresh_token and (why := _support.unusual_authorization(event)):
            print(f"notice: no token added: {why}; the event goes as written", file=sys.stderr)
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
            if isinstance(exc, FunctionError) and exc.out_of_memory:  # as sam's ContainerFailureError
                print(f"serverless-jwt: error: {function.name} ran out of memory (MemorySize "
                      f"{function.memory_mb} MB): Container invocation failed due to maximum memory usage",
                      file=sys.stderr)
                return 1
            return 0
        except SetupError:
            raise  # ours to report (its Handler, CodeUri or environment): a usage error, exit 2
        except Exception as exc:  # in-process: the handler's module failed to import
            traceback.print_exception(exc, file=sys.stderr)
            if isinstance(exc, ConfigurationError) and args.no_dev_issuer:
                print(_NO_DEV_ISSUER_HINT, file=sys.stderr)
            _print_payload(init_error(exc, function.handler))
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
    from serverless_jwt.dev.apigw.routes import without_lambda_authorizers
    from serverless_jwt.dev.runners import not_run_here

    template = _template(args)
    with malformed(template.path, "an Api or HttpApi"):
        collection = collect(template)
    if not collection.routes:
        why = "".join(f"; {w}" for w in collection.warnings)
        raise CliError(f"{template.path} has no Api or HttpApi routes to serve{why}")
    if args.disable_authorizer:
        collection.routes = without_lambda_authorizers(collection.routes)
        collection.apis = list(dict.fromkeys(r.api for r in collection.routes))
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
    state = _support.state_dir(args.state_dir, template)
    if not args.no_dev_issuer:
        running = _support.running_issuer(state)
        if running is not None and running.get("pid") != os.getpid() and _support.is_shared(running):
            print(f"notice: reusing the dev issuer already running at {running['issuer']} "
                  f"(pid {running['pid']})", file=sys.stderr)
    issuer = None if args.no_dev_issuer else _support.shared_issuer(state, owner="start-api")
    if isinstance(issuer, _support.AttachedIssuer):
        issuer.watch()  # its command may stop first: then this one serves the same issuer
    prepared = None
    try:
        env = None if issuer is None else {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience}
        # Backends and the Lambda authorizers in front of them, each in its own runtime.
        names = list(dict.fromkeys(
            [r.function for r in collection.routes]
            + [r.authorizer.function for r in collection.routes if r.authorizer and r.authorizer.function]
            + [a.default_authorizer.function for a in collection.apis
               if a.default_authorizer and a.default_authorizer.function]))
        for skipped in [n for n in names if n in template.skipped]:
            print(f"notice: {template.skipped[skipped]}: its routes answer 502, as with sam local",
                  file=sys.stderr)
        names = [n for n in names if n in template.functions]
        for why in filter(None, map(not_run_here, map(template.function, names))):
            print(f"notice: {why}: its routes answer 502", file=sys.stderr)  # sam local would run it
        names = [n for n in names if not_run_here(template.function(n)) is None]
        prepared = _runners(args, template, names, env, watch=True)
        prepared.start()  # in-process: import errors now, not on the first request; emulator: start it
        if issuer is None:  # the emulator starts each runtime on its first request: say it now
            _warn_without_key_source(args, template, names)
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
        if args.disable_authorizer:
            lines.append("Lambda authorizers are off (--disable-authorizer): their routes are open")
        if prepared.mode == "emulator":
            watched = sorted({str(d) for n in names for d in template.function(n).watched_dirs})
            lines.append("watching for code changes (a change restarts that function's runtime): "
                         + ", ".join(watched))
        else:  # imported modules stay imported: say so, or an edit seems to do nothing (macOS' default)
            lines.append("code changes are not picked up in-process: restart start-api after an edit")
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


def cmd_demo(args: argparse.Namespace) -> int:
    from serverless_jwt.dev.demo import run_demo

    return run_demo(args.template, verbose=args.verbose, mode=args.mode)
