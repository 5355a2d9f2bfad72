"""Where the local loop keeps a project's state: the dev issuer's keys and address, unpacked ``.zip`` code,
the runtime environments.

By default ``.serverless-jwt/`` in the project folder (the template's, or the one above ``.aws-sam/build``
for a built template). Not where ``sam build`` would copy it: a function's ``CodeUri`` (a layer's
``ContentUri``, an image's ``DockerContext``) that is the project folder or holds it (``CodeUri: .``, or
the template in ``src/`` with ``CodeUri: ../``) has every file under it copied into the artifact
(aws-lambda-builders' python_pip ``EXCLUDED_FILES`` leave out ``.aws-sam``, ``.git``, ``.venv``... by
name, never ours, and SAM CLI reads no ignore file), and ``sam deploy`` would upload the dev issuer's
private keys and tens of MB of environments. Such a project keeps its state outside itself, in
``<user cache>/serverless-jwt/projects/<folder name>-<digest of its path>/`` (:func:`outside`), and keeps
it there (every command finds it by the project's path, ``token`` too, which reads no template): one
dev identity per project, whichever command runs first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serverless_jwt.dev._private_dir import make_private_dir
from serverless_jwt.errors import ConfigurationError

__all__ = ["STATE_DIR", "built_sources", "choose", "for_folder", "holders", "make", "outside",
           "project_folder", "settle", "user_cache_dir"]

STATE_DIR = ".serverless-jwt"
_IDENTITY = ("rs256.pem", "es256.pem", "issuer.json")  # what makes the dev identity: kept when moved
_REBUILT = ("code", "runtimes")  # unpacked code and runtime environments: made again where the state is
_OURS = {*_IDENTITY, ".gitignore", *_REBUILT}  # everything this tool writes in a state folder
_UNANNOUNCED: set[Path] = set()  # state folders this process made that no notice has named yet


def project_folder(template_dir: Path) -> Path:
    """The template's folder, or the project's above ``.aws-sam/build`` for a built template."""
    return template_dir.parent.parent if template_dir.parts[-2:] == (".aws-sam", "build") else template_dir


def built_sources(template_dir: Path) -> dict[str, Path]:
    """For a template ``sam build`` wrote (``.aws-sam/build/template.yaml``), whose ``CodeUri`` name its
    artifacts: the source folders they were built from, as SAM CLI records them in ``.aws-sam/build.toml``."""
    if template_dir.parts[-2:] != (".aws-sam", "build"):
        return {}
    try:
        text = (template_dir.parent / "build.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    graph = _toml(text)
    if graph is None:
        return {}
    found = {}
    for kind in ("function_build_definitions", "layer_build_definitions"):
        definitions = graph.get(kind)
        for key, entry in definitions.items() if isinstance(definitions, dict) else ():
            if isinstance(entry, dict) and isinstance(entry.get("codeuri"), str):
                names = entry.get("functions")
                who = ", ".join(map(str, names)) if isinstance(names, list) and names else entry.get(
                    "layer_name") or key
                # Absolute, or (sam build --base-dir) as the template wrote it, relative to the base dir:
                # the project's folder, where sam is run from (nothing records it).
                found[f"{who}'s source"] = (project_folder(template_dir) / entry["codeuri"]).resolve()
    return found


def _toml(text: str) -> dict[str, Any] | None:
    try:
        if sys.version_info >= (3, 11):
            import tomllib

            return tomllib.loads(text)
        import tomlkit  # Python 3.10: it comes with aws-sam-cli

        return dict(tomlkit.parse(text).unwrap())
    except Exception:  # no reader, or a damaged file: no sources known
        return None


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME`` when set, else the platform's: ``~/Library/Caches`` (macOS),
    ``%LOCALAPPDATA%`` (Windows), ``~/.cache``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    local = os.environ.get("LOCALAPPDATA", "")
    if sys.platform == "win32" and local:
        return Path(local)
    try:
        return Path.home() / ".cache"
    except RuntimeError:  # no HOME, and a uid without a passwd entry (a container's)
        raise ConfigurationError("no user cache folder to keep this project's local state in, out of its "
                                 "code (HOME is not set): set XDG_CACHE_HOME to an absolute path") from None


def outside(project: Path) -> Path:
    """The state folder of ``project`` kept outside it: named for the folder and its absolute path."""
    resolved = project.resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", resolved.name)[:40].strip("._") or "root"
    return user_cache_dir() / "serverless-jwt" / "projects" / f"{name}-{digest}"


def holders(path: Path, folders: Mapping[str, Path]) -> list[str]:
    """The entries of ``folders`` (``"Fn's CodeUri": folder``) that ``sam build`` would copy ``path``
    from: those it is in."""
    # Where it is, not where it links to: sam build copies a link's target under the link's name.
    absolute = Path(os.path.abspath(path))
    located = absolute.parent.resolve() / absolute.name
    return [what for what, folder in folders.items() if located.is_relative_to(folder.resolve())]


def choose(project: Path, folders: Mapping[str, Path]) -> Path:
    """The project's state folder: :func:`outside` once it exists or when ``sam build`` would copy
    ``.serverless-jwt`` (:func:`holders`), else ``.serverless-jwt`` in the project."""
    if holders(project / STATE_DIR, folders):
        return outside(project)  # no user cache folder: a ConfigurationError, not keys in the artifact
    return for_folder(project)


def for_folder(project: Path) -> Path:
    """The project's state folder as found without its template: the one kept outside it when there is
    one (a command that read the template put it there), else ``.serverless-jwt``."""
    try:
        away = outside(project)
    except ConfigurationError:  # no user cache folder: none was made there either
        return project / STATE_DIR
    return away if away.is_dir() else project / STATE_DIR


def make(state: Path) -> None:
    """Make the state folder if missing, owner-only (before anything goes in it: unpacked ``.zip`` code is,
    when the template is read), to be announced by :func:`settle`."""
    if not state.exists():
        make_private_dir(state)
        _UNANNOUNCED.add(state)


def settle(project: Path, state: Path, folders: Mapping[str, Path]) -> list[str]:
    """Prepare ``state`` (from :func:`choose`) for a command; the notices it should print.

    A state folder made outside the project says where and why. A ``.serverless-jwt`` left in the
    project (made before, or before the template's code held it) is emptied: the dev identity (keys,
    recorded address) moves to ``state`` unless that has one, the rest (environments, unpacked code)
    is deleted, to be rebuilt there. Nothing is deleted that is not in ``state`` first, so a command
    stopped midway, or two moving at once, lose no key: the next finishes the move. A file this tool
    never writes, a link (to a folder or a key) or a mount is left, and named.
    """
    inside = project / STATE_DIR
    if state == inside:
        return []
    notices = []
    why = holders(inside, folders)
    _refuse_if_not_ours(state)
    make(state)
    if state in _UNANNOUNCED:
        _UNANNOUNCED.discard(state)
        if why:
            where = ", ".join(f"{w} ({folders[w]})" for w in why)
            notices.append(f"sam build copies everything under {where} into the artifact: this project's "
                           f"local state (the dev issuer's private keys, runtimes) is kept in {state}, not "
                           f"in {inside}")
    if inside.is_dir():
        notices.append(_move_out(inside, state, shipped=bool(why)))
    return notices


def _refuse_if_not_ours(state: Path) -> None:
    # The user cache folder is the user's own, unless XDG_CACHE_HOME points somewhere others write to.
    try:
        owner = state.stat().st_uid
    except OSError:  # not there yet: made now, owner-only
        return
    if hasattr(os, "getuid") and owner != os.getuid():
        raise ConfigurationError(f"{state} is owned by another user (uid {owner}): the dev issuer's private "
                                 "keys are not kept there; set XDG_CACHE_HOME to a folder of your own")


def _move_out(inside: Path, state: Path, *, shipped: bool) -> str:
    # The keys and the address they serve at go together, or not at all: state has an identity of its own
    # when one of them is in both and differs (one only in state was moved by a command cut short, or
    # placed by one moving at the same time: the rest follows it).
    own = any((inside / name).exists() and (state / name).exists() and not _same(inside / name, state / name)
              for name in _IDENTITY)
    # A link or a mount is the user's: its target may serve another project; copied from, never emptied.
    theirs = inside.is_symlink() or os.path.ismount(inside)
    moved = []
    for name in _IDENTITY:  # keys before the address: a record found in state has its keys beside it
        source = inside / name
        if not own and source.is_file() and _place(source, state / name, link=not theirs):
            moved.append(name)
        ours = not theirs and not source.is_symlink() and source.is_file()
        if ours and (own or _same(source, state / name)):
            with contextlib.suppress(OSError):  # unlinked meanwhile by another command
                source.unlink()
    try:
        left = sorted(p.name for p in inside.iterdir()
                      if p.name not in _OURS or p.is_symlink() or (p.name in _IDENTITY and p.exists()))
    except OSError:  # removed meanwhile (another command), or unreadable: nothing more to do here
        left = []
    what = f"{'copied' if theirs else 'moved'} {', '.join(moved)} to {state}" if moved else (
        f"the dev identity is the one in {state}")
    risk = ", or sam build copies it into the artifact" if shipped else ""
    if theirs:  # a link that sam build follows, or a mount point: its content is not ours to delete
        copies = ": sam build copies what it holds into the artifact" if shipped else ""
        return (f"{inside} links to {inside.resolve()} or is a mount point, left as it is ({what}); "
                f"remove it{copies}")
    if left:  # not all ours: left for its owner to look at, but our rebuilt folders go all the same
        for name in _REBUILT:
            if (inside / name).is_dir() and not (inside / name).is_symlink():
                shutil.rmtree(inside / name, ignore_errors=True)
        return f"{inside} is no longer used ({what}); it still holds {', '.join(left)}: delete it{risk}"
    shutil.rmtree(inside, ignore_errors=True)
    if inside.exists():
        return f"{inside} is no longer used ({what}) but could not be removed: delete it{risk}"
    because = ", which sam build would copy into the artifact" if shipped else ""
    return f"removed {inside}{because} ({what})"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def _place(source: Path, target: Path, *, link: bool) -> bool:
    """Put ``source``'s content at ``target`` unless something is there: whole or not at all, owner-only
    (a hard link when ``link``, else a private copy linked into place, as _dev_keys writes a key);
    whether it did. A link's target is copied, never linked to (nor made owner-only: it is the user's)."""
    if target.exists() or target.is_symlink():
        return False
    try:
        if link and not source.is_symlink():
            with contextlib.suppress(OSError):  # another file system, or no hard links there: copied
                os.link(source, target)
                target.chmod(0o600)
                return True
            if target.exists():
                return False
        data = source.read_bytes()
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.link(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError:  # placed by another command meanwhile, or unreadable: the check after decides
        return False
    return True
