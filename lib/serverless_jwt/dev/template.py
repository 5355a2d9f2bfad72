"""An AWS SAM template read the way ``sam local`` reads it: functions, layers, their settings, routes.

- Functions are ``AWS::Serverless::Function`` and ``AWS::Lambda::Function`` resources, as SAM CLI's
  ``SamFunctionProvider`` reads both (:mod:`~serverless_jwt.dev._function_code`): code in S3 is skipped;
  inline code is flagged :attr:`Function.inline_code` and not run (sam local refuses it).
- The file is parsed by :func:`~serverless_jwt.dev._cfn_yaml.yaml_parse` (SAM CLI's ``yaml_parse``), and
  found or refused, by :mod:`~serverless_jwt.dev._template_file`.
- ``Globals`` are merged into each ``AWS::Serverless::*`` resource by the SAM translator's own
  ``Globals`` class (the code ``sam local`` and CloudFormation's transform run), so maps merge, lists
  concatenate and scalars are replaced exactly as in the cloud.
- ``Parameters`` take their ``Default`` or a ``--parameter-overrides`` value (that reading, the
  ``Globals`` section's and ``Fn::ForEach``'s is :mod:`~serverless_jwt.dev._template_inputs`); intrinsics are
  resolved locally as SAM CLI resolves them (:mod:`~serverless_jwt.dev.intrinsics`: ``Ref``, ``Fn::Sub``,
  ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::Base64``, ``Fn::FindInMap``, ``Fn::GetAZs``,
  ``Fn::If`` with ``Conditions``, ``Fn::GetAtt Function.Arn``). Anything else (another resource's
  attribute, ``Fn::ImportValue``) is never guessed: an environment variable that needs it is ``""``, as
  sam local passes it, and listed with the reason in :attr:`Function.unresolved_reasons` (so are null,
  list and mapping values, which sam local also turns into ``""``); a setting the runtime needs
  (``CodeUri``, ``Handler``, ``Runtime``, ``Timeout``...) raises ConfigurationError naming the function
  and the property.
- When ``sam build`` has run (``.aws-sam/build/template.yaml`` beside the template), a function's code
  is its build artifact, as with ``sam local``; :attr:`Function.stale_build` says when its source, or
  the source of a layer it runs from the build, changed after the build.
- :attr:`Template.state_dir` is where the local loop keeps the project's state: outside the project when
  ``sam build`` would copy it from :attr:`Template.code_folders` (:mod:`~serverless_jwt.dev._state_dir`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serverless_jwt.dev._function_code import (
    ARCHIVES,
    INLINE,
    code_location,
    newest_mtime,
    stale_sources,
    unpacked,
)
from serverless_jwt.dev._state_dir import built_sources, choose, project_folder
from serverless_jwt.dev._state_dir import make as make_state
from serverless_jwt.dev._template_checks import bounded, malformed
from serverless_jwt.dev._template_file import read_template
from serverless_jwt.dev._template_inputs import (
    language_extensions,
    parameter_values,
    parse_overrides,
    sam_globals,
)
from serverless_jwt.dev._template_model import Function, Layer, Route
from serverless_jwt.dev.intrinsics import (
    FUNCTIONS,
    LAYER,
    LAYERS,
    UNRESOLVED,
    Intrinsics,
    Unresolvable,
    as_text,
    function_arn,
)
from serverless_jwt.errors import ConfigurationError

__all__ = ["UNRESOLVED", "Function", "Layer", "Route", "Template", "newest_mtime", "parse_overrides"]


class Template:
    """A parsed SAM template.

    Parameters
    ----------
    path:
        The template file (YAML or JSON); ``CodeUri`` paths are relative to its folder.
    parameter_overrides:
        Parameter values that replace the template's defaults.
    use_build:
        Use ``.aws-sam/build`` artifacts when ``sam build`` has run (default), as ``sam local`` does.

    Raises
    ------
    ConfigurationError
        The file is missing, unreadable, not a SAM template, or a function setting cannot be resolved.

    Examples
    --------
    >>> t = Template("template.yaml", parameter_overrides={"JwtAudience": "api"})  # doctest: +SKIP
    >>> t.function("MeFunction").environment["JWT_AUDIENCE"]                       # doctest: +SKIP
    'api'
    """

    def __init__(self, path: str | os.PathLike[str], *, parameter_overrides: Mapping[str, str] | None = None,
                 use_build: bool = True):
        self.path = Path(path)
        self.dir = self.path.resolve().parent
        doc = read_template(self.path)
        overrides = dict(parameter_overrides or {})
        pseudo = {k: v for k, v in overrides.items() if k.startswith("AWS::")}
        given = {k: v for k, v in overrides.items() if k not in pseudo}
        with malformed(self.path, "Parameters"):
            declared = doc.get("Parameters") or {}
            self._declared = set(declared)
            # As sam does: a name the template does not declare is ignored (the caller may say so).
            self.ignored_overrides = sorted(set(given) - set(declared))
            self.parameters = parameter_values(declared, given)
        self.document: dict[str, Any] = language_extensions(doc, self.parameters, self.path)
        self.resources: dict[str, Any] = self.document["Resources"]
        self._intrinsics = Intrinsics(self.parameters, self._declared, self.resources, pseudo,
                                      mappings=self.document.get("Mappings"),
                                      conditions=self.document.get("Conditions"))
        build = self.dir / ".aws-sam" / "build"
        self.build_root: Path | None = build if use_build and (build / "template.yaml").is_file() else None
        self._globals = sam_globals(self.document, self.path)
        self.layers: dict[str, Layer] = {}
        for name, resource in self.resources.items():
            if isinstance(resource, dict) and resource.get("Type") in LAYERS:
                with malformed(self.path, name):
                    layer = self._layer(name, resource["Type"], self._merged(name, resource),
                                        resource.get("Metadata"))
                if layer is not None:
                    self.layers[name] = layer
        self.functions: dict[str, Function] = {}
        self.skipped: dict[str, str] = {}  # functions sam local does not run either, and why
        # What sam build copies whole (each function's code folder, layer's content, image's context).
        self.code_folders = {f"{n}'s ContentUri": layer.content_dir for n, layer in self.layers.items()}
        located: dict[str, tuple[dict[str, Any], Any]] = {}
        for name, resource in self.resources.items():
            if isinstance(resource, dict) and resource.get("Type") in FUNCTIONS:
                with malformed(self.path, name):
                    props = self._merged(name, resource)
                    if props.get("PackageType") == "Image":  # sam local needs Docker for it; skipped
                        self.skipped[name] = f"{name} is a container image (PackageType Image), not run here"
                        self._image_context(name, resource.get("Metadata"))
                        continue
                    code = code_location(resource["Type"], name, props, self.require)
                    if code is None:  # as SamFunctionProvider: code in S3 is not run locally
                        self.skipped[name] = (f"{name}'s code is in S3, which sam local does not "
                                              "download either")
                        continue
                    if code is not INLINE:
                        key = "CodeUri" if resource["Type"] == "AWS::Serverless::Function" else "Code"
                        self.code_folders[f"{name}'s {key}"] = self._code_dir(name, code, key)
                    located[name] = (props, code)
        self.code_folders.update(built_sources(self.dir))
        #: Where the local loop keeps this project's state unless --state-dir names another (_state_dir).
        self.state_dir = choose(project_folder(self.dir), self.code_folders)
        for name, (props, code) in located.items():
            with malformed(self.path, name):
                self.functions[name] = self._function(name, props, code)

    @property
    def routes(self) -> list[Route]:
        """Every HTTP API route of every function, in template order."""
        return [route for function in self.functions.values() for route in function.routes]

    def function(self, name: str) -> Function:
        """The function with this logical id, else with this ``FunctionName`` (as ``sam local invoke``
        finds it); ConfigurationError naming the choices otherwise."""
        named = [f for f in self.functions.values() if name in (f.name, f.function_name)]
        if named:
            return self.functions.get(name) or min(named, key=lambda f: f.name.lower())
        choices = ", ".join(self.functions) or "none"
        why = f"; {self.skipped[name]}" if name in self.skipped else ""
        near = [f.name for f in self.functions.values() if name.lower() in (f.name.lower(),
                                                                             (f.function_name or "").lower())]
        hint = f"; did you mean {near[0]}?" if near and not why else ""
        raise ConfigurationError(f"no function {name!r} in {self.path} (functions: {choices}){why}{hint}")

    def properties(self, name: str) -> dict[str, Any]:
        """A resource's ``Properties`` with ``Globals`` merged in by the SAM translator (any SAM type:
        ``Function``, ``Api``, ``HttpApi``, ``LayerVersion``...); intrinsics left as written."""
        resource = self.resources.get(name)
        if not isinstance(resource, dict):
            raise ConfigurationError(f"no resource {name!r} in {self.path}")
        return self._merged(name, resource)

    # -- intrinsic functions ---------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """``value`` with its intrinsic functions evaluated (nested ones too); :data:`UNRESOLVED` when
        one of them cannot be evaluated locally (see :meth:`explain`)."""
        try:
            return self._intrinsics.eval(value)
        except Unresolvable:
            return UNRESOLVED

    def explain(self, value: Any) -> str | None:
        """Why :meth:`resolve` cannot evaluate ``value`` locally (``None`` when it can)."""
        try:
            self._intrinsics.eval(value)
        except Unresolvable as exc:
            return str(exc)
        return None

    def require(self, value: Any, where: str) -> Any:
        """:meth:`resolve`, raising ConfigurationError naming ``where`` when it cannot be evaluated."""
        try:
            return self._intrinsics.eval(value)
        except Unresolvable as exc:
            raise ConfigurationError(f"{where}: {exc}") from None

    # -- resources -------------------------------------------------------------------------------

    def _merged(self, name: str, resource: dict[str, Any]) -> dict[str, Any]:
        props = resource.get("Properties") or {}
        if not isinstance(props, dict):
            raise ConfigurationError(f"{name}: Properties must be a mapping")
        if self._globals is None:
            return copy.deepcopy(props)
        merged: dict[str, Any] = self._globals.merge(
            resource["Type"], copy.deepcopy(props), name, resource.get("IgnoreGlobals"))
        return merged

    def _code_dir(self, name: str, uri: Any, kind: str) -> Path:
        if not isinstance(uri, str) or uri.lower().startswith("s3://"):
            raise ConfigurationError(f"{name}: {kind} must be a local folder to run locally "
                                     "(an S3 location is not downloaded)")
        return (self.dir / uri).resolve()

    def _image_context(self, name: str, metadata: Any) -> None:
        context = self.resolve(metadata.get("DockerContext")) if isinstance(metadata, dict) else None
        if isinstance(context, str):
            self.code_folders[f"{name}'s DockerContext"] = (self.dir / context).resolve()

    def _built(self, name: str) -> Path | None:
        if self.build_root is None:
            return None
        built = self.build_root / name
        return built if built.is_dir() else None

    def _layer(self, name: str, kind: str, props: dict[str, Any], metadata: Any) -> Layer | None:
        if kind == LAYER:
            uri = self.require(props.get("ContentUri", "."), f"{name}.ContentUri")
            if not isinstance(uri, str) or uri.lower().startswith("s3://"):
                return None  # in S3: not downloaded, as sam local does not (a function using it says so)
        else:  # AWS::Lambda::LayerVersion: only a local Content path is local (S3 is not downloaded)
            uri = self.resolve(props.get("Content"))
            if not isinstance(uri, str):
                return None
        content = self._code_dir(name, uri, "ContentUri" if kind == LAYER else "Content")
        requirements = content / "requirements.txt"
        built = self._built(name)
        method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
        if built is None and isinstance(metadata, dict) and "SamResourceId" in metadata and (
                content / "python").is_dir():
            # A template `sam build` wrote (`-t .aws-sam/build/template.yaml`): its layer folders are the
            # build artifacts themselves (python/ inside), whatever BuildMethod the source declared.
            built = content
        return Layer(name, content, built, None if built is not None or not requirements.is_file()
                     else requirements, method if isinstance(method, str) else None)

    def _environment(self, variables: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        # As sam local (env_vars.py: _stringify_value): what is not text, a number or a boolean
        # (unresolvable, null, a list, a mapping) is passed as "", and the reason is kept for a notice.
        environment: dict[str, str] = {}
        reasons: dict[str, str] = {}
        for key, raw in variables.items():
            try:
                value = self._intrinsics.eval(raw)
            except Unresolvable as exc:
                value, reasons[str(key)] = None, str(exc)
            if isinstance(value, (list, dict)) or (value is None and str(key) not in reasons):
                what = ("null (or AWS::NoValue, which leaves the variable out once deployed)" if value is None
                        else "a list" if isinstance(value, list) else "a mapping")
                reasons[str(key)] = f"its value is {what}, which sam local passes as \"\""
            environment[str(key)] = "" if isinstance(value, (list, dict)) else as_text(value)
        return environment, reasons

    def _function(self, name: str, props: dict[str, Any], code: Any) -> Function:
        env: dict[str, Any] = {}
        block = props.get("Environment")
        if isinstance(block, dict) and isinstance(block.get("Variables"), dict):
            env.update(block["Variables"])
        environment, reasons = self._environment(env)
        inline = code is INLINE
        source = self.dir if inline else self._code_dir(name, code, "CodeUri")
        if not inline and source.name.endswith(ARCHIVES) and source.is_file():  # as sam local unpacks it
            make_state(self.state_dir)  # owner-only, not made as a mere parent of code/
            source = unpacked(source, self.state_dir / "code", name)
        built = None if inline else self._built(name)
        handler = self.require(props.get("Handler"), f"{name}.Handler")
        if not isinstance(handler, str) or not handler:  # as SAM's MissingFunctionHandlerException
            raise ConfigurationError(f"{name}: no Handler (set Properties.Handler, or "
                                     "Globals.Function.Handler for AWS::Serverless::Function)")
        runtime = self.require(props.get("Runtime"), f"{name}.Runtime")
        layers, external = [], []
        for item in self._intrinsics.listed(props.get("Layers")):  # !If picks as CloudFormation does
            ref = item.get("Ref") if isinstance(item, dict) and len(item) == 1 else None
            if ref == "AWS::NoValue":
                continue
            if isinstance(ref, str) and ref in self.layers:
                layers.append(self.layers[ref])
            else:
                value = self.resolve(item)
                external.append(value if isinstance(value, str) else repr(item))
        # A layer runs from the build too (the sample's library is one): its source edited since is stale.
        stale = stale_sources(self.build_root, ([source] if built is not None else []) + [
            layer.content_dir for layer in layers if layer.build_dir not in (None, layer.content_dir)])
        archs = self.require(props.get("Architectures", ["x86_64"]), f"{name}.Architectures")
        log = props.get("LoggingConfig")
        return Function(
            name=name,
            code_dir=built or source,
            handler=handler if isinstance(handler, str) else "",
            runtime=runtime if isinstance(runtime, str) else None,
            timeout_seconds=bounded(self.require(props.get("Timeout", 3), f"{name}.Timeout") or 3,
                                     f"{name}.Timeout", 1, 900, float),
            memory_mb=int(bounded(self.require(props.get("MemorySize", 128), f"{name}.MemorySize") or 128,
                                   f"{name}.MemorySize", 128, 10240, int)),
            environment=environment,
            routes=tuple(self._routes(name, props)),
            unresolved=tuple(reasons),
            unresolved_reasons=reasons,
            inline_code=inline,
            declared=tuple(str(key) for key in env),
            source_dir=None if inline else source,
            build_dir=built,
            stale_sources=stale,
            layers=tuple(layers),
            external_layers=tuple(external),
            architecture=str(archs[0]) if isinstance(archs, list) and archs else "x86_64",
            arn=function_arn(name),
            function_name=self._optional_text(props.get("FunctionName")),
            logging={str(k): v for k, item in (log.items() if isinstance(log, dict) else ())
                     if (v := self._optional_text(item)) is not None},
        )

    def _optional_text(self, raw: Any) -> str | None:
        """A property's text value; ``None`` when it is absent or cannot be resolved locally."""
        if raw is None:
            return None
        try:
            value = self._intrinsics.eval(raw)
        except Unresolvable:
            return None
        return value if isinstance(value, str) and value else None

    def _routes(self, name: str, props: dict[str, Any]) -> list[Route]:
        routes = []
        for event in (props.get("Events") or {}).values():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            ep = event.get("Properties") or {}
            path, method = self.resolve(ep.get("Path", "$default")), self.resolve(ep.get("Method", "ANY"))
            routes.append(Route(str(method).upper(), str(path), name))
        return routes
