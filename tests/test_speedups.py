"""Which native decoders get used: each package on its own, and never one that is broken or too old.

Each case runs in a fresh interpreter whose ``sys.modules`` / import machinery stands in for the
installation at hand (a package missing, one that fails to import, one whose API changed, an old
pybase64), then imports the package as a user does and verifies a real HS256 token signed here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serverless_jwt import _speedups

LIB = str(Path(__file__).resolve().parent.parent / "lib")
SECRET = "speedups-test-secret-of-32-bytes-or-more"
_HAVE_MSGSPEC = _speedups.json_codec() is not None
_HAVE_PYBASE64 = _speedups.b64_decoder() is not None
both_installed = pytest.mark.skipif(not (_HAVE_MSGSPEC and _HAVE_PYBASE64),
                                    reason="needs the speedups extra (msgspec and pybase64) installed")

MISSING_MSGSPEC = "sys.modules['msgspec'] = None\n"
MISSING_PYBASE64 = "sys.modules['pybase64'] = None\n"
FAILING_IMPORT = """
import importlib.abc
class _Fail(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in ('msgspec', 'pybase64'):
            raise RuntimeError('built for another Python')
sys.meta_path.insert(0, _Fail())
"""
# APIs as a later release might have them: a keyword-only ``validate``, a Decoder that needs an argument.
CHANGED_API = """
import types, base64 as _b
_p = types.ModuleType('pybase64'); _p.__version__ = '9.0.0'
_p.b64decode = lambda s, altchars=None, *, validate=False: _b.b64decode(s, altchars, validate=validate)
_m = types.ModuleType('msgspec'); _j = types.ModuleType('msgspec.json')
class Decoder:
    def __init__(self, *, strict): pass
class Encoder:
    def encode(self, value): return b''
_j.Decoder, _j.Encoder, _m.json = Decoder, Encoder, _j
sys.modules.update({'pybase64': _p, 'msgspec': _m, 'msgspec.json': _j})
"""
# A decoder that imports and answers, wrongly: refused by the probe at load, not trusted on requests.
WRONG_ANSWERS = """
import types, base64 as _b
_p = types.ModuleType('pybase64'); _p.__version__ = '1.5.1'
_p.b64decode = lambda s, altchars=None, validate=False: _b.b64decode(s, altchars, validate=False)
_m = types.ModuleType('msgspec'); _j = types.ModuleType('msgspec.json')
class Decoder:
    def decode(self, raw): return {'sub': 'someone-else'}
class Encoder:
    def encode(self, value): return b'{}'
_j.Decoder, _j.Encoder, _m.json = Decoder, Encoder, _j
sys.modules.update({'pybase64': _p, 'msgspec': _m, 'msgspec.json': _j})
"""
# A layer built for the other architecture: msgspec's compiled module does not load, and pybase64 falls
# back to its pure-Python code (slower than the strict path itself).
OTHER_ARCHITECTURE = "sys.modules['msgspec._core'] = None\nsys.modules['pybase64._pybase64'] = None\n"
OLD_PYBASE64 = """
import types, pybase64 as _real
_p = types.ModuleType('pybase64'); _p.__version__ = '1.4.3'; _p.b64decode = _real.b64decode
sys.modules['pybase64'] = _p
"""

PROBE = """
import json
from serverless_jwt import Verifier, require_auth, token
claims = Verifier(secrets=[{secret!r}], audience='api').verify({token!r})
print(json.dumps({{'json': token._decode_json is not token._json_object,
                  'b64': token._b64decode is not token._base64url.strict_decode,
                  'sub': claims['sub'], 'again': token.use_speedups()}}))
"""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _hs256_token() -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps({"sub": "user-1", "aud": "api", "exp": int(time.time()) + 600},
                              separators=(",", ":")).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _run(setup: str, **env: str) -> tuple[dict[str, object], str]:
    code = "import sys\n" + setup + PROBE.format(secret=SECRET, token=_hs256_token())
    environment = {k: v for k, v in os.environ.items() if k != "SERVERLESS_JWT_SPEEDUPS"}
    environment.update(PYTHONPATH=LIB, **env)
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


@both_installed
def test_both_installed_both_are_used_and_nothing_is_logged() -> None:
    used, stderr = _run("")
    assert used == {"json": True, "b64": True, "sub": "user-1", "again": True}
    assert stderr == ""


@both_installed
def test_pybase64_alone_is_used_without_msgspec() -> None:
    used, stderr = _run(MISSING_MSGSPEC)
    assert used == {"json": False, "b64": True, "sub": "user-1", "again": True}
    assert stderr == ""  # not installed is not an error


@both_installed
def test_msgspec_alone_is_used_without_pybase64() -> None:
    used, stderr = _run(MISSING_PYBASE64)
    assert used == {"json": True, "b64": False, "sub": "user-1", "again": True}
    assert stderr == ""


def test_neither_installed_is_the_pure_path_in_silence() -> None:
    used, stderr = _run(MISSING_MSGSPEC + MISSING_PYBASE64)
    assert used == {"json": False, "b64": False, "sub": "user-1", "again": False}
    assert stderr == ""


def _one_warning_per_package(stderr: str) -> None:
    lines = stderr.splitlines()
    for package in ("msgspec", "pybase64"):
        assert [line for line in lines if f" {package} is installed but not usable" in line] != []
        assert len([line for line in lines if f" {package} is installed" in line]) == 1
    assert "Traceback" not in stderr


def test_a_package_failing_to_import_leaves_the_pure_path_with_one_warning() -> None:
    used, stderr = _run(FAILING_IMPORT)
    assert used == {"json": False, "b64": False, "sub": "user-1", "again": False}
    _one_warning_per_package(stderr)  # use_speedups() ran twice: still one line each


def test_a_changed_api_leaves_the_pure_path_instead_of_failing_the_import_or_every_token() -> None:
    used, stderr = _run(CHANGED_API)
    assert used == {"json": False, "b64": False, "sub": "user-1", "again": False}
    _one_warning_per_package(stderr)


def test_decoders_that_read_the_known_inputs_wrongly_are_not_used() -> None:
    used, stderr = _run(WRONG_ANSWERS)
    assert used == {"json": False, "b64": False, "sub": "user-1", "again": False}
    _one_warning_per_package(stderr)


@pytest.mark.skipif(not _HAVE_PYBASE64, reason="needs pybase64 installed")
def test_a_pybase64_older_than_the_extras_floor_is_not_used() -> None:
    used, stderr = _run(OLD_PYBASE64 + MISSING_MSGSPEC)
    assert used == {"json": False, "b64": False, "sub": "user-1", "again": False}
    assert "pybase64 is installed but not usable" in stderr


@both_installed
def test_compiled_modules_for_another_architecture_leave_the_pure_path_with_one_warning() -> None:
    used, stderr = _run(OTHER_ARCHITECTURE)
    assert used == {"json": False, "b64": False, "sub": "user-1", "again": False}
    _one_warning_per_package(stderr)


@both_installed
def test_the_environment_switch_keeps_both_off_in_silence() -> None:
    used, stderr = _run("", SERVERLESS_JWT_SPEEDUPS="0")
    assert used == {"json": False, "b64": False, "sub": "user-1", "again": False}
    assert stderr == ""


def test_the_extra_is_in_use_on_ci() -> None:
    # CI installs the dev extra, which brings the speedups: there, the native-path differential tests
    # (test_fast_paths.py, test_base64url.py, test_token.py) must run, not skip for want of the extra.
    if os.environ.get("CI") != "true":
        pytest.skip("only CI promises the speedups extra (a local run may lack it)")
    if os.environ.get("SERVERLESS_JWT_SPEEDUPS", "").strip() == "0":
        pytest.skip("SERVERLESS_JWT_SPEEDUPS=0 switches the extra off on purpose")
    assert _HAVE_MSGSPEC
    assert _HAVE_PYBASE64
