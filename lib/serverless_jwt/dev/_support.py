"""Helpers of the ``serverless-jwt`` command: the state folder, banners, readable times.

``invoke``'s event and ``--env-vars`` file are read in :mod:`serverless_jwt.dev._invoke_inputs` (its
functions are re-exported here).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from serverless_jwt.dev import _state_dir
from serverless_jwt.dev._invoke_inputs import authorizer_event_mismatch as authorizer_event_mismatch
from serverless_jwt.dev._invoke_inputs import (
    default_event,
    example_path,
    get_authorization,
    read_event,
    set_authorization,
    unusual_authorization,
)
from serverless_jwt.dev._invoke_inputs import read_env_vars as read_env_vars
from serverless_jwt.dev._template_file import TEMPLATE_NAMES
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.template import Template
from serverless_jwt.errors import ConfigurationError

if TYPE_CHECKING:
    from serverless_jwt.dev.apigw import LocalApiGateway

__all__ = ["AttachedIssuer", "api_banner", "default_event", "describe_times", "get_authorization", "here",
           "port_error", "read_event", "read_record", "running_issuer", "set_authorization", "shared_issuer",
           "start_issuer", "state_dir", "unusual_authorization"]

RECORD = "issuer.json"


def state_dir(given: str | None, template: Template) -> Path:
    """``--state-dir`` as given (relative to the working directory), else the template's project state
    folder (:attr:`Template.state_dir <serverless_jwt.dev.template.Template.state_dir>`:
    ``.serverless-jwt`` beside it, above ``.aws-sam/build`` for a built template, unless sam build would
    copy it: then outside the project), where its runtimes go too: ``invoke -t ../template.yaml`` from a
    subfolder shares the project's issuer and key. Says on stderr when that folder moved out of the
    project, and when a ``--state-dir`` is inside code that sam build copies."""
    project = _state_dir.project_folder(template.dir)
    # --state-dir .serverless-jwt is the user's choice (warned about below): not a folder left to empty.
    named = given is not None and Path(given).resolve() == (project / _state_dir.STATE_DIR).resolve()
    for notice in [] if named else _state_dir.settle(project, template.state_dir, template.code_folders):
        print(f"notice: {notice}", file=sys.stderr)
    if given is None:
        return template.state_dir
    inside = _state_dir.holders(Path(given), template.code_folders)
    if inside:  # the user's choice stands, but not unannounced
        print(f"warning: --state-dir {given} is inside {' and '.join(inside)}: sam build would copy it "
              "(the dev issuer's private keys) into the artifact", file=sys.stderr)
    return Path(given)


def here(given: str | None, *, writing: bool) -> Path:
    """The state folder of ``issuer`` (``writing``) and ``token``, which take no template: ``--state-dir``,
    else the working directory's: :func:`state_dir` of its template (``template.yaml``, else ``.yml``, else
    ``.json``, as sam finds it) when ``writing``, else the
    one kept outside the project when there is one, else ``.serverless-jwt``. ``token`` needs no
    template (nor PyYAML): the project's state is outside it only once a command has put it there."""
    if given is not None:
        return Path(given)
    project = Path.cwd()
    found = next((project / name for name in TEMPLATE_NAMES if (project / name).is_file()), None)
    if writing and found is not None:
        try:
            template = Template(found)
        except (ConfigurationError, ImportError):  # a broken template, or no PyYAML: decided as token
            pass
        else:
            return state_dir(None, template)
    return _state_dir.for_folder(project)


