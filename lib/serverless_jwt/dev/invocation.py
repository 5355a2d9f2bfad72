"""What an invocation can end in besides a result, shared by the emulator and the in-process runner.

``invoke`` on a runner returns the function's decoded JSON result, or raises one of these. Each carries
``payload``: the JSON that ``sam local invoke`` prints in that case (Lambda's error object).

::

    InvocationError            payload
    ├─ FunctionError           the handler raised, or the module failed to import (``init=True``)
    ├─ FunctionTimeoutError    the function ran past its Timeout and was stopped
    ├─ RuntimeFailure          no answer at all (the runtime could not start or died)
    │  └─ EventTooLarge        an event over Lambda's 6 MB request limit: refused, the function not run
    └─ UnsupportedInlineCode   its code is in the template, which sam local does not run either

:func:`invoke_within` is API Gateway's side: it stops waiting after the integration timeout
(:class:`IntegrationTimeout`) while the function runs on, as a deployed function does.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

__all__ = ["INLINE_CODE_MESSAGE", "MAX_EVENT_BYTES", "EventTooLarge", "FunctionError", "FunctionTimeoutError",
           "IntegrationTimeout", "InvocationError", "Runner", "RuntimeFailure", "UnsupportedInlineCode",
           "check_event_size", "event_bytes", "invoke_within"]

# SAM CLI's words (samcli/local/apigw/local_apigw_service.py, commands/local/lib/local_lambda.py).
INLINE_CODE_MESSAGE = ("Inline code is not supported for sam local commands. "
                       "Please write your code in a separate file.")


class InvocationError(Exception):
    """An invocation that produced no result; ``payload`` is what Lambda would answer."""

    def __init__(self, message: str, payload: dict[str, Any]) -> None:
        super().__init__(message)
        self.payload = payload


class FunctionError(InvocationError):
    """The function raised (``errorType``/``errorMessage`` as the runtime reported them); ``out_of_memory``:
    its runtime was killed for passing ``MemorySize``."""

    def __init__(self, payload: dict[str, Any], *, init: bool = False, out_of_memory: bool = False) -> None:
        self.error_type = str(payload.get("errorType", "Error"))
        self.error_message = str(payload.get("errorMessage", ""))
        self.init = init
        self.out_of_memory = out_of_memory
        super().__init__(f"{self.error_type}: {self.error_message}", payload)


class FunctionTimeoutError(InvocationError):
    """The function did not answer within its ``Timeout``."""

    def __init__(self, timeout_seconds: float, request_id: str = "") -> None:
        message = f"Task timed out after {timeout_seconds:.2f} seconds"
        prefix = f"RequestId: {request_id} Error: " if request_id else ""
        super().__init__(message, {"errorType": "Sandbox.Timedout", "errorMessage": prefix + message})
        self.timeout_seconds = timeout_seconds


class RuntimeFailure(InvocationError):
    """The runtime gave no answer (it could not start, crashed, or answered something unreadable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"errorType": "Runtime.Failure", "errorMessage": message})


# Lambda's limit on a synchronous invocation's event, in bytes of JSON: its Invoke API refuses a larger
# one before the function runs. The emulator instead cuts the event at 6291556 bytes and runs the function
# with what is left (Runtime.UnmarshalError), so both runners check it first.
MAX_EVENT_BYTES = 6291456


class EventTooLarge(RuntimeFailure):
    """The event is over :data:`MAX_EVENT_BYTES`: Lambda's ``RequestEntityTooLargeException``."""

    def __init__(self, function: str, size: int) -> None:
        lambdas = f"Request must be smaller than {MAX_EVENT_BYTES} bytes for the InvokeFunction operation"
        super().__init__(f"the event is {size} bytes of JSON, and Lambda refuses one over {MAX_EVENT_BYTES} "
                         f"before {function} runs (RequestEntityTooLargeException: {lambdas})")
        self.payload = {"errorType": "RequestEntityTooLargeException", "errorMessage": lambdas}
        self.size = size


def event_bytes(event: Any) -> bytes:
    """The event as the runtime is sent it: JSON in UTF-8, as API Gateway sends it to Lambda (``\\u``
    escapes would take a character of CJK text from 3 bytes to 6, and the event past the limit)."""
    try:
        return json.dumps(event, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot carry: escaped, as JSON allows
        return json.dumps(event).encode("utf-8")


def check_event_size(function: str, data: bytes) -> None:
    """Raise :class:`EventTooLarge` when ``data`` (the event's JSON) is over Lambda's request limit."""
    if len(data) > MAX_EVENT_BYTES:
        raise EventTooLarge(function, len(data))


class UnsupportedInlineCode(InvocationError):
    """The function's code is ``InlineCode`` / ``Code.ZipFile``: not run locally, as with sam local."""

    def __init__(self, function: str) -> None:
        # As `sam local invoke` words it (UnsupportedInlineCodeError).
        message = f"{INLINE_CODE_MESSAGE[:-1]} for the function {function}."
        super().__init__(message, {"errorType": "UnsupportedInlineCodeError", "errorMessage": message})
        self.function = function


class Runner(Protocol):
    """One function's warm runtime: ``invoke`` returns the decoded result; ``close`` stops it."""

    mode: str

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any: ...

    def close(self) -> None: ...


class IntegrationTimeout(TimeoutError):
    """The caller (API Gateway) stopped waiting for an answer; the function itself was not stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within the integration timeout ({seconds:g} s)")
        self.seconds = seconds


def invoke_within(runner: Any, event: Any, *, request_id: str | None, seconds: float) -> Any:
    """``runner.invoke(event)``, or :class:`IntegrationTimeout` once ``seconds`` pass without an answer.

    The invocation goes on in its own thread (its runtime stays busy until it ends, as a deployed
    function keeps running after API Gateway's 504); its outcome is then dropped.
    """
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = runner.invoke(event, request_id=request_id)
        except BaseException as exc:  # handed to the waiting caller below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="invocation", daemon=True).start()
    if not done.wait(seconds):
        raise IntegrationTimeout(seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
