"""Choose how the template's functions run, and prepare one runner per function.

``emulator`` (the default wherever it can run: Linux x86_64/arm64 with aws-sam-cli installed): Lambda's
own Python runtime under the Runtime Interface Emulator, in the runtime's cached environment
(:mod:`~serverless_jwt.dev.environments`, :mod:`~serverless_jwt.dev.emulator`). ``in-process``: the
handler imported into this process (:mod:`~serverless_jwt.dev.runtime`): the fallback elsewhere, and an
explicit fast mode (no subprocess, no environment build; the current interpreter and its packages).
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from serverless_jwt.dev.invocation import Runner, UnsupportedInlineCode
from serverless_jwt.dev.template import Function, Template

__all__ = ["InlineCodeRunner", "Prepared", "choose_mode", "not_run_here", "prepare"]

MODES = ("auto", "emulator", "in-process")


def choose_mode(requested: str = "auto") -> tuple[str, str | None]:
    """``(mode, notice)``: the emulator unless it cannot run here (then the reason is the notice)."""
    from serverless_jwt.dev.emulator import emulator_binary

    if requested == "in-process":
        return "in-process", None
    binary, why = emulator_binary()
    if binary is not None:
        return "emulator", None
    if requested == "emulator":
        from serverless_jwt.errors import ConfigurationError

        raise ConfigurationError(f"--emulator: {why}")
    return "in-process", f"{why}: running functions in-process instead"


class InlineCodeRunner:
    """The runner of a function whose code is in the template: every invocation raises
    :class:`~serverless_jwt.dev.invocation.UnsupportedInlineCode` (start-api answers 501, as sam local)."""

    mode = "none"

    def __init__(self, function: Function) -> None:
        self.function = function

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        raise UnsupportedInlineCode(self.function.name)

    def close(self) -> None:
        pass


@dataclass
class Prepared:
    """Runners by function name, the mode they use, and one-line notices to show the user."""

    mode: str
    runners: dict[str, Runner]
    notices: list[str] = field(default_factory=list)
    runtimes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The one line that says how the functions run."""
        if self.mode == "in-process":
            return f"mode: in-process (handlers imported into this Python {sys.version.split()[0]})"
        runtimes = ", ".join(sorted(self.runtimes)) or "(no function to run)"
        return f"mode: emulator (Lambda's runtime {runtimes} under the Runtime Interface Emulator)"

    def start(self) -> None:
        """Get every runner ready: import the handlers (in-process) or start the emulators."""
        for runner in self.runners.values():
            load = getattr(runner, "load", None)
            if callable(load):
                load()

    def close(self) -> None:
        """Stop every runner (each emulator and its runtime process)."""
        for runner in self.runners.values():
            runner.close()


def _lambda_pythons() -> list[str]:
    """The Python runtimes SAM CLI knows (``sam local`` refuses the others), or ``[]`` without it."""
    try:
        from samcli.lib.utils.architecture import SUPPORTED_RUNTIMES
    except ImportError:  # the in-process loop can run without aws-sam-cli: no list, no check
        return []
    pythons = [name for name in SUPPORTED_RUNTIMES if name.startswith("python")]
    return sorted(pythons, key=lambda name: [int(n) for n in name.removeprefix("python").split(".")
                                             if n.isdigit()])


def not_run_here(function: Function) -> str | None:
    """Why ``function`` cannot run in the local loop (a Runtime other than Python's), else ``None``."""
    if function.runtime is not None and not function.runtime.startswith("python"):
        return (f"{function.name}: Runtime {function.runtime} is not run locally here "
                "(the local loop runs Python functions)")
    return None


