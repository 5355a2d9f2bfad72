"""The verified-token cache: bounded, oldest first out, and holding only what the signature covered."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import pytest

from serverless_jwt._cache import VerifiedTokens
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.verifier import Verifier


def test_a_full_cache_forgets_its_oldest_token_first() -> None:
    cache = VerifiedTokens(2)
    cache.put("t1", 1)
    cache.put("t2", 1)
    cache.put("t3", 2)
    assert (cache.get("t1"), cache.get("t2"), cache.get("t3")) == (None, 1, 2)
    assert len(cache) == 2
    del cache["t2"]
    assert len(cache) == 1
    cache.clear()
    assert cache.get("t3") is None


def test_a_full_large_cache_forgets_its_oldest_thirty_second_at_once() -> None:
    cache = VerifiedTokens(64)
    for i in range(64):
        cache.put(f"t{i}", 1)
    cache.put("new", 1)
    assert list(cache) == [f"t{i}" for i in range(2, 64)] + ["new"]  # 64 / 32 = 2 dropped, in order
    cache.put("x", 1)  # 64: full again, nothing dropped yet
    assert len(cache) == 64
    cache.put("y", 1)  # finds it full: the next two oldest go
    assert len(cache) == 63
    assert "t2" not in cache
    assert "t3" not in cache
    assert "t4" in cache


def test_concurrent_stores_never_exceed_the_bound() -> None:
    cache = VerifiedTokens(16)

    def store(worker: int) -> None:
        for i in range(500):
            cache.put(f"{worker}-{i}", 1)

    threads = [threading.Thread(target=store, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Stores skip the lock until the cache is full: at most one extra entry per thread storing at
    # that very moment, and the next store evicts back down.
    assert 16 <= len(cache) <= 16 + 3
    cache.put("last", 1)
    assert len(cache) == 16


def test_a_store_landing_while_the_oldest_are_listed_does_not_fail_the_eviction(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Stores take no lock: another thread's store can land between the moment the eviction starts
    # walking the dict and the walk itself (a thread switch at that bytecode boundary, seen under
    # load). The walk then raised "dictionary changed size during iteration" out of verify().
    from serverless_jwt import _cache

    cache = VerifiedTokens(4)
    for n in range(4):
        cache.put(f"t{n}", 1)
    real_islice = _cache.islice
    raced: list[str] = []

    def islice_then_another_store(iterable: Any, stop: int) -> Any:
        walk = real_islice(iterable, stop)
        if not raced:
            raced.append("racing")
            dict.__setitem__(cache, "racing", 1)  # what a store in another thread does meanwhile
        return walk

    monkeypatch.setattr(_cache, "islice", islice_then_another_store)
    cache.put("new", 1)
    assert raced == ["racing"]
    assert list(cache) == ["t2", "t3", "racing", "new"]  # the oldest two went, the racing store stayed


def test_the_verifier_stores_the_key_generation_not_the_claims() -> None:
    secret = secrets.token_bytes(32)
    with DevIssuer() as dev:
        token = dev.mint(sub="alice", alg="HS256", secret=secret, audience=None)  # no aud: none configured

    seen: list[object] = []

    def tamper(claims: dict[str, object]) -> bool:
        seen.append(claims["sub"])
        claims["sub"] = "mallory"  # a custom check that edits its argument
        return True

    verifier = Verifier(secrets=[secret], claim_checks=[tamper], verified_cache_size=4)
    first = verifier.verify(token)
    assert verifier._cache.get(token) == verifier._keys.generation  # the generation, nothing else
    first["sub"] = "eve"  # and a caller that edits its result
    assert verifier.verify(token)["sub"] == "mallory"  # a hit ...
    assert seen == ["alice", "alice"]  # ... judged on the signed payload again
    assert len(verifier._cache) == 1


def test_a_verifier_with_the_cache_off_stores_nothing() -> None:
    secret = secrets.token_bytes(32)
    with DevIssuer() as dev:
        token = dev.mint(sub="alice", alg="HS256", secret=secret, audience=None)  # no aud: none configured
    verifier = Verifier(secrets=[secret], verified_cache_size=0)
    assert verifier.verify(token)["sub"] == "alice"
    assert len(verifier._cache) == 0


def test_a_repeated_token_is_a_hit_whatever_the_key_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    # Static keys and secrets never change: their generation is 0, a falsy value a hit must still count.
    from serverless_jwt import token as token_module

    parsed: list[str] = []
    decode = token_module.decode

    def counting(token: str, **kwargs: Any) -> Any:
        parsed.append(token)
        return decode(token, **kwargs)

    monkeypatch.setattr(token_module, "decode", counting)
    secret = secrets.token_bytes(32)
    with DevIssuer() as dev:
        signed = dev.mint(sub="alice", alg="HS256", secret=secret, audience=None)
        static = Verifier(issuer=dev.issuer, audience=dev.audience, jwks=dev.jwks())
        remote = Verifier(issuer=dev.issuer, audience=dev.audience)
        for verifier, token in ((Verifier(secrets=[secret]), signed), (static, dev.mint(sub="bob")),
                                (remote, dev.mint(sub="carol"))):
            parsed.clear()
            first, second = verifier.verify(token), verifier.verify(token)
            assert first == second
            assert parsed == [token]  # the second call never reached the parser's full path
    assert static._keys.generation == 0
    assert remote._keys.generation >= 1


def test_a_token_one_verifier_cached_earns_nothing_from_another_with_the_same_keys() -> None:
    # Both read one shared JWKS record, so their key generations are equal: only a cache of each
    # verifier's own keeps one verifier's admission from skipping another's header rules (a hit skips
    # them: alg allow-list, typ) or its claim rules.
    from serverless_jwt.errors import AuthError

    with DevIssuer() as dev:
        token = dev.mint(sub="alice", audience="api-a")  # RS256, typ JWT
        first = Verifier(issuer=dev.issuer, audience="api-a")
        others = [Verifier(issuer=dev.issuer, audience="api-a", algorithms=["PS256", "ES256"]),
                  Verifier(issuer=dev.issuer, audience="api-a", require_access_token_type=True),
                  Verifier(issuer=dev.issuer, audience="api-b"),
                  Verifier(issuer=dev.issuer, audience="api-a", claim_checks=[lambda c: c["sub"] == "bob"])]
        for _ in range(2):
            assert first.verify(token)["sub"] == "alice"
        assert token in first._cache
        for other in others:
            for _ in range(2):  # and not after a first refusal either
                with pytest.raises(AuthError):
                    other.verify(token)
            assert other._keys.generation == first._keys.generation
            assert token not in other._cache
        assert first.verify(token)["sub"] == "alice"


def test_threads_sharing_one_verifier_get_every_verdict_right_across_a_key_rotation() -> None:
    # Eight threads verify tokens through one small cache (hits, misses and evictions all along) while
    # the issuer revokes the signing key: no thread ever sees an error other than AuthError, and once a
    # refresh has seen the key gone, no token it signed is admitted, cached or not. (While a refresh is
    # in flight, requests go on with the keys in hand, by design: admissions racing the rotation are.)
    from serverless_jwt.errors import AuthError, UnknownKeyError

    with DevIssuer() as dev:
        verifier = Verifier(issuer=dev.issuer, audience=dev.audience, verified_cache_size=8,
                            jwks_max_age_seconds=1e-9, unknown_kid_cooldown_seconds=0)
        old = [dev.mint(sub=f"user-{n}") for n in range(24)]
        for token in old[:8]:
            verifier.verify(token)
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            for i in range(60):
                token = old[(worker * 7 + i) % len(old)]
                try:
                    verifier.verify(token)
                except AuthError:
                    continue
                except BaseException as exc:  # anything else is a crash in a request
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        dev.rotate(keep_old=False)
        for t in threads:
            t.join()
        assert errors == []
        assert len(verifier._cache) <= 8 + 7
        for token in old:
            with pytest.raises(UnknownKeyError):
                verifier.verify(token)
        assert verifier.verify(dev.mint(sub="new"))["sub"] == "new"
