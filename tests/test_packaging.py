"""The core install (``pip install serverless-jwt``, no extras) in a fresh virtualenv.

The wheel is built from a copy of this checkout and installed with the dependencies its metadata
declares, exactly as a user's ``pip install`` resolves them; pytest is added afterwards for the plugin
checks. Built once per run (``build_once``), shared by the tests here and by pytest-xdist workers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = {"serverless-jwt", "pyjwt", "cryptography", "cffi", "pycparser"}  # cffi, pycparser: cryptography's
if sys.version_info < (3, 11):  # PyJWT and cryptography both ask for typing-extensions before 3.11
    CORE.add("typing-extensions")
# The core venv sees its own install only: the suite's PYTHONPATH=lib made its python import the checkout,
# and made pip skip the wheel (no `serverless-jwt` script) when lib/ held an egg-info from `pip install .`.
CLEAN_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def _pip(target: Path, *args: str) -> None:
    # This environment's pip installs into the new one (--python): no ensurepip, no pip in the core venv.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(target), "install", "--quiet",
                    "--disable-pip-version-check", *args], check=True, capture_output=True, timeout=300,
                    env=CLEAN_ENV)


def _build_core_venv(target: Path) -> None:
    source = target / "src"
    shutil.copytree(ROOT / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                    str(target / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    wheel = next((target / "dist").glob("serverless_jwt-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target / "venv")], check=True,
                   timeout=120)
    python = target / "venv" / "bin" / "python"
    _pip(python, str(wheel))  # with the dependencies the wheel declares: the core install
    (target / "core-distributions.json").write_text(json.dumps(_distributions(python)))
    _pip(python, "pytest")


def _distributions(python: Path) -> list[str]:
    code = "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True,
                         env=CLEAN_ENV).stdout
    return sorted(re.sub(r"[-_.]+", "-", name).lower() for name in json.loads(out))


@pytest.fixture(scope="module")
def core_venv(build_once: Callable[[str, Callable[[Path], None]], Path]) -> Path:
    return build_once("core-venv", _build_core_venv)


def _run(core_venv: Path, code: str) -> subprocess.CompletedProcess[str]:
    python = core_venv / "venv" / "bin" / "python"
    return subprocess.run([str(python), "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, cwd=core_venv, check=False, env=CLEAN_ENV)


def _pytest(core_venv: Path, project: Path) -> subprocess.CompletedProcess[str]:
    python = core_venv / "venv" / "bin" / "python"
    return subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
                          capture_output=True, text=True, timeout=120, cwd=project, check=False,
                          env=CLEAN_ENV)


def test_the_core_install_is_pyjwt_and_cryptography_only(core_venv: Path) -> None:
    assert set(json.loads((core_venv / "core-distributions.json").read_text())) == CORE


def test_the_metadata_says_typed_and_names_each_python_that_requires_python_allows(core_venv: Path) -> None:
    # Indexes and tools read these: a py.typed package says so, and the versions listed are the ones
    # requires-python admits and the wheel is installed on (3.10 up to the newest tested, 3.13).
    done = _run(core_venv, """
        import importlib.metadata as m, json
        meta = m.metadata("serverless-jwt")
        print(json.dumps([meta["Requires-Python"], meta.get_all("Classifier") or []]))
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    requires_python, classifiers = json.loads(done.stdout)
    assert requires_python == ">=3.10"
    assert "Typing :: Typed" in classifiers
    versions = [c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]


