"""make_private_dir: the local loop's own folders ignore themselves in git; a user's are left alone."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from serverless_jwt.dev._private_dir import make_private_dir


def test_a_folder_it_creates_is_owner_only_and_ignored_by_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    state = tmp_path / "project" / ".serverless-jwt"
    make_private_dir(state)
    (state / "runtimes").mkdir()
    (state / "runtimes" / "python3.12-abc").write_text("an environment", encoding="utf-8")
    (state / "rs256.pem").write_text("a dev key", encoding="utf-8")
    status = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
                            check=True, capture_output=True, text=True).stdout
    assert status == ""
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700


def test_an_existing_folder_gets_nothing_added(tmp_path: Path) -> None:
    make_private_dir(tmp_path)
    make_private_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []
