"""Where a function's code is (CodeUri, Code, InlineCode, ZipFile, S3), as SamFunctionProvider reads it."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from serverless_jwt.dev._function_code import INLINE, code_location, newest_mtime, unpacked
from serverless_jwt.errors import ConfigurationError

SAM, RAW = "AWS::Serverless::Function", "AWS::Lambda::Function"


def _resolve(value: Any, where: str) -> Any:
    # What Template.require does with the one intrinsic these cases use.
    return value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value


@pytest.mark.parametrize(("kind", "props", "expected"), [
    (SAM, {}, "."),
    (SAM, {"CodeUri": "src/"}, "src/"),
    (SAM, {"CodeUri": {"Fn::Sub": "src/"}}, "src/"),
    (SAM, {"InlineCode": "x = 1", "CodeUri": "src/"}, INLINE),  # SAM CLI reads InlineCode first
    (SAM, {"InlineCode": "", "CodeUri": "src/"}, "src/"),
    (SAM, {"CodeUri": "s3://bucket/code.zip"}, None),
    (SAM, {"CodeUri": {"Bucket": "b", "Key": "k"}}, None),
    (RAW, {}, "."),
    (RAW, {"Code": "build/Fn"}, "build/Fn"),
    (RAW, {"Code": {"ZipFile": "x = 1"}}, INLINE),
    (RAW, {"Code": {"S3Bucket": "b", "S3Key": "k"}}, None),
    (RAW, {"Code": {"ImageUri": "repo:tag"}}, "."),
    (RAW, {"InlineCode": "x = 1"}, "."),  # not a property of AWS::Lambda::Function
])
def test_code_is_located_as_sam_cli_locates_it(kind: str, props: dict[str, Any], expected: Any) -> None:
    assert code_location(kind, "Fn", props, _resolve) == expected  # INLINE is equal to itself only


# pip install -e and python -m build rewrite lib/serverless_jwt.egg-info (the README does both after sam
# build): like a bytecode cache, that is no edit of the code, so no stale-build warning and no restart.
@pytest.mark.parametrize(("folder", "name"), [("__pycache__", "app.pyc"),
                                              ("serverless_jwt.egg-info", "PKG-INFO")])
def test_newest_mtime_skips_cache_and_packaging_metadata_folders(tmp_path: Path, folder: str,
                                                                 name: str) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / folder).mkdir()
    (tmp_path / folder / name).write_text("")
    later = time.time() + 1000
    os.utime(tmp_path / "app.py", (later, later))
    os.utime(tmp_path / folder / name, (later + 4000, later + 4000))
    assert newest_mtime(tmp_path) == later
    assert newest_mtime(tmp_path / "missing") == 0.0


def test_the_dev_tools_own_state_folder_is_no_change_of_code_at_the_template_folder(tmp_path: Path) -> None:
    # CodeUri "." (SAM's default): `serverless-jwt issuer` / start-api write .serverless-jwt there after
    # `sam build`, which flagged the build as stale (run sam build again: stale again at the next start).
    (tmp_path / "app.py").write_text("x = 1\n")
    later = time.time() + 1000
    os.utime(tmp_path / "app.py", (later, later))
    for name in ("issuer.json", "es256.pem"):
        (tmp_path / ".serverless-jwt").mkdir(exist_ok=True)
        (tmp_path / ".serverless-jwt" / name).write_text("{}")
        os.utime(tmp_path / ".serverless-jwt" / name, (later + 4000, later + 4000))
    assert newest_mtime(tmp_path) == later


def test_a_file_put_in_place_with_an_old_modification_time_is_a_change_now(tmp_path: Path) -> None:
    # cp -p, rsync -t and tar x keep the source's modification time; the status-change time is the copy's.
    before = time.time() - 1
    (tmp_path / "app.py").write_text("x = 2\n")
    os.utime(tmp_path / "app.py", (1000, 1000))
    assert newest_mtime(tmp_path) >= before


def test_a_zip_code_uri_is_unpacked_once_and_again_when_it_changes(tmp_path: Path) -> None:
    archive = tmp_path / "fn.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(e, c):\n    return 1\n")
        zipped.writestr("pkg/mod.py", "")
    first = unpacked(archive, tmp_path / "cache", "Fn")
    assert (first / "app.py").is_file()
    assert (first / "pkg" / "mod.py").is_file()
    assert unpacked(archive, tmp_path / "cache", "Fn") == first
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(e, c):\n    return 2\n  # longer\n")
    os.utime(archive, ns=(1, 1))
    again = unpacked(archive, tmp_path / "cache", "Fn")
    assert again != first
    assert "return 2" in (again / "app.py").read_text()
    (tmp_path / "bad.zip").write_text("not a zip")
    with pytest.raises(ConfigurationError, match=r"Fn: CodeUri .*bad\.zip is not a zip archive"):
        unpacked(tmp_path / "bad.zip", tmp_path / "cache", "Fn")
