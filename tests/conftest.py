"""Shared fixtures: a started loopback DevIssuer per test, no JWKS cache across tests, slow builds shared."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from serverless_jwt import _secret_fetch
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.jwks import RemoteKeySource, clear_shared_cache
from serverless_jwt.token import parse


@pytest.fixture
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as dev_issuer:
        yield dev_issuer


def hs256_token(issuer: DevIssuer, secret: str, sub: str = "u1") -> str:
    """An HS256 token signed with ``secret``, without iss or aud (the secret-store tests)."""
    return issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None, sub=sub)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Moto's AWS in eu-west-1 with test credentials (the secret-store tests)."""
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield


@pytest.fixture(autouse=True)
def _no_jwt_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    # from_env() and presets read JWT_* variables: one set in the developer's shell must not change
    # what a test sees. Tests that want one set it themselves.
    for name in [n for n in os.environ if n.startswith("JWT_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("user-cache")


@pytest.fixture(autouse=True)
def _no_state_in_the_real_user_cache(monkeypatch: pytest.MonkeyPatch, user_cache: Path) -> None:
    # A project whose code holds its folder keeps the local loop's state in the user's cache directory
    # (dev/_state_dir.py): the tests' projects keep theirs in this run's.
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache))


@pytest.fixture(autouse=True)
def _fresh_jwks_cache() -> Iterator[None]:
    # Loopback ports are reused between tests: a cache keyed by issuer URL must not outlive its test.
    yield
    clear_shared_cache()


@pytest.fixture(autouse=True)
def _fresh_secret_store_clients() -> Iterator[None]:
    # The secret store keeps one client per store and region for the process: one an earlier test made
    # without credentials (outside moto's mock, with a store ARN that must never be used as a key) would
    # serve a later test's reads inside the mock, each a NoCredentialsError.
    yield
    _secret_fetch._PROVIDERS.clear()


# A ROCA key made the way Infineon's RSALib made them (Nemec, Sys, Svenda, Klinec, Matyas: "The Return of
# Coppersmith's Attack", ACM CCS 2017, §2): each prime is k * M + (65537^a mod M), M the primorial of the
# first 39 primes. Real keys, built here, so a real signed token goes through.

_PRIMES_39 = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
              97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167]


def _probable_prime(n: int, rng: random.Random) -> bool:
    if n % 2 == 0:
        return n == 2
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _roca_private_key(bits: int = 2048, seed: int = 15361) -> rsa.RSAPrivateKey:
    rng = random.Random(seed)  # not a secret: a deterministic weak key for a test
    m = 1
    for r in _PRIMES_39:
        m *= r
    primes: list[int] = []
    while len(primes) < 2:
        k = rng.getrandbits(bits // 2 - m.bit_length() + 1)
        p = k * m + pow(65537, rng.randrange(1, 1 << 30), m)
        # The two top bits set, so p * q has exactly `bits` bits.
        top_bits_set = p.bit_length() == bits // 2 and p >> (bits // 2 - 2) == 3
        if top_bits_set and (p - 1) % 65537 and p not in primes and _probable_prime(p, rng):
            primes.append(p)
    p, q = primes
    d = pow(65537, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(65537, p * q)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), public).private_key()


@pytest.fixture(scope="session")
def roca_key() -> rsa.RSAPrivateKey:
    """A real 2048-bit RSA key with the ROCA weakness (built once, about a second)."""
    return _roca_private_key()
@pytest.fixture(scope="session")
def build_once(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[Path], None]], Path]:
    """``build_once(name, build)``: run ``build(dir)`` once per test run, shared by pytest-xdist workers.

    For slow artefacts (a virtualenv, a ``sam build``): the first worker builds under a file lock, the
    others wait and reuse the result. A failed build is not recorded, so each worker reports it.
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's shared folder

    def build(name: str, builder: Callable[[Path], None]) -> Path:
        target, done = root / name, root / f"{name}.done"
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done.exists():
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir()
                builder(target)
                done.touch()
        return target

    return build


# -- real servers for the framework glue: uvicorn (ASGI) and werkzeug (WSGI) on loopback ----------------

@pytest.fixture
def serve_asgi() -> Iterator[Callable[[Any], str]]:
    """``serve_asgi(app) -> base URL``: the app under a real uvicorn server in a thread, stopped after."""
    import socket
    import threading

    import uvicorn

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread))
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield serve
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[Any], str]]:
    """``serve_wsgi(app) -> base URL``: the app under werkzeug's threaded server, stopped after."""
    import threading

    from werkzeug.serving import make_server

    running: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- key-source helpers shared by test_jwks.py and test_jwks_state.py --------------------------------

class FakeClock:
    """A clock the test moves: ``clock.now`` or ``clock.advance(seconds)``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def remote_source(dev: DevIssuer, clock: FakeClock, **options: Any) -> RemoteKeySource:
    """A RemoteKeySource on ``dev`` (discovery, RS256/ES256, 2 s deadline) read at ``clock``."""
    kwargs: dict[str, Any] = {"issuer": dev.issuer, "jwks_uri": None,
                              "algorithms": ["RS256", "ES256"], "timeout_seconds": 2, "clock": clock}
    kwargs.update(options)
    return RemoteKeySource(**kwargs)


def verifies(source: RemoteKeySource, token: str) -> bool:
    """Whether the key ``source`` gives for ``token``'s header verifies its signature."""
    parsed = parse(token)
    (key,) = source.keys_for(parsed.header)
    return key.verify(parsed.header["alg"], parsed.signing_input, parsed.signature)