def test_the_extras_are_exactly_the_ones_the_readme_names(core_venv: Path) -> None:
    # Users and docs agree on one set of names; contributors' tooling (benchmarks too) lives in `dev`.
    extras = {"powertools", "aws", "fastapi", "flask", "django", "speedups", "local", "dev"}
    done = _run(core_venv, """
        import importlib.metadata as m, json
        print(json.dumps(m.metadata("serverless-jwt").get_all("Provides-Extra") or []))
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(json.loads(done.stdout)) == sorted(extras)
    readme = (ROOT / "README.md").read_text("utf-8")
    table = readme.split("| extra | brings | for |", 1)[1].split("\n\n", 1)[0]
    cells = re.findall(r"^\| ([^|]+) \|", table, re.MULTILINE)[1:]  # below the header's --- row
    assert {name for cell in cells for name in re.findall(r"`([a-z]+)`", cell)} == extras
    assert not re.findall(r"\[[a-z,]*bench[a-z,]*\]", readme)


def test_the_verifier_decorators_and_authorizer_work_without_extras(core_venv: Path) -> None:
    done = _run(core_venv, """
        import sys
        from serverless_jwt import Verifier, require_auth, require_scope, __version__
        from serverless_jwt.adapters.authorizer import Unauthorized, authorizer
        from serverless_jwt.dev.events import http_event
        from serverless_jwt.dev.issuer import DevIssuer

        class Context:
            function_name = "f"

        with DevIssuer() as issuer:
            verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)
            assert verifier.verify(issuer.mint(sub="alice"))["sub"] == "alice"

            @require_auth(verifier)
            @require_scope("read:shows")
            def handler(event, context):
                return {"statusCode": 200, "body": context.identity_context.subject}

            def call(token):
                return handler(http_event("http_v2", path="/shows", token=token), Context())["statusCode"]

            assert call(issuer.mint(sub="bob", scopes=["read:shows"])) == 200
            assert call(issuer.mint(sub="bob")) == 403
            assert call(issuer.mint(lifetime_seconds=-3600)) == 401
            assert call(None) == 401

            gate = authorizer(verifier, kind="rest_token")
            arn = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/me"
            good = {"type": "TOKEN", "authorizationToken": "Bearer " + issuer.mint(), "methodArn": arn}
            assert gate(good, Context())["policyDocument"]["Statement"][0]["Effect"] == "Allow"
            try:
                gate({**good, "authorizationToken": "Bearer x.y.z"}, Context())
            except Unauthorized:
                pass
            else:
                raise AssertionError("a bad token was authorized")
        for heavy in ("aws_lambda_powertools", "boto3", "botocore"):
            assert heavy not in sys.modules, heavy
        print("VERSION", __version__)
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert version is not None
    assert f"VERSION {version.group(1)}" in done.stdout


