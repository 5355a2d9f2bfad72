"""The JWKS cache state shared per (issuer, JWKS URI, clock), over real loopback HTTP (_jwks_state.py)."""

from __future__ import annotations

import math
import time

import pytest

from serverless_jwt import jwks
from serverless_jwt._jwks_state import clear_shared_cache, detach_shared_records, shared_entry
from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer
from serverless_jwt.errors import KeysUnavailableError, UnknownKeyError

from .conftest import FakeClock
from .conftest import remote_source as _source
from .conftest import verifies as _verifies


def test_clear_shared_cache_is_importable_from_jwks_as_before() -> None:
    assert jwks.clear_shared_cache is clear_shared_cache
    assert "clear_shared_cache" in jwks.__all__


def test_verifiers_for_the_same_issuer_share_one_cache(issuer: DevIssuer) -> None:
    clock = FakeClock()
    first, second = _source(issuer, clock), _source(issuer, clock, algorithms=["ES256"])
    assert _verifies(first, issuer.mint())
    assert _verifies(second, issuer.mint(alg="ES256"))
    assert issuer.requests[JWKS_PATH] == 1
    with pytest.raises(UnknownKeyError):  # same document, but this source only allows ES256
        second.keys_for({"kid": issuer.kid("RS256")})


def test_one_record_per_issuer_jwks_uri_and_clock() -> None:
    key = ("https://issuer.example.com", None, time.monotonic)
    entry = shared_entry(key)
    assert shared_entry(key) is entry
    assert shared_entry(("https://issuer.example.com", "https://issuer.example.com/jwks", time.monotonic)) \
        is not entry
    assert shared_entry(("https://other.example.com", None, time.monotonic)) is not entry
    assert shared_entry(("https://issuer.example.com", None, FakeClock())) is not entry


def test_a_new_record_has_no_keys_and_nothing_to_wait_for() -> None:
    entry = shared_entry(("https://fresh.example.com", None, time.monotonic))
    assert entry.state == (None, -math.inf, 0)
    assert entry.jwks_uri is None
    assert not entry.rediscover
    assert not entry.discovery_failed
    assert entry.attempts == entry.failures == 0
    assert entry.retry_at == entry.hold_until == entry.kid_refetch_at == -math.inf
    assert not entry.fetch_lock.locked()


def test_after_clear_shared_cache_a_new_source_fetches_again(issuer: DevIssuer) -> None:
    clock = FakeClock()
    key = (issuer.issuer, None, clock)
    assert _verifies(_source(issuer, clock), issuer.mint())
    assert _verifies(_source(issuer, clock), issuer.mint())  # served from the shared record
    assert issuer.requests[JWKS_PATH] == 1
    before = shared_entry(key)
    clear_shared_cache()
    assert shared_entry(key) is not before
    assert _verifies(_source(issuer, clock), issuer.mint())
    assert issuer.requests[JWKS_PATH] == 2


def test_clear_shared_cache_also_empties_the_record_of_a_source_built_before(issuer: DevIssuer) -> None:
    # A handler module's verifier, built at import, outlives the tests that clear the cache.
    clock = FakeClock()
    source = _source(issuer, clock, unknown_kid_cooldown_seconds=300)
    assert _verifies(source, issuer.mint())
    old_kid = issuer.kid()
    issuer.rotate()  # the old key is no longer published
    assert _verifies(source, issuer.mint())  # unknown kid: the one refetch the cool-down allows
    generation = source.generation
    issuer.rotate()
    clear_shared_cache()
    # A new generation at once: what verifiers derived from the old keys (verified tokens, per-header
    # plans) no longer counts, even if the next fetch fails.
    assert source.generation > generation
    assert _verifies(source, issuer.mint())  # fetched again: no cool-down, no old key set
    assert issuer.requests[JWKS_PATH] == 3
    with pytest.raises(UnknownKeyError):
        source.keys_for({"kid": old_kid})  # its one refetch per cool-down
    assert issuer.requests[JWKS_PATH] == 4
    issuer.rotate()
    clear_shared_cache()  # again: the record is no longer shared, and still emptied
    assert _verifies(source, issuer.mint())
    assert issuer.requests[JWKS_PATH] == 5


def test_clear_shared_cache_forgets_the_back_off_of_a_source_built_before(issuer: DevIssuer) -> None:
    clock = FakeClock()
    source = _source(issuer, clock)
    issuer.fault = "429"  # Retry-After: 120, honoured even with nothing cached
    with pytest.raises(KeysUnavailableError):
        source.prefetch()
    issuer.fault = None
    with pytest.raises(KeysUnavailableError):
        source.prefetch()  # still holding off
    clear_shared_cache()
    source.prefetch()
    assert _verifies(source, issuer.mint())


def test_after_detach_a_new_source_has_a_record_of_its_own_and_one_built_before_keeps_its_keys(
        issuer: DevIssuer) -> None:
    # The in-process runner after a timed-out invoke: the cut handler's source may still hold its
    # record's fetch lock; the function's next start must not wait for it.
    clock = FakeClock()
    before = _source(issuer, clock)
    assert _verifies(before, issuer.mint())
    assert before._entry.fetch_lock.acquire(blocking=False)  # a fetch in flight on the old record
    try:
        detach_shared_records()
        after = _source(issuer, clock)
        assert after._entry is not before._entry
        assert _verifies(after, issuer.mint())  # fetched without waiting for that lock
        assert _verifies(before, issuer.mint())  # served from its own record, as before
        assert issuer.requests[JWKS_PATH] == 2
    finally:
        before._entry.fetch_lock.release()
