"""The template file before its resources: found (or the project folder named), parsed, refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverless_jwt.dev.template import Template
from serverless_jwt.errors import ConfigurationError

from .conftest import write_template as _write


def test_invalid_yaml_is_a_configuration_error_with_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"not valid YAML \(line [34]\)"):
        Template(_write(tmp_path, "Resources:\n  A: 1\n  B: [unclosed\n"))


def test_a_template_missing_in_a_subfolder_of_the_project_names_the_project_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `serverless-jwt invoke MeFunction` from lambdas/me/: the template is two folders up.
    _write(tmp_path, "Resources: {}\n")
    (tmp_path / "lambdas" / "me").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "lambdas" / "me")
    with pytest.raises(ConfigurationError) as raised:
        Template("template.yaml")
    assert f"{tmp_path / 'template.yaml'} exists: run from {tmp_path}, or pass --template" \
        in str(raised.value)
    monkeypatch.chdir(tmp_path.parent)  # nothing above: the plain message
    with pytest.raises(ConfigurationError, match=r"^template not found: nope\.yaml \(pass --template\)$"):
        Template("nope.yaml")


def test_no_template_in_the_working_directory_names_every_name_it_looked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `serverless-jwt invoke` in a folder without a template: it looked for template.yml and template.json
    # too (as sam does), and the message said only template.yaml.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as raised:
        Template("template.yaml")
    assert str(raised.value) == (f"template not found: no template.yaml, template.yml or template.json in "
                                 f"{tmp_path} (pass --template)")
