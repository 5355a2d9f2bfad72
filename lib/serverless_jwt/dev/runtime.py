"""Run a template's function in this process, the way the Lambda Python runtime would.

Each :class:`FunctionRunner` is one warm "container": its handler module is imported once, fresh
(never shared with another function that also has an ``app.py``), with the function's environment set
while it imports and while it runs; later invocations reuse the module, so a verifier built at import
keeps its key cache exactly as in Lambda. Invocations are serialized: the environment is process-wide.
"""

from __future__ import annotations

import contextlib
import contextvars
import decimal
import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, TextIO

from serverless_jwt._jwks_state import detach_shared_records
from serverless_jwt.dev._function_environment import function_environment
from serverless_jwt.dev.invocation import FunctionError, FunctionTimeoutError, check_event_size, event_bytes
from serverless_jwt.dev.template import Function
from serverless_jwt.errors import ConfigurationError

__all__ = ["FunctionRunner", "LambdaContext", "function_environment", "init_error"]

_LOCK = threading.RLock()


class LambdaContext:
    """A stand-in for the Lambda context object (the attributes Powertools and handlers read).

    Examples
    --------
    >>> ctx = LambdaContext("MeFunction")
    >>> ctx.function_name, ctx.memory_limit_in_mb
    ('MeFunction', '128')
    """

    def __init__(self, function_name: str, *, memory_mb: int = 128, timeout_seconds: float = 3,
                 request_id: str | None = None, region: str = "us-east-1") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        # Text, as Lambda's runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: arithmetic on it
        # must fail here as it fails there.
        self.memory_limit_in_mb = str(memory_mb)
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        # As awslambdaric: an identity object always (its fields None unless Cognito called us).
        self.identity: Any = SimpleNamespace(cognito_identity_id=None, cognito_identity_pool_id=None)
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Sink(io.TextIOBase):
    """Where function output goes; loggers built at import keep this object, we move its target."""

    target: TextIO | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        target = self.target or sys.__stderr__
        if target is not None:
            target.write(text)
        return len(text)

    def flush(self) -> None:
        target = self.target or sys.__stderr__
        if target is not None:
            target.flush()


_SINK = _Sink()


@contextlib.contextmanager
def _environment(values: Mapping[str, str], drop: tuple[str, ...]) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        for name in drop:
            os.environ.pop(name, None)
        try:
            os.environ.update(values)
        except ValueError:  # a NUL byte: no process environment can hold it
            raise SetupError("an environment variable's value holds a NUL byte") from None
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class SetupError(ConfigurationError):
    """The function cannot be set up to run (its Handler, CodeUri or environment): a usage error, not
    an answer of the function's."""