def test_the_powertools_middleware_names_the_extra_it_needs(core_venv: Path) -> None:
    done = _run(core_venv, """
        from serverless_jwt import MissingExtraError
        for attempt in ("from serverless_jwt import JwtAuthMiddleware",
                        "from serverless_jwt.adapters.powertools import JwtAuthMiddleware"):
            try:
                exec(attempt)
            except ImportError as err:
                assert isinstance(err, MissingExtraError), type(err)
                assert (err.extra, err.name) == ("powertools", "aws_lambda_powertools"), err
                print(err)
            else:
                raise AssertionError("imported without Powertools")
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all("pip install 'serverless-jwt[powertools]'" in line for line in lines)


def test_a_secret_from_aws_fails_at_construction_naming_its_extras(core_venv: Path) -> None:
    done = _run(core_venv, """
        from serverless_jwt import ConfigurationError, Verifier
        try:
            Verifier.from_env({"JWT_SECRET": "ssm:/app/jwt-secret"})
        except ConfigurationError as err:
            print(err)
        else:
            raise AssertionError("built without Powertools and boto3")
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pip install 'serverless-jwt[powertools,aws]'" in done.stdout


def test_the_pytest_plugin_works_without_the_local_extra(core_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        from serverless_jwt import require_auth

        @require_auth()
        def handler(event, context):
            return {"statusCode": 200, "body": context.identity_context.subject}
    """))
    (tmp_path / "test_app.py").write_text(textwrap.dedent("""
        import importlib, sys

        def test_200_with_a_valid_token(jwt_env, jwt_tokens, jwt_lambda_event, jwt_lambda_context):
            handler = importlib.import_module("app").handler
            event = jwt_lambda_event("http_v2", path="/me", token=jwt_tokens.valid(sub="alice"))
            assert handler(event, jwt_lambda_context) == {"statusCode": 200, "body": "alice"}
            event = jwt_lambda_event("http_v2", path="/me", token=jwt_tokens.expired())
            assert handler(event, jwt_lambda_context)["statusCode"] == 401
    """))
    done = _pytest(core_venv, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout


def test_the_pytest_plugin_stays_idle_in_projects_that_never_use_it(core_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(textwrap.dedent("""
        import sys

        # Importing the plugin module imports its packages, and serverless_jwt's __init__ the errors.
        PLUGIN = {"serverless_jwt", "serverless_jwt.errors", "serverless_jwt.dev",
                  "serverless_jwt.dev.pytest_plugin"}

        def test_nothing_else_of_ours_loaded(request):
            assert request.config.pluginmanager.has_plugin("serverless_jwt")  # registered...
            loaded = {m for m in sys.modules if m.split(".")[0] in ("serverless_jwt", "jwt", "cryptography")}
            assert loaded == PLUGIN                                            # ...and idle
    """))
    done = _pytest(core_venv, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout


def test_the_cli_mints_and_decodes_tokens_without_extras(core_venv: Path, tmp_path: Path) -> None:
    cli = str(core_venv / "venv" / "bin" / "serverless-jwt")
    minted = subprocess.run([cli, "token", "--sub", "carol", "--issuer-url", "http://127.0.0.1:9/"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
                            env=CLEAN_ENV)
    assert minted.returncode == 0, minted.stderr[-2000:]
    token = minted.stdout.strip().splitlines()[-1]
    decoded = subprocess.run([cli, "decode", token], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                             check=False, env=CLEAN_ENV)
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    assert '"sub": "carol"' in decoded.stdout


def _build_sdist(target: Path) -> None:
    # From what git tracks, as a clean clone has it (this checkout's untracked files stay out).
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True,
                           timeout=60).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (target / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / "src" / name)
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(target / "dist"),
                    str(target / "src")], check=True, capture_output=True, timeout=300)


def test_the_sdist_is_the_library_without_a_fragment_of_the_test_suite(
        build_once: Callable[[str, Callable[[Path], None]], Path]) -> None:
    import tarfile

    sdist = next((build_once("sdist", _build_sdist) / "dist").glob("serverless_jwt-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert "lib/serverless_jwt/py.typed" in names
    assert {"pyproject.toml", "README.md", "LICENSE"} <= set(names)
    # The tests need the whole checkout (template, samples, events): none ship, not some of them.
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/")) or "__pycache__" in n]


# A release of aws-sam-cli that has each samcli package the library imports (its git history): the first
# one for samcli.lib.cfn_language_extensions and samcli.lib.config.file_manager; the others were all in
# 1.120 already.
SAMCLI_SINCE = {
    "samcli.lib.cfn_language_extensions": (1, 160),  # Fn::ForEach expansion (template.language_extensions)
    # FILE_MANAGER_MAPPER, the readers of --parameter-overrides file:// (#5469, v1.91.0; sam itself reads
    # file:// overrides with them since #7876, v1.151)
    "samcli.lib.config.file_manager": (1, 91),
    "samcli.lib.intrinsic_resolver": (1, 120),
    "samcli.lib.utils.architecture": (1, 120),
}


def test_the_local_extra_asks_for_an_aws_sam_cli_that_has_every_samcli_module_the_library_imports() -> None:
    # An older aws-sam-cli satisfies a lower floor, so `pip install 'serverless-jwt[local]'` keeps it, and
    # the feature then fails asking for the extra that is installed (1.120 admitted one without Fn::ForEach).
    sources = "\n".join(p.read_text("utf-8") for p in (ROOT / "lib" / "serverless_jwt").rglob("*.py"))
    imported = set(re.findall(r"^\s*from (samcli(?:\.\w+)+) import", sources, re.MULTILINE))
    assert imported  # the scan finds the imports it checks
    known = {m: [k for k in SAMCLI_SINCE if m == k or m.startswith(k + ".")] for m in imported}
    assert [m for m, keys in known.items() if not keys] == []  # a new samcli import: add its first release
    floor = re.search(r'"aws-sam-cli>=(\d+)\.(\d+)', (ROOT / "pyproject.toml").read_text("utf-8"))
    assert floor is not None
    assert (int(floor.group(1)), int(floor.group(2))) >= max(SAMCLI_SINCE[k[0]] for k in known.values())


# -- the core install at its declared floors -----------------------------------------------------------

def _core_floors() -> dict[str, str]:
    """``{distribution: lowest version}`` of the core ``dependencies`` in pyproject.toml (each ``>=``)."""
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text("utf-8"),
                      re.MULTILINE | re.DOTALL)
    assert block is not None
    floors = dict(re.findall(r'"([A-Za-z0-9_.-]+)(?:\[[a-z,]+\])?>=([0-9.]+)"', block.group(1)))
    assert set(floors) == {"PyJWT", "cryptography"}  # a new core dependency: give its floor a check here
    return floors


@pytest.fixture(scope="module")
def core_floor_venv(core_venv: Path, build_once: Callable[[str, Callable[[Path], None]], Path]) -> Path:
    def build(target: Path) -> None:
        wheel = next((core_venv / "dist").glob("serverless_jwt-*.whl"))
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target / "venv")], check=True,
                       timeout=120)
        pins = [f"{name}=={version}" for name, version in _core_floors().items()]
        _pip(target / "venv" / "bin" / "python", str(wheel), *pins)

    return build_once("core-floor-venv", build)


def test_the_core_verifies_and_refuses_as_it_should_at_its_declared_floors(core_floor_venv: Path) -> None:
    # pip keeps an installed release that meets a floor, so the floors are what some users run. At
    # cryptography 42 (to 49) an RSA PEM whose exponent is 1 loads, and a token whose "signature" was its
    # own padded hash verified until the key's exponent was checked; RS256 is checked by encode-and-compare
    # on cryptography's recover_data_from_signature, which must give cryptography's own verdicts there.
    done = _run(core_floor_venv, """
        import base64, importlib.metadata as m, json, time
        import jwt
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from serverless_jwt import ConfigurationError, InvalidSignatureError, Verifier

        def pem(key):
            return key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)

        def der(tag, body):
            size = len(body)
            head = bytes([size]) if size < 128 else bytes([0x80 | 2]) + size.to_bytes(2, "big")
            return bytes([tag]) + head + body

        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=")

        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        claims = {"sub": "alice", "exp": int(time.time()) + 600}
        keys = {"RS256": rsa_key, "RS384": rsa_key, "RS512": rsa_key, "PS256": rsa_key,
                "ES256": ec.generate_private_key(ec.SECP256R1()),
                "EdDSA": ed25519.Ed25519PrivateKey.generate()}
        mallory = b64(json.dumps({**claims, "sub": "mallory"}).encode()).decode()
        for alg, key in keys.items():
            verifier = Verifier(public_key=pem(key), algorithms=[alg], require_audience=False)
            token = jwt.encode(claims, key, algorithm=alg)
            assert verifier.verify(token)["sub"] == "alice", alg
            head, body, signature = token.split(".")
            elsewhere = jwt.encode({**claims, "sub": "bob"}, key, algorithm=alg).split(".")[2]
            for forged in (f"{head}.{body}.{elsewhere}", f"{head}.{mallory}.{signature}"):
                try:
                    verifier.verify(forged)
                except InvalidSignatureError:
                    continue
                raise AssertionError(f"{alg}: a forged token verified")

        n = rsa_key.public_key().public_numbers().n
        pkcs1 = der(0x30, der(0x02, n.to_bytes(257, "big")) + der(0x02, b"\\x01"))
        label = b"RSA PUBLIC KEY-----\\n"
        weak = b"-----BEGIN " + label + base64.encodebytes(pkcs1) + b"-----END " + label
        try:
            Verifier(public_key=weak, algorithms=["RS256"], require_audience=False)
        except ConfigurationError as err:
            assert "exponent" in str(err), err
        else:
            raise AssertionError("an RSA key with e = 1 was taken")
        print(json.dumps({"PyJWT": m.version("PyJWT"), "cryptography": m.version("cryptography")}))
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    installed = json.loads(done.stdout.strip().splitlines()[-1])
    assert {name: _release(v) for name, v in installed.items()} == {
        name: _release(v) for name, v in _core_floors().items()}


def _release(version: str) -> tuple[int, ...]:
    """``"42"`` and ``"42.0.0"`` alike: (42, 0, 0)."""
    parts = tuple(int(part) for part in version.split("."))
    return (*parts, 0, 0, 0)[:3]
