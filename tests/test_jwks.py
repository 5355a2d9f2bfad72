"""RemoteKeySource over real loopback HTTP with the dev issuer; cache timing from a fake clock."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH, DevIssuer
from serverless_jwt.errors import ConfigurationError, KeysUnavailableError, UnknownKeyError
from serverless_jwt.jwks import RemoteKeySource
from serverless_jwt.token import parse

from .conftest import FakeClock
from .conftest import remote_source as _source
from .conftest import verifies as _verifies


def _unavailable(source: RemoteKeySource, header: dict[str, Any]) -> KeysUnavailableError:
    with pytest.raises(KeysUnavailableError) as info:
        source.keys_for(header)
    # Our fixed text only, and no foreign exception chained for a log to print.
    assert info.value.description == KeysUnavailableError.default_description
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
    return info.value


# -- the happy path ----------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_discovery_then_jwks_then_verification(issuer: DevIssuer, alg: str) -> None:
    source = _source(issuer, FakeClock())
    assert _verifies(source, issuer.mint(alg=alg))
    assert not _verifies(source, issuer.mint_with_foreign_key(alg=alg))
    assert issuer.requests[DISCOVERY_PATH] == 1
    assert issuer.requests[JWKS_PATH] == 1


def test_explicit_jwks_uri_skips_discovery(issuer: DevIssuer) -> None:
    source = _source(issuer, FakeClock(), issuer=None, jwks_uri=issuer.jwks_uri)
    assert _verifies(source, issuer.mint())
    assert issuer.requests[DISCOVERY_PATH] == 0


def test_issuer_with_trailing_slash_is_joined_and_compared_exactly(issuer: DevIssuer) -> None:
    issuer.discovery_overrides["issuer"] = issuer.issuer + "/"
    source = _source(issuer, FakeClock(), issuer=issuer.issuer + "/")
    assert _verifies(source, issuer.mint())
    assert issuer.requests[DISCOVERY_PATH] == 1  # not "//.well-known/..."


def test_prefetch_loads_keys_once(issuer: DevIssuer) -> None:
    source = _source(issuer, FakeClock())
    source.prefetch()
    source.prefetch()
    assert _verifies(source, issuer.mint())
    assert issuer.requests[JWKS_PATH] == 1


def test_prefetch_on_every_request_still_refreshes_and_still_refuses(issuer: DevIssuer) -> None:
    # The verifier calls prefetch() per request; its shortcut must keep every rule of the full path.
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    source.prefetch()
    clock.advance(599)
    source.prefetch()
    assert issuer.requests[JWKS_PATH] == 1
    clock.advance(1)
    source.prefetch()
    assert issuer.requests[JWKS_PATH] == 2
    # Another source of the same issuer shares the fetched set but may use none of it.
    es384_only = _source(issuer, clock, algorithms=["ES384"], jwks_max_age_seconds=600)
    for _ in range(2):
        with pytest.raises(KeysUnavailableError):
            es384_only.prefetch()


def test_fresh_generation_answers_only_while_no_refresh_is_due(issuer: DevIssuer) -> None:
    # The verifier asks this on every request instead of prefetch(): None must send it there whenever
    # prefetch() would do anything (a first fetch, a refresh at max age, a set with nothing for us).
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    assert source.fresh_generation() is None  # nothing fetched yet
    source.prefetch()
    assert source.fresh_generation() == source.generation >= 1
    clock.advance(599)
    assert source.fresh_generation() == source.generation
    clock.advance(1)
    assert source.fresh_generation() is None  # max age: due for a refresh
    assert issuer.requests[JWKS_PATH] == 1  # asking fetches nothing
    issuer.rotate()
    source.prefetch()
    assert source.fresh_generation() == source.generation >= 2
    # A source of the same issuer that has not derived the shared set yet, or finds nothing in it.
    late = _source(issuer, clock, algorithms=["RS256"])
    assert late.fresh_generation() is None
    late.prefetch()
    assert late.fresh_generation() == source.generation
    es384_only = _source(issuer, clock, algorithms=["ES384"])
    with pytest.raises(KeysUnavailableError):
        es384_only.prefetch()
    assert es384_only.fresh_generation() is None
    assert issuer.requests[JWKS_PATH] == 2


# -- faults ------------------------------------------------------------------------------------

FAULTS = ["500", "503", "slow", "drip", "huge", "huge_undeclared", "redirect", "not_json", "json_bomb",
          "wrong_shape", "reset"]


@pytest.mark.parametrize("path", [DISCOVERY_PATH, JWKS_PATH])
@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_is_keys_unavailable(issuer: DevIssuer, fault: str, path: str) -> None:
    issuer.fault, issuer.fault_paths, issuer.slow_seconds = fault, {path}, 30
    source = _source(issuer, FakeClock(), timeout_seconds=0.5)
    _unavailable(source, {"kid": issuer.kid()})
    if path == DISCOVERY_PATH:
        assert issuer.requests[JWKS_PATH] == 0  # a broken discovery is never trusted for a JWKS URI


def test_drip_is_bounded_by_the_deadline(issuer: DevIssuer) -> None:
    # Without one total deadline this would complete (minutes later) with a valid JWKS.
    issuer.fault, issuer.fault_paths = "drip", {JWKS_PATH}
    _unavailable(_source(issuer, FakeClock(), timeout_seconds=1), {"kid": issuer.kid()})


def test_redirect_is_not_followed(issuer: DevIssuer) -> None:
    issuer.fault, issuer.fault_paths = "redirect", {JWKS_PATH}
    _unavailable(_source(issuer, FakeClock()), {"kid": issuer.kid()})
    assert issuer.requests[JWKS_PATH] == 1


@pytest.mark.parametrize(
    "overrides",
    [{"issuer": "https://attacker.example"}, {"issuer": None}, {"jwks_uri": 5},
     {"jwks_uri": "http://keys.example/jwks.json"}, {"jwks_uri": None},
     {"jwks_uri": "https://keys example/jwks.json"}, {"jwks_uri": "https://keys.example\x00/jwks.json"}],
)
def test_discovery_document_must_name_our_issuer_and_a_safe_jwks_uri(
    issuer: DevIssuer, overrides: dict[str, Any]
) -> None:
    issuer.discovery_overrides.update(overrides)
    _unavailable(_source(issuer, FakeClock()), {"kid": issuer.kid()})
    assert issuer.requests[JWKS_PATH] == 0


def test_wrong_issuer_fault_is_refused(issuer: DevIssuer) -> None:
    issuer.fault = "wrong_issuer"
    _unavailable(_source(issuer, FakeClock()), {"kid": issuer.kid()})
    assert issuer.requests[JWKS_PATH] == 0


def test_trailing_slash_mismatch_is_refused(issuer: DevIssuer) -> None:
    _unavailable(_source(issuer, FakeClock(), issuer=issuer.issuer + "/"), {"kid": issuer.kid()})


# -- single flight and cache timing -----------------------------------------------------------

def test_fifty_threads_at_cold_start_cause_one_discovery_and_one_jwks_fetch(issuer: DevIssuer) -> None:
    issuer.fault, issuer.slow_seconds = "slow", 0.3  # keep the first fetch in flight while others arrive
    source = _source(issuer, FakeClock())
    token = issuer.mint()
    barrier = threading.Barrier(50)
    results: list[bool] = []

    def worker() -> None:
        barrier.wait()
        results.append(_verifies(source, token))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [True] * 50
    assert issuer.requests[DISCOVERY_PATH] == 1
    assert issuer.requests[JWKS_PATH] == 1


def test_keys_are_fresh_for_max_age_then_refreshed(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    token = issuer.mint()
    for _ in range(20):
        assert _verifies(source, token)
    clock.advance(599)
    assert _verifies(source, token)
    assert issuer.requests[JWKS_PATH] == 1
    clock.advance(1)
    assert _verifies(source, token)
    assert issuer.requests[JWKS_PATH] == 2
    assert issuer.requests[DISCOVERY_PATH] == 1  # discovery is remembered


def test_unknown_kid_storm_refetches_once_per_cooldown(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, unknown_kid_cooldown_seconds=30)
    source.prefetch()

    def storm(n: int) -> None:
        for i in range(n):
            with pytest.raises(UnknownKeyError):
                source.keys_for({"kid": f"unknown-{i}"})

    storm(100)
    assert issuer.requests[JWKS_PATH] == 2
    clock.advance(29)
    storm(100)
    assert issuer.requests[JWKS_PATH] == 2
    clock.advance(1)
    storm(100)
    assert issuer.requests[JWKS_PATH] == 3


def test_concurrent_unknown_kids_share_one_refetch(issuer: DevIssuer) -> None:
    source = _source(issuer, FakeClock())
    source.prefetch()
    issuer.fault, issuer.slow_seconds = "slow", 0.3
    barrier = threading.Barrier(20)
    errors: list[Exception] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            source.keys_for({"kid": f"nope-{i}"})
        except UnknownKeyError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 20
    assert issuer.requests[JWKS_PATH] == 2


def test_rotation_is_picked_up_through_the_unknown_kid_refetch(issuer: DevIssuer) -> None:
    source = _source(issuer, FakeClock())
    assert _verifies(source, issuer.mint())
    before = source.generation
    issuer.rotate()
    assert _verifies(source, issuer.mint())
    assert source.generation == before + 1
    assert issuer.requests[JWKS_PATH] == 2


def test_an_unknown_kid_just_after_a_fetch_costs_no_second_fetch(issuer: DevIssuer) -> None:
    # The fetch a cold start (or a stale refresh) just made is as new as a refetch would be: one
    # request must not wait for two fetches.
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    with pytest.raises(UnknownKeyError):
        source.keys_for({"kid": "random-kid"})
    assert issuer.requests[JWKS_PATH] == 1
    clock.advance(600)
    with pytest.raises(UnknownKeyError):
        source.keys_for({"kid": "another-random-kid"})
    assert issuer.requests[JWKS_PATH] == 2
    with pytest.raises(UnknownKeyError):  # the next one may refetch, as the cool-down allows
        source.keys_for({"kid": "yet-another-kid"})
    assert issuer.requests[JWKS_PATH] == 3


def test_a_refresh_that_lands_during_the_call_is_read_before_a_kid_is_called_unknown(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # The window forced: a refresh completes, with the rotated key, after this call read the old set
    # and before it decides. It must look again, not refuse a good token.
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    held = source._keys()  # the set as it was before the rotation
    new_kid = issuer.rotate(keep_old=True)
    clock.advance(601)
    read = source._keys

    def read_the_old_set_while_a_refresh_lands() -> Any:
        read()  # the refresh runs and lands with the new key (as another request's would) ...
        return held  # ... while this call holds what it had read before

    monkeypatch.setattr(source, "_keys", read_the_old_set_while_a_refresh_lands)
    (key,) = source.keys_for({"kid": new_kid})
    assert key.kid == new_kid
    assert issuer.requests[JWKS_PATH] == 2  # and no refetch beyond that refresh


def test_on_a_loop_a_fetch_landing_before_the_kid_refetch_runs_is_the_fetch_it_waited_for(
        issuer: DevIssuer) -> None:
    # AsyncVerifier: the request's attempt schedules the stale-keys refresh, then raises WouldBlock for
    # the unknown kid; under load that refresh can land before the kid's worker thread starts. It is
    # the fetch the kid waited for: the worker must read it, not count fetches from its own start.
    from serverless_jwt._nonblocking import _SCHEDULER, WouldBlock

    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    source.prefetch()
    new_kid = issuer.rotate(keep_old=True)
    clock.advance(60)  # past the kid cool-down, still fresh
    reset = _SCHEDULER.set(lambda *_: None)
    try:
        with pytest.raises(WouldBlock) as blocked:
            source.keys_for({"kid": new_kid})
    finally:
        _SCHEDULER.reset(reset)
    clock.advance(600)
    source._refresh()  # the refresh lands (as the background thread's would), with the new key
    assert issuer.requests[JWKS_PATH] == 2
    blocked.value.step()  # the kid's worker, started only now
    assert issuer.requests[JWKS_PATH] == 2  # no second fetch: the refresh brought the set
    (key,) = source.keys_for({"kid": new_kid})
    assert key.kid == new_kid


def test_a_key_set_that_moved_is_found_by_reading_discovery_again(issuer: DevIssuer) -> None:
    with DevIssuer() as old_home:
        issuer.discovery_overrides["jwks_uri"] = old_home.jwks_uri  # where the keys were published
        clock = FakeClock()
        source = _source(issuer, clock, jwks_max_age_seconds=600)
        source.prefetch()
        issuer.discovery_overrides.clear()  # the issuer now publishes (new) keys at its own address
        # The old address still answers with the old keys: the unknown kid's refetch reads discovery.
        assert _verifies(source, issuer.mint())
        assert issuer.requests[DISCOVERY_PATH] == 2
        assert old_home.requests[JWKS_PATH] == 1
        # And when an old address fails: the next attempt reads discovery again.
        issuer.discovery_overrides["jwks_uri"] = old_home.jwks_uri
        clock.advance(30)
        with pytest.raises(UnknownKeyError):
            source.keys_for({"kid": "unknown"})  # the refetch moved us back to the old home
        assert old_home.requests[JWKS_PATH] == 2
        issuer.discovery_overrides.clear()
        old_home.fault = "500"
        clock.advance(600)
        with pytest.raises(KeysUnavailableError):  # the refresh fails; only the old home's keys are
            source.keys_for({"kid": issuer.kid()})  # cached, and the issuer's real kid is not a 401
        assert old_home.requests[JWKS_PATH] == 3
        clock.advance(1)
        assert _verifies(source, issuer.mint())
        assert (issuer.requests[DISCOVERY_PATH], issuer.requests[JWKS_PATH]) == (4, 2)
        clock.advance(600)
        assert _verifies(source, issuer.mint())  # settled: the discovered address is kept again
        assert (issuer.requests[DISCOVERY_PATH], issuer.requests[JWKS_PATH]) == (4, 3)


def test_failing_discovery_falls_back_to_the_known_key_set_address(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    token = issuer.mint()
    assert _verifies(source, token)
    issuer.fault, issuer.fault_paths = "503", {JWKS_PATH}
    clock.advance(600)
    assert _verifies(source, token)  # the refresh failed: stale keys serve, discovery is due again
    issuer.fault_paths = {DISCOVERY_PATH}
    clock.advance(1)
    assert _verifies(source, token)
    assert issuer.requests[DISCOVERY_PATH] == 2  # tried, failed ...
    assert issuer.requests[JWKS_PATH] == 3  # ... and the address it gave last time still serves
    assert source._fresh(clock())


def test_generation_changes_only_when_the_key_set_changes(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock)
    source.prefetch()
    first = source.generation
    clock.advance(600)
    source.prefetch()
    assert issuer.requests[JWKS_PATH] == 2
    assert source.generation == first
    issuer.rotate(alg="ES256", keep_old=True)
    clock.advance(600)
    source.prefetch()
    assert source.generation == first + 1


def test_failed_unknown_kid_refetch_keeps_the_cache_and_is_a_503_not_a_401(issuer: DevIssuer) -> None:
    # The unknown kid may be the issuer's new key: while the key set cannot be read, the caller is told
    # to retry (503), not that its token is bad (401, which makes clients throw a good token away).
    clock = FakeClock()
    source = _source(issuer, clock, unknown_kid_cooldown_seconds=30)
    token = issuer.mint()
    assert _verifies(source, token)
    issuer.rotate(alg="RS256", keep_old=True)
    new_header = parse(issuer.mint()).header
    issuer.fault = "503"
    with pytest.raises(KeysUnavailableError):
        source.keys_for(new_header)
    assert issuer.requests[JWKS_PATH] == 2
    with pytest.raises(KeysUnavailableError):  # within the cool-down and back-off: still not a verdict
        source.keys_for({"kid": "rotated-maybe"})
    assert issuer.requests[JWKS_PATH] == 2
    assert _verifies(source, token)  # known kids keep verifying from the cache

    issuer.fault = None
    clock.advance(31)
    assert source.keys_for(new_header)  # the issuer is back: the new key is found
    with pytest.raises(UnknownKeyError):  # and a kid it does not publish is a 401 again
        source.keys_for({"kid": "never-published"})


def test_after_a_failed_unknown_kid_refetch_the_back_off_not_the_cool_down_paces_the_next(
        issuer: DevIssuer) -> None:
    # The cool-down bounds fetches of a key set that answers; a failed one is retried with the back-off,
    # so a new key is found a second after the issuer is back, not up to the whole cool-down later.
    clock = FakeClock()
    source = _source(issuer, clock, unknown_kid_cooldown_seconds=30)
    assert _verifies(source, issuer.mint())
    issuer.rotate(alg="RS256", keep_old=True)
    new_header = parse(issuer.mint()).header
    issuer.fault = "503"
    with pytest.raises(KeysUnavailableError) as refused:
        source.keys_for(new_header)
    assert refused.value.retry_after_seconds == 1
    issuer.fault = None
    clock.advance(1.5)
    assert source.keys_for(new_header)
    assert issuer.requests[JWKS_PATH] == 3
    with pytest.raises(UnknownKeyError):  # a set that answered: the cool-down holds the next refetch
        source.keys_for({"kid": "never-published"})
    clock.advance(5)
    with pytest.raises(UnknownKeyError):
        source.keys_for({"kid": "never-published-either"})
    assert issuer.requests[JWKS_PATH] == 3


# -- outages -----------------------------------------------------------------------------------

def test_issuer_down_after_warm_up_serves_stale_keys_then_gives_up(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600, max_stale_seconds=3600)
    token = issuer.mint()
    assert _verifies(source, token)
    issuer.fault = "503"
    clock.advance(601)
    assert _verifies(source, token)  # refresh failed; the cached keys still serve
    assert issuer.requests[JWKS_PATH] == 2
    clock.advance(0.5)
    assert _verifies(source, token)
    assert issuer.requests[JWKS_PATH] == 2  # backing off: no request hammering a failing issuer
    clock.advance(1)
    assert _verifies(source, token)
    assert issuer.requests[JWKS_PATH] == 3
    issuer.stop()  # now really down: connection refused
    clock.advance(600 + 3600)
    _unavailable(source, {"kid": issuer.kid()})


def test_prefetch_raises_when_the_issuer_is_down(issuer: DevIssuer) -> None:
    issuer.fault = "reset"
    with pytest.raises(KeysUnavailableError):
        _source(issuer, FakeClock()).prefetch()


def test_no_usable_key_at_all_is_keys_unavailable(issuer: DevIssuer) -> None:
    _unavailable(_source(issuer, FakeClock(), algorithms=["ES384"]), {"kid": issuer.kid()})


# -- key filtering, end to end -----------------------------------------------------------------

def _public(private: Any) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    return dict(ECAlgorithm.to_jwk(public, as_dict=True))


def _private(private: Any) -> dict[str, Any]:
    if isinstance(private, rsa.RSAPrivateKey):
        return dict(RSAAlgorithm.to_jwk(private, as_dict=True))
    return dict(ECAlgorithm.to_jwk(private, as_dict=True))


def _rsa(bits: int = 2048) -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("private members", lambda: [_private(_rsa())]),
        ("small RSA", lambda: [_public(_rsa(1024))]),
        ("use=enc", lambda: [{**_public(_rsa()), "use": "enc"}]),
        ("key_ops without verify", lambda: [{**_public(_rsa()), "key_ops": ["encrypt", "wrapKey"]}]),
        ("duplicate key_ops", lambda: [{**_public(_rsa()), "key_ops": ["verify", "verify"]}]),
        ("duplicate kid", lambda: [_public(_rsa()), _public(_rsa())]),
        ("oct", lambda: [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]),
        ("curve mismatch", lambda: [{**_public(ec.generate_private_key(ec.SECP384R1())), "alg": "ES256"}]),
        ("JWK alg restriction", lambda: [{**_public(_rsa()), "alg": "RS384"}]),
    ],
)
def test_unusable_served_keys_are_never_selected(issuer: DevIssuer, name: str, make: Any) -> None:
    issuer.extra_jwks_keys = [{**jwk, "kid": "odd"} for jwk in make()]
    source = _source(issuer, FakeClock(), algorithms=["RS256", "ES256"])
    with pytest.raises(UnknownKeyError):
        source.keys_for({"alg": "RS256", "kid": "odd"})
    assert _verifies(source, issuer.mint())  # the issuer's good keys are unaffected


# -- configuration -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs",
    [
        {"issuer": None, "jwks_uri": None},
        {"issuer": "http://issuer.example", "jwks_uri": None},
        {"issuer": None, "jwks_uri": "http://issuer.example/jwks.json"},
        {"issuer": "https://issuer.example", "jwks_uri": None, "algorithms": ["HS256"]},
        {"issuer": "https://issuer.example", "jwks_uri": None, "timeout_seconds": 0},
        # Accepted, these made every cold request an OverflowError (a 500): no lock or timer waits that long.
        {"issuer": "https://issuer.example", "jwks_uri": None, "timeout_seconds": float("inf")},
        {"issuer": "https://issuer.example", "jwks_uri": None, "timeout_seconds": 1e10},
        {"issuer": "https://issuer.example", "jwks_uri": None, "max_stale_seconds": -1},
        # Accepted, these never fetched the keys again (a rotated key never picked up), or served a
        # retired set for good: each is bounded (a day, an hour, a week).
        {"issuer": "https://issuer.example", "jwks_uri": None, "jwks_max_age_seconds": float("inf")},
        {"issuer": "https://issuer.example", "jwks_uri": None, "jwks_max_age_seconds": 86401},
        {"issuer": "https://issuer.example", "jwks_uri": None, "unknown_kid_cooldown_seconds": float("inf")},
        {"issuer": "https://issuer.example", "jwks_uri": None, "unknown_kid_cooldown_seconds": 3601},
        {"issuer": "https://issuer.example", "jwks_uri": None, "max_stale_seconds": float("inf")},
        {"issuer": "https://issuer.example", "jwks_uri": None, "max_stale_seconds": 7 * 86400 + 1},
        # Of the wrong type: a TypeError from the comparisons below, not the ConfigurationError of the rest.
        {"issuer": "https://issuer.example", "jwks_uri": None, "timeout_seconds": "5"},
        {"issuer": "https://issuer.example", "jwks_uri": None, "timeout_seconds": True},
        {"issuer": "https://issuer.example", "jwks_uri": None, "jwks_max_age_seconds": None},
        {"issuer": "https://issuer.example", "jwks_uri": None, "unknown_kid_cooldown_seconds": "30"},
    ],
)
def test_unsafe_or_impossible_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("algorithms", ["RS256"])
    with pytest.raises(ConfigurationError):
        RemoteKeySource(**kwargs)


@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "keys..example.com"])
@pytest.mark.parametrize("setting", ["issuer", "jwks_uri"])
def test_a_host_name_no_resolver_accepts_is_refused_at_construction_by_name(host: str, setting: str) -> None:
    # Accepted, every fetch failed before any query (getaddrinfo refuses the name): a 503 on every request.
    with pytest.raises(ConfigurationError) as info:
        RemoteKeySource(**{"issuer": None, "jwks_uri": None, setting: f"https://{host}/"},
                        algorithms=["RS256"])
    assert str(info.value).startswith(f"{setting} has a host name no resolver accepts")


def test_a_slow_refresh_does_not_hold_up_requests_that_have_cached_keys(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, timeout_seconds=5, jwks_max_age_seconds=600)
    token = issuer.mint()
    assert _verifies(source, token)
    clock.advance(601)  # keys are now due for a refresh, but still within the stale window
    issuer.fault, issuer.fault_paths, issuer.slow_seconds = "slow", {JWKS_PATH}, 3
    before = issuer.requests[JWKS_PATH]
    refresher = threading.Thread(target=_verifies, args=(source, token))
    refresher.start()
    while issuer.requests[JWKS_PATH] == before:  # the refreshing thread is now inside its fetch
        threading.Event().wait(0.01)
    # Another request meanwhile is answered from the cache, not queued behind the slow fetch.
    assert _verifies(source, token)
    assert refresher.is_alive()
    refresher.join()


def test_an_empty_key_set_from_the_issuer_keeps_the_cached_keys(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600)
    token = issuer.mint()
    assert _verifies(source, token)
    issuer.jwks = lambda: {"keys": []}  # type: ignore[method-assign]  # the issuer glitches
    clock.advance(601)
    assert _verifies(source, token)  # refreshed, got nothing usable, kept serving the cache
    assert issuer.requests[JWKS_PATH] == 2


def test_a_cold_start_outage_recovers_on_the_first_request_after_it(issuer: DevIssuer) -> None:
    # Nothing cached: no back-off window in which a recovered issuer would still be answered with 503.
    clock = FakeClock()
    source = _source(issuer, clock)
    issuer.fault = "503"
    for _ in range(3):
        _unavailable(source, {"kid": issuer.kid()})
    assert issuer.requests[DISCOVERY_PATH] == 3  # one attempt per request while down, never more
    issuer.fault = None
    assert _verifies(source, issuer.mint())  # no clock advance: the very next request recovers
    assert issuer.requests[DISCOVERY_PATH] == 4
    assert issuer.requests[JWKS_PATH] == 1


def test_a_long_cold_start_outage_stays_503_and_then_caps_the_backoff_of_cached_keys(
        issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    # Past 1,024 failures in a row the back-off's 2**n once overflowed a float: OverflowError, a 500.
    clock = FakeClock()
    source = _source(issuer, clock, jwks_uri=issuer.jwks_uri, jwks_max_age_seconds=600)
    issuer.fault = "503"
    with caplog.at_level("WARNING", logger="serverless_jwt.jwks"):
        for _ in range(1030):  # a cold cache tries again on every request: an outage of a few seconds
            _unavailable(source, {"kid": issuer.kid()})
    assert issuer.requests[JWKS_PATH] == 1030
    # Logged at the 1st, 2nd, 4th ... 1024th failure in a row, not once per request.
    assert [r.getMessage().rsplit("(", 1)[1] for r in caplog.records] == [
        f"{2 ** n} in a row)" for n in range(11)]
    issuer.fault = None
    assert _verifies(source, issuer.mint())
    issuer.fault = "503"
    clock.advance(600)
    for _ in range(2 * 1030):  # stale keys, the issuer down 17 hours: retried once a minute, no more
        clock.advance(31)
        assert _verifies(source, issuer.mint())
    # One fetch per 62 s once doubled to the 60 s cap (the first doublings are shorter than 31 s).
    assert 1030 <= issuer.requests[JWKS_PATH] - 1031 <= 1030 + 6


def test_a_retry_after_from_the_issuer_is_honoured_even_with_nothing_cached(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, jwks_uri=issuer.jwks_uri, jwks_max_age_seconds=600)
    issuer.fault, issuer.retry_after = "429", "20"
    waits = []
    for _ in range(50):
        waits.append(_unavailable(source, {"kid": issuer.kid()}).retry_after_seconds)
        clock.advance(0.1)
    assert issuer.requests[JWKS_PATH] == 1  # asked to slow down: not one fetch per request
    # Our 503s tell clients when a fetch may happen again, counting down to the issuer's 20 s.
    assert waits[0] == 20
    assert waits[-1] == 16
    assert waits == sorted(waits, reverse=True)
    clock.advance(15)
    issuer.fault = None
    assert _verifies(source, issuer.mint())
    assert issuer.requests[JWKS_PATH] == 2
    # With stale keys in hand, and an answer of Retry-After: 3600: back after our own cap (60 s).
    issuer.fault, issuer.retry_after = "429", "3600"
    clock.advance(600)
    assert _verifies(source, issuer.mint())
    clock.advance(59)
    assert _verifies(source, issuer.mint())
    with pytest.raises(KeysUnavailableError):  # nor does an unknown kid fetch meanwhile (a 503: the
        source.keys_for({"kid": "rotated-maybe"})  # last fetch failed, so that kid may well be real)
    assert issuer.requests[JWKS_PATH] == 3
    clock.advance(1)
    assert _verifies(source, issuer.mint())
    assert issuer.requests[JWKS_PATH] == 4


def test_a_429_without_retry_after_is_not_retried_on_every_request_even_with_nothing_cached(
    issuer: DevIssuer,
) -> None:
    # Rate-limited with no time named (Auth0 and Okta put theirs in X-RateLimit-Reset headers): a fetch
    # per request would keep the limit on; the back-off (1 s, doubling) paces the tries instead.
    clock = FakeClock()
    source = _source(issuer, clock, jwks_uri=issuer.jwks_uri)
    issuer.fault, issuer.retry_after = "429", None
    waits = [_unavailable(source, {"kid": issuer.kid()}).retry_after_seconds for _ in range(5)]
    assert issuer.requests[JWKS_PATH] == 1
    assert waits == [1] * 5
    clock.advance(1)
    assert [_unavailable(source, {"kid": issuer.kid()}).retry_after_seconds for _ in range(5)] == [2] * 5
    assert issuer.requests[JWKS_PATH] == 2
    clock.advance(2)
    issuer.fault = None
    assert _verifies(source, issuer.mint())
    assert issuer.requests[JWKS_PATH] == 3


def test_a_503_says_when_a_key_fetch_may_happen_again(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock, jwks_uri=issuer.jwks_uri)
    issuer.fault = "500"
    # Nothing to serve: the very next request fetches again (the issuer may be back by then).
    assert [_unavailable(source, {"kid": issuer.kid()}).retry_after_seconds for _ in range(8)] == [1] * 8
    assert issuer.requests[JWKS_PATH] == 8
    issuer.fault = None
    assert _verifies(source, issuer.mint())
    # Keys in hand and a token signed with a new key while the issuer fails: its kid is refetched
    # after the back-off (1 s, then 2 s, ...), which is what the 503 says, counting down.
    issuer.fault = "500"
    issuer.rotate()
    clock.advance(31)
    assert _unavailable(source, {"kid": issuer.kid()}).retry_after_seconds == 1
    clock.advance(1)
    assert _unavailable(source, {"kid": issuer.kid()}).retry_after_seconds == 2
    clock.advance(0.5)
    assert _unavailable(source, {"kid": issuer.kid()}).retry_after_seconds == 2  # 1.5 s: no fetch
    fetches = issuer.requests[JWKS_PATH]
    clock.advance(1.5)
    issuer.fault = None
    assert _verifies(source, issuer.mint())
    assert issuer.requests[JWKS_PATH] == fetches + 1
    # That refetch answered: the cool-down (30 s) paces the next one.
    with pytest.raises(UnknownKeyError):
        source.keys_for({"kid": "never-published"})
    assert issuer.requests[JWKS_PATH] == fetches + 1


def test_threads_arriving_during_a_cold_start_outage_share_one_failed_attempt(issuer: DevIssuer) -> None:
    # No back-off without keys, but still single flight: those who waited read the failure, not retry it.
    issuer.fault, issuer.slow_seconds = "slow", 3.0
    source = _source(issuer, FakeClock(), timeout_seconds=1.0)  # long enough for all 20 to queue behind it
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def worker() -> None:
        barrier.wait()
        try:
            source.keys_for({"kid": issuer.kid()})
            outcomes.append("keys")
        except KeysUnavailableError:
            outcomes.append("unavailable")

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes == ["unavailable"] * 20
    assert issuer.requests[DISCOVERY_PATH] == 1


def test_past_the_stale_window_a_recovered_issuer_is_used_at_once(issuer: DevIssuer) -> None:
    # Expired keys are no keys: no back-off window keeps answering 503 once the issuer is back.
    clock = FakeClock()
    source = _source(issuer, clock, jwks_max_age_seconds=600, max_stale_seconds=3600)
    assert _verifies(source, issuer.mint())
    issuer.fault = "503"
    clock.advance(600 + 3600)
    for _ in range(3):
        _unavailable(source, {"kid": issuer.kid()})
    issuer.fault = None
    assert _verifies(source, issuer.mint())  # no clock advance needed


def test_a_remote_jwks_publishing_a_private_key_is_warned_about_once_per_load_not_per_request(
        issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    from serverless_jwt.verifier import Verifier

    leaked = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer.extra_jwks_keys = [{**RSAAlgorithm.to_jwk(leaked, as_dict=True), "kid": "leaked", "alg": "RS256"}]
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, verified_cache_size=0)
    with caplog.at_level("WARNING", logger="serverless_jwt.keys"):
        for _ in range(3):
            assert verifier.verify(issuer.mint(sub="good"))["sub"] == "good"
    (record,) = caplog.records  # the fetch's key set, parsed once: one line, not one per request
    assert "private_members (kid 'leaked')" in record.getMessage()


def test_a_remote_jwks_serves_its_good_keys_and_skips_weak_ones_with_a_warning(
        issuer: DevIssuer, roca_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture) -> None:
    from serverless_jwt.verifier import Verifier

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    issuer.extra_jwks_keys = [
        {**RSAAlgorithm.to_jwk(roca_key.public_key(), as_dict=True), "kid": "roca", "alg": "RS256"},
        {**RSAAlgorithm.to_jwk(small.public_key(), as_dict=True), "kid": "small", "alg": "RS256"},
    ]
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)
    with caplog.at_level("WARNING", logger="serverless_jwt.keys"):
        assert verifier.verify(issuer.mint(sub="good"))["sub"] == "good"
    (record,) = caplog.records  # one line for the fetch: its key set is parsed once
    assert "rsa_roca" in record.getMessage()
    assert "rsa_too_small" in record.getMessage()
    claims = parse(issuer.mint()).claims
    for key, kid in ((roca_key, "roca"), (small, "small")):
        # Really signed by the weak key the issuer publishes: still never verified.
        with pytest.raises(UnknownKeyError):
            verifier.verify(jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid}))


def test_a_hung_discovery_leaves_time_to_fetch_the_known_key_set(issuer: DevIssuer) -> None:
    # Discovery stalls past the whole deadline while the JWKS still serves: a rotation (read through the
    # unknown-kid refetch, which looks discovery up again) must still reach the known address.
    clock = FakeClock()
    source = _source(issuer, clock, timeout_seconds=1)
    assert _verifies(source, issuer.mint())
    issuer.rotate(keep_old=True)
    issuer.fault, issuer.fault_paths, issuer.slow_seconds = "slow", {DISCOVERY_PATH}, 5
    assert _verifies(source, issuer.mint())
    assert (issuer.requests[DISCOVERY_PATH], issuer.requests[JWKS_PATH]) == (2, 2)


# -- verifiers of one issuer with different allow-lists (one shared cache) ---------------------------

def _served_keys(issuer: DevIssuer, kty: str) -> None:
    """From now on ``issuer`` publishes only its keys of type ``kty``."""
    published = issuer.jwks
    issuer.jwks = lambda: {  # type: ignore[method-assign]
        "keys": [k for k in published()["keys"] if k["kty"] == kty]}


def test_a_verifier_whose_algorithms_fit_no_published_key_does_not_starve_another(issuer: DevIssuer) -> None:
    # The dev issuer publishes RS256 and ES256 (P-256) keys, none for ES384. Both sources share one
    # cache record: the ES384 one's refreshes must not count as failures that hold back the RS256 one's.
    clock = FakeClock()
    rs256 = _source(issuer, clock, algorithms=["RS256"], jwks_max_age_seconds=600)
    es384 = _source(issuer, clock, algorithms=["ES384"], jwks_max_age_seconds=600)
    token = issuer.mint()
    assert _verifies(rs256, token)
    for _ in range(1800 // 30):  # half an hour, one request each every 30 s, the ES384 one first
        clock.advance(30)
        _unavailable(es384, {"kid": issuer.kid("ES256")})
        assert _verifies(rs256, token)
    # The issuer rotates: its new key is found by the unknown kid's refetch, not refused with a 503
    # while a back-off that the ES384 source's refreshes keep running holds that refetch.
    issuer.rotate(keep_old=True)
    assert _verifies(rs256, issuer.mint())
    # Refreshed every 10 minutes (whichever source asked first), plus that refetch.
    assert issuer.requests[JWKS_PATH] == 1 + 1800 // 600 + 1


def test_a_verifier_whose_algorithms_fit_no_published_key_fetches_once_per_max_age_and_says_why_once(
        issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    # A key set with keys for other algorithms is an answer, not a failure: no fetch per request (a
    # cold cache retries failures at once), and no back-off recorded on the record others share.
    clock = FakeClock()
    es384 = _source(issuer, clock, algorithms=["ES384", "ES512"], jwks_max_age_seconds=600)
    token = issuer.mint()
    with caplog.at_level("WARNING", logger="serverless_jwt.jwks"):
        waits = [_unavailable(es384, parse(token).header).retry_after_seconds for _ in range(5)]
        clock.advance(590)
        waits.append(_unavailable(es384, parse(token).header).retry_after_seconds)
        assert issuer.requests[JWKS_PATH] == 1
        clock.advance(10)  # due for its refresh: the same set again
        _unavailable(es384, parse(token).header)
    assert issuer.requests[JWKS_PATH] == 2
    assert es384._entry.failures == 0
    # Nothing changes before the set is due for a refresh: that is when to come back (capped at 60).
    assert waits == [60] * 5 + [10]
    (record,) = caplog.records  # once for that key set, not once per request or per fetch
    message = record.getMessage()
    assert issuer.issuer in message
    assert "ES384, ES512" in message
    assert token not in message
    assert token.split(".")[1] not in message


def test_a_verifier_that_fits_no_published_key_leaves_the_others_their_keys_on_an_event_loop(
        issuer: DevIssuer) -> None:
    import asyncio

    from serverless_jwt import AsyncVerifier, Verifier

    _served_keys(issuer, "RSA")  # an issuer that publishes RSA keys only
    rs256 = AsyncVerifier(Verifier(issuer=issuer.issuer, audience=issuer.audience, algorithms=["RS256"]))
    es256 = AsyncVerifier(Verifier(issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"]))
    for _ in range(3):
        with pytest.raises(KeysUnavailableError):
            asyncio.run(es256.verify(issuer.mint(alg="ES256")))
    assert issuer.requests[JWKS_PATH] == 1  # stored, not a failure each request tries again
    assert asyncio.run(rs256.verify(issuer.mint()))["sub"] == "dev-user"
    assert issuer.requests[JWKS_PATH] == 1  # the RS256 verifier reads the set the other one fetched


def test_an_issuer_that_switched_key_types_is_no_longer_trusted_with_the_keys_it_removed(
        issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    # Not a glitch: its new set has good keys (EC), only none for this RS256-only verifier. The RSA
    # keys it no longer publishes stop serving at the refresh, as a rotation's removed keys do, rather
    # than for the whole stale window (a day) a failed refresh would keep them.
    clock = FakeClock()
    source = _source(issuer, clock, algorithms=["RS256"], jwks_max_age_seconds=600)
    token = issuer.mint()
    assert _verifies(source, token)
    _served_keys(issuer, "EC")
    clock.advance(600)
    with caplog.at_level("WARNING", logger="serverless_jwt.jwks"):
        _unavailable(source, parse(token).header)
    assert issuer.requests[JWKS_PATH] == 2
    assert "RS256" in caplog.records[0].getMessage()
    issuer.jwks = type(issuer).jwks.__get__(issuer)  # type: ignore[method-assign]  # RSA again
    clock.advance(600)  # the next refresh brings it back
    assert _verifies(source, token)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("empty", lambda: []),
        ("malformed", lambda: [{"kty": "RSA", "n": "not base64url!", "e": "AQAB", "kid": "m"}]),
        ("weak", lambda: [{**_public(_rsa(1024)), "kid": "small"}]),
        ("symmetric", lambda: [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]),
        ("private", lambda: [_private(_rsa())]),
        ("use=enc", lambda: [{**_public(_rsa()), "use": "enc"}]),
        ("ambiguous kid", lambda: [{**_public(_rsa()), "kid": "k"}, {**_public(_rsa()), "kid": "k"}]),
    ],
)
def test_a_key_set_with_nothing_usable_for_any_algorithm_is_still_a_glitch(
        issuer: DevIssuer, name: str, make: Any) -> None:
    # What the shared record protects: no verifier of that issuer drops its keys for such a set; the
    # refresh failed, its back-off holds, and the cached keys serve (also to a source they do not fit).
    clock = FakeClock()
    rs256 = _source(issuer, clock, algorithms=["RS256"], jwks_max_age_seconds=600)
    es384 = _source(issuer, clock, algorithms=["ES384"], jwks_max_age_seconds=600)
    token = issuer.mint()
    assert _verifies(rs256, token)
    served = make()
    issuer.jwks = lambda: {"keys": served}  # type: ignore[method-assign]  # the issuer glitches
    clock.advance(600)
    _unavailable(es384, parse(token).header)  # its refresh fails: no failure of its own to store
    assert issuer.requests[JWKS_PATH] == 2
    assert rs256._entry.failures == 1
    assert _verifies(rs256, token)  # the back-off holds the next refresh; the cached keys serve
    assert issuer.requests[JWKS_PATH] == 2
    clock.advance(1)
    assert _verifies(rs256, token)  # retried after the back-off, failed again, still served
    assert issuer.requests[JWKS_PATH] == 3
    assert rs256._entry.failures == 2


def _in_flight(issuer: DevIssuer, source: RemoteKeySource, header: dict[str, Any], fetches: int
               ) -> threading.Thread:
    """``source.keys_for(header)`` in a thread, returned once its (slow) JWKS request is on the wire."""
    def fetch() -> None:
        with contextlib.suppress(UnknownKeyError):
            source.keys_for(header)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    while issuer.requests[JWKS_PATH] < fetches:
        time.sleep(0.01)
    return thread


def test_a_verifier_never_waits_past_its_own_deadline_on_another_verifiers_fetch(issuer: DevIssuer) -> None:
    # Verifiers of one issuer share its cache record and its fetch lock, not their timeout_seconds: one
    # with a short deadline must not queue behind another's long fetch (a 503 instead, as for its own).
    clock = FakeClock()
    patient = _source(issuer, clock, timeout_seconds=30)
    hurried = _source(issuer, clock, timeout_seconds=0.2)
    issuer.fault, issuer.fault_paths, issuer.slow_seconds = "slow", {JWKS_PATH}, 3
    fetch = _in_flight(issuer, patient, {"kid": issuer.kid()}, 1)  # a cold start, on a slow issuer
    _unavailable(hurried, {"kid": issuer.kid()})
    assert fetch.is_alive()  # answered while the other fetch still runs
    fetch.join()
    issuer.fault = None
    assert _verifies(hurried, issuer.mint())
    # The same for an unknown kid's refetch: a 503 (the kid may be in the set on its way), not a 401.
    issuer.fault = "slow"
    fetch = _in_flight(issuer, patient, {"kid": "new-1"}, 2)
    _unavailable(hurried, {"kid": "new-2"})
    assert fetch.is_alive()
    fetch.join()