class FunctionRunner:
    """Imports one function's handler and invokes it in-process (the fallback, and ``--in-process``).

    Parameters
    ----------
    function:
        From :class:`~serverless_jwt.dev.template.Template`.
    environment:
        Variables added over the template's (e.g. a dev issuer's ``JWT_ISSUER``/``JWT_AUDIENCE``).
        When given, the key-source variables the template set are replaced as a group.
    log_stream:
        Where the function's stdout and logs go (default: stderr, so stdout carries only results).

    Raises
    ------
    ConfigurationError
        When the handler cannot be found or imported (raised by :meth:`load` and :meth:`invoke`).

    Examples
    --------
    >>> runner = FunctionRunner(Template("template.yaml").function("MeFunction"))  # doctest: +SKIP
    >>> runner.invoke({"headers": {}})["statusCode"]                                # doctest: +SKIP
    401
    """

    def __init__(self, function: Function, *, environment: Mapping[str, str] | None = None,
                 env_vars: Mapping[str, Any] | None = None, log_stream: TextIO | None = None) -> None:
        self.function = function
        self.log_stream = log_stream
        self.environment = function_environment(function, environment, env_vars=env_vars)
        self._handler: Callable[[Any, Any], Any] | None = None
        self._module: ModuleType | None = None

    mode = "in-process"

    def close(self) -> None:
        """Forget the imported handler (the next invocation imports it afresh)."""
        self._handler = self._module = None

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        # JWT_* the template does not declare are hidden (declared ones are resolved into self.environment).
        drop = tuple(name for name in os.environ if name.startswith("JWT_"))
        with _LOCK, _environment(self.environment, drop):
            previous, _SINK.target = _SINK.target, self.log_stream or sys.stderr
            try:
                with contextlib.redirect_stdout(_SINK):
                    yield
            finally:
                _SINK.target = previous

    def load(self) -> Callable[[Any, Any], Any]:
        """Import the handler (once); returns it."""
        if self._handler is not None:
            return self._handler
        module_name, _, attr = self.function.handler.replace("/", ".").rpartition(".")
        if not module_name or not attr or module_name.startswith(".") or ".." in module_name:
            raise SetupError(f"{self.function.name}: Handler must look like 'app.handler'")
        code_dir = self.function.code_dir
        if not code_dir.is_dir():
            raise SetupError(f"{self.function.name}: CodeUri is not a local folder: {code_dir}")
        with self._running():
            module = _import_isolated(module_name, code_dir, self.function.name)
        handler: Callable[[Any, Any], Any] | None = getattr(module, attr, None)
        if not callable(handler):
            raise SetupError(f"{self.function.name}: {module_name}.py has no function {attr!r}")
        self._module, self._handler = module, handler
        return handler

    def context(self, request_id: str | None = None) -> LambdaContext:
        """A fresh context object for one invocation."""
        return LambdaContext(self.function.name, memory_mb=self.function.memory_mb,
                             timeout_seconds=self.function.timeout_seconds, request_id=request_id,
                             region=self.environment["AWS_REGION"])

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        """Call the handler with ``event`` and a fresh context; returns its result.

        Raises :class:`~serverless_jwt.dev.invocation.FunctionError` (the handler's exception chained,
        ``payload`` as the Lambda runtime would report it) when the handler raises, calls ``sys.exit``
        (``Runtime.ExitError``) or returns what Lambda cannot send (``Runtime.MarshalError``, over
        6 MB), and :class:`~serverless_jwt.dev.invocation.FunctionTimeoutError` past its ``Timeout``.
        The handler runs in a thread of its own so that the timeout can be answered; a thread cannot
        be stopped, so a handler past its time goes on in the background (the emulator stops it), and
        the next invocation is a cold start, as Lambda's after a timeout. An event over Lambda's
        request limit is :class:`~serverless_jwt.dev.invocation.EventTooLarge`, the handler not called.
        """
        check_event_size(self.function.name, event_bytes(event))  # as the emulator sends it
        handler = self.load()
        outcome: list[tuple[bool, Any]] = []
        with self._running():
            context = self.context(request_id)

            # The handler sees the context variables of the thread that imported it, as when Lambda's
            # runtime calls it on its main thread.
            variables = contextvars.copy_context()

            def call() -> None:
                try:
                    outcome.append((True, variables.run(handler, event, context)))
                except BaseException as exc:  # handed to the caller below, as if raised there
                    outcome.append((False, exc))

            worker = threading.Thread(target=call, name=f"{self.function.name} handler", daemon=True)
            worker.start()
            worker.join(self.function.timeout_seconds)
            if not outcome:
                # Lambda resets the environment after a timeout: the next invocation is a cold start.
                # The cut handler's thread goes on (nothing stops a thread), still in its key fetch; the
                # restarted function gets key-cache records of its own instead of waiting for that fetch.
                self.close()
                detach_shared_records()
                raise FunctionTimeoutError(self.function.timeout_seconds, context.aws_request_id)
        done, value = outcome[0]
        if done:
            return _marshalled(value, context.aws_request_id)
        if not isinstance(value, Exception):  # sys.exit() or KeyboardInterrupt: Lambda's runtime exits
            self.close()  # and the next invocation is a cold start
            raise FunctionError(_exit_error(value, context.aws_request_id, self.log_stream))
        stack = traceback.format_tb(value.__traceback__)[1:]  # from the handler down
        raise FunctionError({"errorMessage": str(value), "errorType": type(value).__name__,
                             "stackTrace": stack}) from value


# The runtime's response cap (the emulator's RequestEntityTooLarge), in bytes of JSON.
_MAX_RESPONSE_BYTES = 6291556


