"""Static files: index for folders, types, and nothing outside the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from serverless_jwt.dev.apigw.static import StaticFiles


@pytest.fixture
def site(tmp_path: Path) -> StaticFiles:
    public = tmp_path / "public"
    (public / "docs").mkdir(parents=True)
    (public / "index.html").write_text("<h1>home</h1>")
    (public / "docs" / "index.html").write_text("docs")
    (public / "app.css").write_text("b{}")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", public / "link.txt")
    return StaticFiles(public)


def test_index_and_files(site: StaticFiles) -> None:
    home = site.answer("GET", "/")
    assert home is not None
    assert (home.status, home.body, home.header("Content-Type")) == (200, b"<h1>home</h1>",
                                                                     "text/html; charset=utf-8")
    docs = site.answer("HEAD", "/docs/")
    assert docs is not None
    assert docs.body == b"docs"
    css = site.answer("GET", "/app.css")
    assert css is not None
    assert css.header("Content-Type") == "text/css; charset=utf-8"
    assert site.answer("POST", "/app.css") is None
    assert site.answer("GET", "/missing.js") is None


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/docs/../../secret.txt", "/link.txt",
    "/%00index.html", "/..\\secret.txt", "//etc/passwd",
])
def test_nothing_outside_the_folder_is_served(site: StaticFiles, path: str) -> None:
    assert site.answer("GET", path) is None