def prepare(template: Template, names: Iterable[str], *, mode: str = "auto",
            environment: Mapping[str, str] | None = None,
            env_vars: Mapping[str, Mapping[str, Any]] | None = None, cache_dir: Path | None = None,
            log_stream: TextIO | None = None, watch: bool = False,
            log: Callable[[str], None] = lambda _: None) -> Prepared:
    """Runners for the functions ``names`` of ``template`` (environments built first when needed).

    Raises
    ------
    ConfigurationError
        When an environment cannot be built, or ``mode="emulator"`` cannot run here.
    """
    from serverless_jwt.errors import ConfigurationError

    inline = [template.function(name) for name in names if template.function(name).inline_code]
    functions = [template.function(name) for name in names if not template.function(name).inline_code]
    for function in functions:
        if (why := not_run_here(function)) is not None:
            raise ConfigurationError(why)
        if function.runtime is not None and (known := _lambda_pythons()) and function.runtime not in known:
            # A typo (python3.21, python312) that sam local refuses too ("Unsupported Lambda runtime").
            raise ConfigurationError(f"{function.name}: Runtime {function.runtime} is not a Lambda runtime "
                                     f"(Python's: {', '.join(known)})")
        if not function.code_dir.is_dir():  # a template error (exit 2) in every mode, before any runtime
            raise ConfigurationError(f"{function.name}: CodeUri is not a local folder: {function.code_dir}")
    chosen, notice = choose_mode(mode)
    for function in functions if chosen == "emulator" else ():  # in-process, this interpreter's packages
        for layer in function.layers:  # a missing one would leave /opt empty without a word
            if layer.build_dir is None and not layer.content_dir.is_dir():
                raise ConfigurationError(f"{function.name}: layer {layer.name}: ContentUri is not a local "
                                         f"folder: {layer.content_dir}")
    prepared = Prepared(chosen, {}, [notice] if notice else [], [])
    for function in inline:  # nothing to install or start: sam local refuses to run them
        prepared.runners[function.name] = InlineCodeRunner(function)
        prepared.notices.append(f"{function.name}: inline code (InlineCode / Code.ZipFile) is not run "
                                "locally, as with sam local: its routes answer 501")
    for function in functions:
        prepared.notices += _function_notices(function)
    if chosen == "in-process":
        from serverless_jwt.dev.runtime import FunctionRunner

        for function in functions:
            prepared.runners[function.name] = FunctionRunner(
                function, environment=environment, env_vars=_for(env_vars, function),
                log_stream=log_stream)
        return prepared
    from serverless_jwt.dev._pool import RunnerPool
    from serverless_jwt.dev.emulator import EmulatorRunner
    from serverless_jwt.dev.environments import ensure_environment

    pythons: dict[str | None, Path] = {}
    for function in functions:
        if function.runtime not in pythons:
            # One environment per runtime, holding every function's requirements of that runtime, so
            # `invoke` and `start-api` share it instead of rebuilding for each other.
            same = [f for f in template.functions.values() if f.runtime == function.runtime]
            requirements = sorted({r for f in same for r in f.requirements})
            env = ensure_environment(function.runtime, requirements, base_dir=template.dir, log=log,
                                     cache_dir=cache_dir or _cache_dir(template))
            if env.notice:
                prepared.notices.append(env.notice)
            # The interpreter that runs it, when not the runtime's own (the notice above says why).
            wanted = function.runtime or "?"
            prepared.runtimes.append(wanted if env.notice is None else f"{wanted} on Python {env.version}")
            pythons[function.runtime] = env.python
        # Lambda's scale-out: concurrent requests to one function each get an environment.
        prepared.runners[function.name] = RunnerPool(functools.partial(
            EmulatorRunner, function, python=pythons[function.runtime], environment=environment,
            env_vars=_for(env_vars, function), log_stream=log_stream, watch=watch))
    return prepared


def _for(env_vars: Mapping[str, Mapping[str, Any]] | None, function: Function) -> dict[str, Any] | None:
    """An ``--env-vars`` file's values for one function: ``Parameters`` (all functions), then its own
    entry, found as sam finds it: by logical id, else by its ``FunctionName``."""
    if env_vars is None:
        return None
    own = env_vars.get(function.name)
    if not own and function.function_name:
        own = env_vars.get(function.function_name)
    return {**env_vars.get("Parameters", {}), **(own or {})}


def _cache_dir(template: Template) -> Path:
    # The project's state folder (above .aws-sam/build for a built template; outside the project when
    # sam build would copy it), as the dev issuer's: the runtimes built for the source template serve
    # the built one too.
    return Path(os.environ.get("SERVERLESS_JWT_CACHE_DIR") or template.state_dir)


def _function_notices(function: Function) -> list[str]:
    reasons = function.unresolved_reasons.items()
    # The variable is "" as sam local passes it; the reason says what the template left unknown.
    notes = [f'{function.name}: {name} is "" (unless the shell or --env-vars sets it): {why}'
             for name, why in reasons]
    if function.build_dir is not None:
        notes.append(f"{function.name}: using the sam build artifact {function.build_dir}")
        if function.stale_build:
            newer = ", ".join(str(d) for d in function.stale_sources)
            notes.append(f"{function.name}: WARNING the build is older than {newer}; "
                         "run sam build again (or delete .aws-sam/build) to use the current code")
    for layer in function.external_layers:
        notes.append(f"{function.name}: layer {layer} is not in this template and is not downloaded")
    # sam local runs the declared architecture (an arm64 image, emulated by Docker); we run this machine's.
    here = {"aarch64": "arm64", "amd64": "x86_64"}.get(platform.machine().lower(), platform.machine().lower())
    if function.architecture in ("x86_64", "arm64") and function.architecture != here:
        notes.append(f"{function.name}: Architectures {function.architecture}, run as {here} on this machine "
                     f"(native packages built for {function.architecture} do not load here)")
    return notes