def _marshalled(value: Any, request_id: str) -> Any:
    """The result as the caller of Lambda gets it: through awslambdaric's JSON encoder (tuples as
    lists, ``Decimal`` as a number), its ``Runtime.MarshalError`` and the runtime's size cap."""
    def number(obj: Any) -> Any:
        if isinstance(obj, decimal.Decimal):
            return json.loads(str(obj)) if not obj.is_nan() else float("nan")
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    try:
        text = json.dumps(value, default=number, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise FunctionError({"errorMessage": f"Unable to marshal response: {exc}",
                             "errorType": "Runtime.MarshalError", "requestId": request_id,
                             "stackTrace": []}) from None
    if len(text.encode("utf-8")) > _MAX_RESPONSE_BYTES:
        raise FunctionError({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": (
            f"Response payload size exceeded maximum allowed payload size ({_MAX_RESPONSE_BYTES} bytes).")})
    return json.loads(text)


def init_error(exc: BaseException, handler: str) -> dict[str, Any]:
    """Lambda's error object for a handler module that failed to import, as awslambdaric's bootstrap
    words it (``Runtime.ImportModuleError``, ``Runtime.UserCodeSyntaxError``; any other exception as
    itself), so that an in-process ``invoke`` answers what the emulator's runtime and Lambda answer."""
    module = handler.rsplit(".", 1)[0]
    if isinstance(exc, ImportError):
        return {"errorMessage": f"Unable to import module '{module}': {exc}",
                "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
    if isinstance(exc, SyntaxError):
        return {"errorMessage": f"Syntax error in module '{module}': {exc}",
                "errorType": "Runtime.UserCodeSyntaxError", "requestId": "",
                "stackTrace": [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']}
    return {"errorMessage": str(exc), "errorType": type(exc).__name__}


def _exit_error(exc: BaseException, request_id: str, log: TextIO | None) -> dict[str, Any]:
    """Lambda's error object when the handler ends the runtime (``sys.exit``, ``KeyboardInterrupt``)."""
    if isinstance(exc, SystemExit) and not isinstance(exc.code, (int, type(None))):
        print(exc.code, file=log or sys.stderr)  # what Python prints for sys.exit("message")
    if isinstance(exc, KeyboardInterrupt):
        reason = "Runtime exited with error: signal: interrupt"
    else:
        code = exc.code if isinstance(exc, SystemExit) else 1
        status = 0 if code is None else code & 0xFF if isinstance(code, int) else 1
        reason = (f"Runtime exited with error: exit status {status}" if status
                  else "Runtime exited without providing a reason")
    return {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {reason}"}


def _import_isolated(module_name: str, code_dir: Path, function_name: str) -> ModuleType:
    """Import ``module_name`` from ``code_dir`` as a fresh module, then forget it from sys.modules.

    Modules loaded from ``code_dir`` are removed afterwards (and same-named ones loaded before are
    put back), so the next function's ``app`` or ``catalogue`` module is imported from its own folder.
    """
    top = module_name.split(".", 1)[0]
    shadowed = {n: m for n, m in sys.modules.items() if n == top or n.startswith(top + ".")}
    for name in shadowed:
        del sys.modules[name]
    before = set(sys.modules)
    sys.path.insert(0, str(code_dir))
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            raise SetupError(
                f"{function_name}: handler module {module_name!r} not found in {code_dir}") from None
        add_note = getattr(exc, "add_note", None)  # Python 3.11+: printed under the traceback
        if exc.name is not None and add_note is not None:
            add_note(f"hint: {function_name} imports {exc.name.split('.')[0]!r}, which this Python "
                         f"({sys.executable}) does not have. In-process runs use this Python's packages: "
                         "install the function's and its layers' requirements here (the samples need "
                         "'serverless-jwt[powertools]'), or run in Lambda's runtime (--emulator), "
                         "which installs them itself.")
        raise
    finally:
        sys.path.remove(str(code_dir))
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            inside = isinstance(file, str) and Path(file).resolve().is_relative_to(code_dir)
            if inside or name == top or name.startswith(top + "."):
                del sys.modules[name]
        sys.modules.update(shadowed)
