"""The records a template is read into (``dev/_template_model.py``): what their derived properties say."""

from __future__ import annotations

from pathlib import Path

from serverless_jwt.dev.template import Function, Layer, Route


def test_route_keys_are_written_as_api_gateway_writes_them() -> None:
    assert Route("GET", "/shows/{id}", "Fn").key == "GET /shows/{id}"
    assert Route("ANY", "$default", "Fn").key == "$default"


def test_a_layers_python_folder_depends_on_its_build(tmp_path: Path) -> None:
    content, build = tmp_path / "content", tmp_path / "build"
    (content / "python").mkdir(parents=True)
    (build / "python").mkdir(parents=True)
    assert Layer("L", content, build, None).python_dirs == (build / "python",)
    assert Layer("L", content, None, None).python_dirs == (content / "python",)
    # BuildMethod python3.x: sam build copies the content into python/, so unbuilt it is the content itself.
    assert Layer("L", content, None, None, build_method="python3.12").python_dirs == (content,)
    assert Layer("L", tmp_path / "missing", None, None).python_dirs == ()


def _function(tmp_path: Path, **overrides: object) -> Function:
    settings: dict[str, object] = {
        "name": "Fn", "code_dir": tmp_path / "src", "handler": "app.handler", "runtime": "python3.12",
        "timeout_seconds": 3.0, "memory_mb": 128, "environment": {}, "routes": (),
        "source_dir": tmp_path / "src"}
    settings.update(overrides)
    return Function(**settings)  # type: ignore[arg-type]


def test_requirements_are_the_functions_own_unless_built_and_its_unbuilt_layers(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "requirements.txt").write_text("pyjwt\n")
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "requirements.txt").write_text("msgspec\n")
    layer = Layer("L", tmp_path / "layer", None, tmp_path / "layer" / "requirements.txt")
    ghost = Layer("G", tmp_path / "layer", None, tmp_path / "nowhere.txt")
    assert _function(tmp_path, layers=(layer, ghost)).requirements == (
        tmp_path / "src" / "requirements.txt", tmp_path / "layer" / "requirements.txt")
    built = _function(tmp_path, build_dir=tmp_path / "build", layers=(layer,))
    assert built.requirements == (tmp_path / "layer" / "requirements.txt",)


def test_watched_folders_are_the_code_and_layer_contents_once_each(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "built-layer").mkdir()
    layers = (Layer("A", tmp_path / "src", None, None),  # the same folder as the code: listed once
              Layer("B", tmp_path / "content", tmp_path / "built-layer", None),
              Layer("C", tmp_path / "missing", None, None))
    assert _function(tmp_path, layers=layers).watched_dirs == (tmp_path / "src", tmp_path / "built-layer")
