"""Where the local loop keeps a project's state (dev/_state_dir.py): beside the template, unless
``sam build`` would copy it into an artifact; then outside the project, for every command."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from serverless_jwt import Verifier
from serverless_jwt.dev import _state_dir, _support
from serverless_jwt.dev._state_dir import STATE_DIR, outside, settle, user_cache_dir
from serverless_jwt.dev.cli import main
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.template import Template
from serverless_jwt.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]

_FN = ("  Fn:\n    Type: AWS::Serverless::Function\n"
       "    Properties: {CodeUri: %s, Handler: app.handler, Runtime: python3.12}\n")
_LAYER = "  Lib:\n    Type: AWS::Serverless::LayerVersion\n    Properties: {ContentUri: %s}\n"
_IMAGE = ("  Img:\n    Type: AWS::Serverless::Function\n    Properties: {PackageType: Image}\n"
          "    Metadata: {DockerContext: %s, Dockerfile: Dockerfile}\n")


def _template(folder: Path, *resources: str) -> Template:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(resources))
    return Template(path)


def test_a_project_whose_code_is_in_subfolders_keeps_its_state_beside_the_template(tmp_path: Path) -> None:
    template = _template(tmp_path, _FN % "src/", _LAYER % "lib/", _IMAGE % "image/")
    assert template.state_dir == tmp_path / STATE_DIR
    assert settle(tmp_path, template.state_dir, template.code_folders) == []


@pytest.mark.parametrize(("folder", "resources", "holder"), [
    (".", [_FN % "."], "Fn's CodeUri"),
    ("src", [_FN % "./"], "Fn's CodeUri"),
    ("src", [_FN % "'..'"], "Fn's CodeUri"),  # the template in src/, its code the folder above
    (".", [_FN % "src/", _LAYER % "."], "Lib's ContentUri"),
    (".", [_FN % "src/", _IMAGE % "."], "Img's DockerContext"),
])
def test_state_that_sam_build_would_copy_into_an_artifact_is_kept_outside_the_project(
        tmp_path: Path, folder: str, resources: list[str], holder: str) -> None:
    template = _template(tmp_path / folder, *resources)
    assert template.state_dir == outside(tmp_path / folder)
    assert not template.state_dir.is_relative_to(tmp_path)
    assert template.state_dir.is_relative_to(user_cache_dir())
    notices = settle(template.dir, template.state_dir, template.code_folders)
    assert len(notices) == 1
    assert holder in notices[0]
    assert str(template.state_dir) in notices[0]
    assert settle(template.dir, template.state_dir, template.code_folders) == []  # said once


def test_once_outside_the_project_the_state_stays_there(tmp_path: Path) -> None:
    # token and a built template read no source CodeUri: they find the state where a command put it.
    template = _template(tmp_path, _FN % ".")
    settle(tmp_path, template.state_dir, template.code_folders)
    assert _state_dir.for_folder(tmp_path) == template.state_dir
    assert _template(tmp_path, _FN % "src/").state_dir == template.state_dir


def test_each_project_has_its_own_state_outside_it(tmp_path: Path) -> None:
    first, second = outside(tmp_path / "a" / "api"), outside(tmp_path / "b" / "api")
    assert first != second
    assert first.name.startswith("api-")
    assert first.parent == second.parent == user_cache_dir() / "serverless-jwt" / "projects"


def test_the_user_cache_folder_is_xdg_cache_home_when_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert user_cache_dir() == tmp_path
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/allowed")  # as the XDG spec: ignored
    assert user_cache_dir() != Path("relative/not/allowed")


def test_a_built_template_finds_its_sources_in_sams_build_record(tmp_path: Path) -> None:
    # -t .aws-sam/build/template.yaml: its CodeUri names the artifact; sam's build.toml names the source.
    build = tmp_path / ".aws-sam" / "build"
    _template(build, _FN % "Fn")
    (build / "Fn").mkdir()
    (tmp_path / ".aws-sam" / "build.toml").write_text(
        f'[function_build_definitions.a1]\ncodeuri = "{tmp_path}"\nruntime = "python3.12"\n'
        'functions = ["Fn"]\n')
    template = Template(build / "template.yaml")
    assert template.state_dir == outside(tmp_path)
    assert "Fn's source" in template.code_folders


def test_zip_code_is_unpacked_into_the_projects_state(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "fn.zip", "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return 1\n")
    template = _template(tmp_path, _FN % "fn.zip", _LAYER % ".")
    code = template.function("Fn").code_dir
    assert code.is_relative_to(outside(tmp_path) / "code")
    assert (code / "app.py").is_file()
    assert not (tmp_path / STATE_DIR).exists()


def test_a_state_folder_left_in_the_code_is_emptied_into_the_new_one(tmp_path: Path) -> None:
    old = tmp_path / STATE_DIR
    (old / "runtimes" / "python3.12-0123").mkdir(parents=True)
    for name in ("rs256.pem", "es256.pem", "issuer.json", ".gitignore"):
        (old / name).write_text(name)
    template = _template(tmp_path, _FN % ".")
    notices = settle(tmp_path, template.state_dir, template.code_folders)
    assert not old.exists()
    assert (template.state_dir / "rs256.pem").read_text() == "rs256.pem"  # the same dev identity
    assert (template.state_dir / "issuer.json").read_text() == "issuer.json"
    assert f"removed {old}, which sam build would copy into the artifact" in notices[-1]


def test_a_left_state_folder_holding_files_of_someone_else_is_not_deleted(tmp_path: Path) -> None:
    old = tmp_path / STATE_DIR
    old.mkdir()
    (old / "rs256.pem").write_text("key")
    (old / "notes.txt").write_text("mine")
    template = _template(tmp_path, _FN % ".")
    notices = settle(tmp_path, template.state_dir, template.code_folders)
    assert (old / "notes.txt").is_file()
    assert not (old / "rs256.pem").exists()  # the key still moves out
    assert "still holds notes.txt: delete it, or sam build copies it into the artifact" in notices[-1]


def test_a_left_state_folder_holding_a_file_of_someone_else_still_loses_the_runtimes_and_code(
        tmp_path: Path) -> None:
    # The runtimes (tens of MB) and unpacked code are this tool's, rebuilt in the new folder: left in the
    # code, sam build would copy them into the artifact, and the notice named only the user's file.
    old = tmp_path / STATE_DIR
    (old / "runtimes" / "python3.12-0123").mkdir(parents=True)
    (old / "code" / "Fn-0123").mkdir(parents=True)
    (old / "rs256.pem").write_text("key")
    (old / "notes.txt").write_text("mine")
    template = _template(tmp_path, _FN % ".")
    notices = settle(tmp_path, template.state_dir, template.code_folders)
    assert (old / "notes.txt").is_file()
    assert not (old / "runtimes").exists()
    assert not (old / "code").exists()
    assert "still holds notes.txt: delete it" in notices[-1]


def test_sam_build_after_the_dev_loop_copies_none_of_its_state_with_code_uri_dot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        emulator: Path) -> None:
    from benchmarks import _rie as rie  # runs `sam build` as tests/lambdas/test_built_samples.py does

    python = rie.find_python()
    if python is None:
        pytest.skip("no python3.12 on PATH or in pyenv: `sam build` needs the runtime's Python")
    monkeypatch.delenv("SERVERLESS_JWT_CACHE_DIR")  # the runtime environment goes where a user's goes
    project = tmp_path / "api"
    _template(project, _FN % ".", _LAYER % "." + "    Metadata: {BuildMethod: python3.12}\n")
    (project / "app.py").write_text("def handler(event, context):\n    return event\n")
    old = _support.start_issuer(project / STATE_DIR, port=None)  # as a version that kept it there did
    old.stop()
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.stdin", io.StringIO('{"headers": {}}'))
    assert main(["invoke", "Fn", "--emulator", "-e", "-"]) == 0  # a runtime environment, the key
    sent = json.loads(capsys.readouterr().out)["headers"]["authorization"].removeprefix("Bearer ")
    assert main(["token", "--sub", "alice"]) == 0
    minted = capsys.readouterr().out.strip()
    state = Template("template.yaml").state_dir
    assert {"rs256.pem", "issuer.json", "runtimes"} <= {p.name for p in state.iterdir()}
    assert not (project / STATE_DIR).exists()
    record = _support.read_record(state)
    verifier = Verifier(issuer=record["issuer"], audience=record["audience"],
                        jwks=DevIssuer(key_dir=state).jwks())
    assert verifier.verify(sent)["sub"] == "dev-user"  # invoke and token: one key, the old one's
    assert verifier.verify(minted)["sub"] == "alice"
    assert old.jwks() == DevIssuer(key_dir=state).jwks()

    (project / ".aws-sam").mkdir()
    build = rie.sam_build(project / "template.yaml", project / ".aws-sam" / "build", python)
    copied = {p.relative_to(build).as_posix() for p in build.rglob("*")}
    assert {"Fn/app.py", "Lib/python/app.py"} <= copied
    ours = {STATE_DIR, "rs256.pem", "es256.pem", "issuer.json", "runtimes", "code"}
    assert not [c for c in copied if ours & set(c.split("/"))]
    assert Template(build / "template.yaml").state_dir == state  # -t .aws-sam/build/template.yaml too


def _old_state(project: Path, **files: str) -> Path:
    old = project / STATE_DIR
    old.mkdir(parents=True)
    for name, text in files.items():
        (old / name.replace("_", ".", 1)).write_text(text)
    return old


def test_a_state_dir_the_user_names_in_the_code_is_used_as_it_is_not_emptied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # --state-dir .serverless-jwt with CodeUri: . is the user's choice (warned about), not a folder to move.
    old = _old_state(tmp_path, rs256_pem="their key", issuer_json="{}")
    template = _template(tmp_path, _FN % ".")
    monkeypatch.chdir(tmp_path)
    assert _support.state_dir(STATE_DIR, template) == Path(STATE_DIR)
    assert (old / "rs256.pem").read_text() == "their key"
    assert (old / "issuer.json").is_file()


def test_a_move_cut_short_is_finished_by_the_next_command_and_loses_no_key(tmp_path: Path) -> None:
    # A command stopped (crash, Ctrl-C) after moving the first key: the next one moves the rest, deletes none.
    old = _old_state(tmp_path, rs256_pem="rs", es256_pem="es", issuer_json="record")
    template = _template(tmp_path, _FN % ".")
    state = template.state_dir
    state.mkdir(parents=True)
    (old / "rs256.pem").rename(state / "rs256.pem")
    settle(tmp_path, state, template.code_folders)
    assert {n: (state / n).read_text() for n in ("rs256.pem", "es256.pem", "issuer.json")} == {
        "rs256.pem": "rs", "es256.pem": "es", "issuer.json": "record"}
    assert not old.exists()


def test_a_key_already_placed_by_a_command_moving_at_the_same_time_is_not_lost(tmp_path: Path) -> None:
    # Another command linked rs256.pem into place and has not yet unlinked it from the old folder.
    old = _old_state(tmp_path, rs256_pem="rs", es256_pem="es", issuer_json="record")
    template = _template(tmp_path, _FN % ".")
    state = template.state_dir
    state.mkdir(parents=True)
    (state / "rs256.pem").write_text("rs")
    settle(tmp_path, state, template.code_folders)
    assert (state / "es256.pem").read_text() == "es"
    assert (state / "issuer.json").read_text() == "record"
    assert not old.exists()


def test_a_state_folder_of_its_own_outside_keeps_its_identity(tmp_path: Path) -> None:
    old = _old_state(tmp_path, rs256_pem="old", issuer_json="old record")
    template = _template(tmp_path, _FN % ".")
    state = template.state_dir
    state.mkdir(parents=True)
    (state / "rs256.pem").write_text("new")
    notices = settle(tmp_path, state, template.code_folders)
    assert (state / "rs256.pem").read_text() == "new"
    assert not (state / "issuer.json").exists()  # the address goes with its keys, not with these
    assert not old.exists()
    assert f"the dev identity is the one in {state}" in notices[-1]


def test_a_symlinked_state_folder_in_the_code_is_kept_out_and_what_it_links_to_is_untouched(
        tmp_path: Path) -> None:
    # sam build copies what a link points to (aws-lambda-builders' copytree follows links).
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "rs256.pem").write_text("shared key")
    (shared / "issuer.json").write_text("shared record")
    project = tmp_path / "api"
    project.mkdir()
    (project / STATE_DIR).symlink_to(shared)
    template = _template(project, _FN % ".")
    state = template.state_dir
    assert state == outside(project)
    notices = settle(project, state, template.code_folders)
    assert (project / STATE_DIR).is_symlink()
    assert (shared / "rs256.pem").read_text() == "shared key"  # another project may use it too
    assert (state / "rs256.pem").read_text() == "shared key"  # the same dev identity
    assert (state / "issuer.json").read_text() == "shared record"
    assert f"{project / STATE_DIR} links to {shared}" in notices[-1]


def test_a_key_file_that_is_a_link_is_copied_out_and_the_link_left(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "rs256.pem").write_text("linked key")
    project = tmp_path / "api"
    old = _old_state(project, issuer_json="record")
    (old / "rs256.pem").symlink_to("../../keys/rs256.pem")
    template = _template(project, _FN % ".")
    notices = settle(project, template.state_dir, template.code_folders)
    assert (template.state_dir / "rs256.pem").read_text() == "linked key"
    assert not (template.state_dir / "rs256.pem").is_symlink()
    assert (old / "rs256.pem").is_symlink()
    assert (keys / "rs256.pem").read_text() == "linked key"
    assert "still holds rs256.pem" in notices[-1]


def test_keys_moved_out_are_private(tmp_path: Path) -> None:
    old = _old_state(tmp_path, rs256_pem="rs", issuer_json="record")
    (old / "rs256.pem").chmod(0o644)  # as written by hand, or by a copy
    template = _template(tmp_path, _FN % ".")
    settle(tmp_path, template.state_dir, template.code_folders)
    assert template.state_dir.stat().st_mode & 0o777 == 0o700
    assert (template.state_dir / "rs256.pem").stat().st_mode & 0o777 == 0o600


def test_without_a_home_folder_only_a_project_that_needs_one_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    def no_entry(uid: int) -> None:
        raise KeyError(uid)

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)  # a container's uid without a passwd entry
    assert _template(tmp_path / "a", _FN % "src/").state_dir == tmp_path / "a" / STATE_DIR
    assert _state_dir.for_folder(tmp_path / "a") == tmp_path / "a" / STATE_DIR
    with pytest.raises(ConfigurationError, match="XDG_CACHE_HOME"):
        _template(tmp_path / "b", _FN % ".")


def test_a_built_template_whose_build_record_names_its_sources_relatively_keeps_state_outside(
        tmp_path: Path) -> None:
    # `sam build --base-dir .` records codeuri as written (".", relative to the base dir, the project's
    # folder), not the absolute path a plain `sam build` records.
    build = tmp_path / ".aws-sam" / "build"
    _template(build, _FN % "Fn")
    (build / "Fn").mkdir()
    (tmp_path / ".aws-sam" / "build.toml").write_text(
        '[function_build_definitions.a1]\ncodeuri = "."\nruntime = "python3.12"\nfunctions = ["Fn"]\n')
    template = Template(build / "template.yaml")
    assert template.code_folders["Fn's source"] == tmp_path
    assert template.state_dir == outside(tmp_path)


def test_a_state_folder_outside_the_project_owned_by_another_user_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # XDG_CACHE_HOME where others write (/tmp): a folder made there in advance is not ours to keep keys in.
    old = _old_state(tmp_path, rs256_pem="key")
    template = _template(tmp_path, _FN % ".")
    template.state_dir.mkdir(parents=True)
    owner = template.state_dir.stat().st_uid
    monkeypatch.setattr("os.getuid", lambda: owner + 1)
    with pytest.raises(ConfigurationError, match="owned by another user"):
        settle(tmp_path, template.state_dir, template.code_folders)
    assert (old / "rs256.pem").read_text() == "key"
    assert not (template.state_dir / "rs256.pem").exists()


def test_a_state_folder_first_made_for_unpacked_zip_code_is_owner_only_and_announced(tmp_path: Path) -> None:
    # Reading the template unpacks a .zip CodeUri into the state folder, before any command settles it.
    with zipfile.ZipFile(tmp_path / "fn.zip", "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return 1\n")
    template = _template(tmp_path, _FN % "fn.zip", _LAYER % ".")
    assert template.state_dir.stat().st_mode & 0o777 == 0o700
    notices = settle(tmp_path, template.state_dir, template.code_folders)
    assert len(notices) == 1
    assert f"is kept in {template.state_dir}" in notices[0]


def test_zip_code_unpacked_beside_the_template_leaves_the_state_folder_ignored_by_git(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "fn.zip", "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return 1\n")
    template = _template(tmp_path, _FN % "fn.zip")
    assert template.state_dir == tmp_path / STATE_DIR
    assert (tmp_path / STATE_DIR / ".gitignore").is_file()  # the keys written there later are ignored too
