"""What :class:`~serverless_jwt.dev.template.Template` makes of a SAM template: functions, layers, routes.

Frozen records with the paths and settings the runners need; ``template.py`` builds them (and
re-exports them: import them from there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Function", "Layer", "Route"]


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP API route: ``method`` (upper case or ``ANY``), ``path`` (``/shows/{id}``, ``$default``)."""

    method: str
    path: str
    function: str

    @property
    def key(self) -> str:
        """The route key as API Gateway writes it: ``"GET /shows/{id}"`` or ``"$default"``."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Layer:
    """An ``AWS::Serverless::LayerVersion`` of the template.

    ``content_dir`` is its ``ContentUri``; ``build_dir`` the ``sam build`` artifact (which holds
    ``python/``) when there is one; ``requirements`` the ``requirements.txt`` to install when unbuilt;
    ``build_method`` its ``Metadata.BuildMethod`` (``python3.12``: sam build copies the content *into*
    ``python/``, so unbuilt, the content folder itself is what ``/opt/python`` will hold).
    """

    name: str
    content_dir: Path
    build_dir: Path | None
    requirements: Path | None
    build_method: str | None = None

    @property
    def python_dirs(self) -> tuple[Path, ...]:
        """What Lambda would put on ``sys.path`` from ``/opt/python``."""
        if self.build_dir is not None:
            candidates = [self.build_dir / "python"]
        elif (self.build_method or "").startswith("python"):
            candidates = [self.content_dir]
        else:
            candidates = [self.content_dir / "python"]
        return tuple(p for p in candidates if p.is_dir())


@dataclass(frozen=True, slots=True)
class Function:
    """An ``AWS::Serverless::Function`` or ``AWS::Lambda::Function`` with its resolved settings.

    ``inline_code``: its code is in the template (``InlineCode``, ``Code.ZipFile``), which sam local does
    not run (``code_dir`` is then the template's folder, and nothing is installed or watched for it).
    """

    name: str
    code_dir: Path
    handler: str
    runtime: str | None
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    routes: tuple[Route, ...]
    unresolved: tuple[str, ...] = field(default=())
    unresolved_reasons: dict[str, str] = field(default_factory=dict)
    declared: tuple[str, ...] = ()  # every Environment.Variables name, unresolved or null ones too
    function_name: str | None = None  # its FunctionName property, when set and resolvable
    source_dir: Path | None = None
    build_dir: Path | None = None
    stale_sources: tuple[Path, ...] = ()  # its code or its built layers' content, edited since sam build
    layers: tuple[Layer, ...] = ()
    external_layers: tuple[str, ...] = ()
    architecture: str = "x86_64"
    arn: str = ""
    inline_code: bool = False
    logging: dict[str, str] = field(default_factory=dict)  # LoggingConfig's text settings, resolved

    @property
    def log_variables(self) -> dict[str, str]:
        """What ``LoggingConfig`` sets, as sam local sets it (env_vars.py): the format the runtime logs
        in (JSON lines from ``logging`` at ``ApplicationLogLevel``, default INFO) and the log group."""
        out = {"AWS_LAMBDA_LOG_GROUP_NAME": self.logging["LogGroup"]} if "LogGroup" in self.logging else {}
        if "LogFormat" in self.logging:
            out["AWS_LAMBDA_LOG_FORMAT"] = self.logging["LogFormat"]
            if self.logging["LogFormat"] == "JSON":
                out["AWS_LAMBDA_LOG_LEVEL"] = self.logging.get("ApplicationLogLevel", "INFO")
        return out

    @property
    def stale_build(self) -> bool:
        """``sam build`` ran before the last edit of its code or of a layer it runs from the build."""
        return bool(self.stale_sources)

    @property
    def requirements(self) -> tuple[Path, ...]:
        """``requirements.txt`` files to install for it: its own unless built, and its unbuilt layers'."""
        own = None if self.build_dir is not None or self.source_dir is None else self.source_dir
        files = [own / "requirements.txt"] if own is not None else []
        files += [layer.requirements for layer in self.layers if layer.requirements is not None]
        return tuple(f for f in files if f.is_file())

    @property
    def watched_dirs(self) -> tuple[Path, ...]:
        """Folders whose changes call for a fresh runtime: the code used and its layers' content."""
        if self.inline_code:
            return ()
        dirs = [self.code_dir] + [layer.build_dir or layer.content_dir for layer in self.layers]
        return tuple(dict.fromkeys(d for d in dirs if d.is_dir()))