def read_record(state_dir: Path) -> dict[str, Any]:
    """What the last dev issuer started here wrote: ``{"issuer": url, "audience": aud}`` (or ``{}``)."""
    try:
        data = json.loads((state_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # a damaged record is no record
        return {}
    return data if isinstance(data, dict) else {}


def running_issuer(state_dir: Path) -> dict[str, Any] | None:
    """The record of the dev issuer serving now from this state folder, or ``None`` when none answers.

    Running means: its process is alive and its discovery document names the recorded issuer.
    """
    record = read_record(state_dir)
    issuer, pid = record.get("issuer"), record.get("pid")
    if not isinstance(issuer, str) or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # gone, or no pid at all
        return None
    except PermissionError:
        pass  # alive, someone else's
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(issuer + "/.well-known/openid-configuration", timeout=2) as response:
            served = json.loads(response.read()).get("issuer")
    except (OSError, ValueError, AttributeError):
        return None
    return record if served == issuer else None


class AttachedIssuer:
    """The dev issuer another command runs (``start-api``, ``issuer``): mint for it, never stop it.

    A ``start-api`` that attached keeps it alive (:meth:`watch`): when that command ends, it serves
    the same issuer itself (same key, same address), so its functions still verify their tokens and
    ``token`` still mints for it.
    """

    def __init__(self, state_dir: Path, record: Mapping[str, Any]) -> None:
        self.issuer = str(record["issuer"])
        self.audience = str(record.get("audience") or "serverless-jwt-dev")
        self.pid = int(record["pid"])
        self.state_dir = state_dir
        self._keys = DevIssuer(key_dir=state_dir)
        self._own: DevIssuer | None = None
        self._stop = threading.Event()

    def mint(self, **claims: Any) -> str:
        claims.setdefault("issuer", self.issuer)
        claims.setdefault("audience", self.audience)
        return self._keys.mint(**claims)

    def take_over_if_gone(self, *, owner: str = "start-api") -> bool:
        """Serve the issuer here when nobody does any more; ``True`` when this call started it."""
        if self._own is not None or running_issuer(self.state_dir) is not None:
            return False
        port = int(self.issuer.rsplit(":", 1)[1])
        try:
            self._own = start_issuer(self.state_dir, port=port, owner=owner)
        except ConfigurationError:  # the address was taken again meanwhile (another start-api)
            return False
        print(f"notice: the dev issuer's command (pid {self.pid}) stopped; this {owner} serves "
              f"{self.issuer} now", file=sys.stderr, flush=True)
        return True

    def watch(self, interval_seconds: float = 1.0) -> None:
        """Check every ``interval_seconds`` in a daemon thread, until :meth:`stop`."""
        def run() -> None:
            while not self._stop.wait(interval_seconds) and self._own is None:
                self.take_over_if_gone()

        threading.Thread(target=run, name="dev-issuer-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._own is not None:
            self._own.stop()


LONG_LIVED = ("issuer", "start-api")  # commands whose dev issuer others may use: it outlives them


def shared_issuer(state_dir: Path, *, owner: str) -> DevIssuer | AttachedIssuer:
    """The one dev issuer identity of this folder: the one ``issuer`` or ``start-api`` runs, else a
    new one (same key, recorded address) that the caller (``owner``) stops.

    An issuer another ``invoke`` runs is never attached to: it stops when that invoke ends, which
    would leave this caller's function fetching keys from nobody (a 503). The caller then serves its
    own on a free port, recorded only when it is long-lived itself.
    """
    record = running_issuer(state_dir)
    if record is not None and is_shared(record):
        return AttachedIssuer(state_dir, record)
    if record is not None:
        return start_issuer(state_dir, port=0, owner=owner, record=owner in LONG_LIVED)
    return start_issuer(state_dir, port=None, owner=owner)


def is_shared(record: Mapping[str, Any]) -> bool:
    """Whether a running issuer's record is one others may use (``issuer``, ``start-api``; records
    written before owners were recorded count as shared)."""
    return record.get("owner", "issuer") in LONG_LIVED


def port_error(exc: OSError, what: str, host: str, port: int) -> ConfigurationError:
    """A readable error for a failed bind (port in use, address not available)."""
    if exc.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"{what}: port {port} on {host} is already in use (pass --port, or --port 0 for a free one)")
    return ConfigurationError(f"{what}: cannot listen on {host}:{port} ({exc.strerror or 'unavailable'})")


def start_issuer(state_dir: Path, *, port: int | None, owner: str = "issuer",
                 record: bool = True) -> DevIssuer:
    """Start a dev issuer with the folder's keys and record its address for ``serverless-jwt token``.

    ``port=None`` reuses the recorded port when it is free (tokens minted earlier stay valid), else
    any free port. Raises ConfigurationError when an explicit port is taken.
    """
    candidates = [port] if port is not None else []
    if port is None:
        recorded = read_record(state_dir).get("port")
        candidates = ([recorded] if isinstance(recorded, int) and 0 < recorded < 65536 else []) + [0]
    for n, candidate in enumerate(candidates):
        issuer = DevIssuer(key_dir=state_dir, port=candidate)
        try:
            issuer.start()
        except OSError as exc:
            if n == len(candidates) - 1:
                raise port_error(exc, "issuer", issuer.host, candidate) from None
            continue
        if record:
            bound = int(issuer.issuer.rsplit(":", 1)[1])
            entry = {"issuer": issuer.issuer, "audience": issuer.audience, "port": bound, "pid": os.getpid(),
                     "owner": owner}
            (state_dir / RECORD).write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
        return issuer
    raise AssertionError("unreachable")


def command() -> str:
    """How to call us again: ``serverless-jwt`` when on PATH, else the path we were started by
    (``.venv/bin/serverless-jwt`` after ``./scripts/demo``)."""
    started = Path(sys.argv[0])
    if started.name != "serverless-jwt" or shutil.which("serverless-jwt") is not None:
        return "serverless-jwt"
    try:
        return os.path.relpath(started)
    except ValueError:  # another drive (Windows)
        return str(started)


def api_banner(api: LocalApiGateway, template: Template, issuer: DevIssuer | AttachedIssuer | None,
               scopes: Iterable[str] | None, mode: str = "in-process") -> str:
    """What ``start-api`` prints: every route's URL, how functions run, the issuer, and curl lines."""
    url = api.url
    how = ("each function in Lambda's Python runtime under the Runtime Interface Emulator, kept warm"
           if mode == "emulator" else "functions run in this process")
    lines = [f"local API Gateway on {url} (from {template.path}; {how})",
             "routes (REST APIs under their stage, HTTP APIs at the root; staged routes also answer at "
             "the root where nothing else does, as under sam local):", *api.route_lines()]
    if issuer is None:
        lines.append("functions use the template's JWT_* settings (--no-dev-issuer): bring your own token")
        return "\n".join(lines)
    granted = [s for value in (scopes if scopes is not None else ["read:shows"]) for s in value.split()]
    token = issuer.mint(sub="dev-user", scopes=granted)
    lines += [
        f"dev issuer on {issuer.issuer} (audience {issuer.audience}); the functions verify its tokens",
    ]
    oidc = getattr(issuer, "oidc", None)
    if oidc is not None:  # `issuer` prints it too, but refuses to start while this one runs
        lines.append(f"  service client_id {oidc.service_client_id} client_secret "
                     f"{oidc.service_client_secret} (client_credentials at {issuer.issuer}/oauth/token)")
    lines += [
        f"ready-to-paste requests (token for dev-user, scopes: {' '.join(granted) or 'none'}, valid 1 hour):",
    ]
    # Routes to functions that run here (not skipped, not inline code: those answer 502 / 501).
    runnable = [r for r in api.routes if r.function in template.functions
                and not template.functions[r.function].inline_code] or api.routes
    for route in runnable:
        if route.path != "$default" and route.method in ("GET", "ANY"):
            target = url + quote(route.api.prefix + example_path(route.path))  # a path may hold spaces
            lines.append(f"  curl -i -H 'Authorization: Bearer {token}' {target}")
    first = runnable[0]
    first_path = example_path(first.path) if first.path != "$default" else "/"
    lines.append(f"  curl -i {url}{quote(first.api.prefix + first_path)}   # no token: 401")
    lines.append(f"more tokens: {command()} token --sub alice --scope read:shows")
    return "\n".join(lines)


def describe_times(claims: Mapping[str, Any], now: float | None = None) -> list[str]:
    """``iat``/``nbf``/``exp`` as UTC times with a relative hint (for ``decode``)."""
    now = time.time() if now is None else now
    out = []
    for name in ("iat", "nbf", "exp", "auth_time"):
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        with contextlib.suppress(OverflowError, OSError, ValueError):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
            delta = int(value - now)
            when = f"in {delta}s" if delta > 0 else f"{-delta}s ago"
            # Past exp: within the default 60 s leeway a verifier still accepts it; past that, none does.
            expired = "" if name != "exp" or delta >= 0 else (
                " (past exp: accepted only within the leeway, 60 s by default)" if delta >= -60
                else " (expired, past the default 60 s leeway)")
            out.append(f"  {name:<9} {stamp}  ({when}){expired}")
    return out
