"""Strict compact-JWS parsing: what parses, what is rejected, and that nothing else ever escapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from serverless_jwt import token as token_module
from serverless_jwt.errors import (
    AuthError,
    MalformedTokenError,
)
from serverless_jwt.issuers import MultiIssuerVerifier
from serverless_jwt.token import MAX_JSON_DEPTH, ParsedToken, parse
from serverless_jwt.verifier import Verifier

HEADER = {"alg": "RS256", "typ": "JWT", "kid": "k1"}


@pytest.fixture(autouse=True, scope="module", params=["native JSON", "standard-library JSON"])
def json_path(request: pytest.FixtureRequest) -> Iterator[str]:
    # Every test here runs on both parsing paths: the speedups extra's and the pure one.
    native = request.param == "native JSON"
    if token_module.use_speedups(native) != native:
        token_module.use_speedups()
        pytest.skip("the speedups extra (msgspec, pybase64) is not installed")
    yield request.param
    token_module.use_speedups()
CLAIMS = {"sub": "user-1", "exp": 2_000_000_000}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def seg(value: Any) -> str:
    """A segment from bytes (taken as is), str (UTF-8) or a JSON-able value."""
    if isinstance(value, bytes):
        return b64(value)
    if isinstance(value, str):
        return b64(value.encode("utf-8"))
    return b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def make(header: Any = HEADER, claims: Any = CLAIMS, signature: bytes = b"signature") -> str:
    return f"{seg(header)}.{seg(claims)}.{b64(signature)}"


def rejected(token: Any, **kwargs: Any) -> MalformedTokenError:
    with pytest.raises(MalformedTokenError) as info:
        parse(token, **kwargs)
    err = info.value
    # Descriptions are fixed text and foreign exceptions never chain in.
    assert err.__cause__ is None
    assert err.__suppress_context__ or err.__context__ is None
    return err


# --- valid tokens built with real keys ------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rs256_token_from_pyjwt_parses_and_its_parts_verify(rsa_key: rsa.RSAPrivateKey) -> None:
    claims = {"iss": "https://issuer.example", "aud": ["api"], "exp": 2_000_000_000, "name": "Zoë 🙂"}
    token = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "k1"})

    parsed = parse(token)

    assert parsed.header == {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    assert parsed.claims == claims
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode("ascii")
    # The parsed pieces are exactly what was signed: the real public key accepts them.
    rsa_key.public_key().verify(parsed.signature, parsed.signing_input, padding.PKCS1v15(), hashes.SHA256())


def test_es256_and_eddsa_tokens_parse_to_verifiable_parts() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    parsed = parse(jwt.encode(CLAIMS, ec_key, algorithm="ES256"))
    assert parsed.header["alg"] == "ES256"
    assert len(parsed.signature) == 64  # raw r || s, as JWS requires

    ed_key = ed25519.Ed25519PrivateKey.generate()
    parsed = parse(jwt.encode(CLAIMS, ed_key, algorithm="EdDSA"))
    ed_key.public_key().verify(parsed.signature, parsed.signing_input)
    assert parsed.claims == CLAIMS


def test_hs256_token_parses() -> None:
    token = jwt.encode({"sub": "a", "exp": 1}, "s" * 32, algorithm="HS256")
    parsed = parse(token)
    assert parsed.header == {"alg": "HS256", "typ": "JWT"}
    assert parsed.claims == {"sub": "a", "exp": 1}
    assert len(parsed.signature) == 32


def test_parsed_token_is_immutable() -> None:
    parsed = parse(make())
    assert isinstance(parsed, ParsedToken)
    with pytest.raises(AttributeError):
        parsed.signature = b"other"  # type: ignore[misc]


def test_key_url_parameters_are_kept_but_not_interpreted() -> None:
    header = {"alg": "RS256", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/x",
              "jwk": {"kty": "oct", "k": "AAAA"}, "x5c": ["MIIB"]}
    assert parse(make(header)).header == header


# --- input shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, b"a.b.c", 123, ["a", "b", "c"]])
def test_non_string_input_is_rejected(value: Any) -> None:
    assert "string" in rejected(value).description


def test_size_limit_is_inclusive_and_checked_before_anything_else() -> None:
    token = make()
    assert parse(token, max_bytes=len(token)).claims == CLAIMS
    assert "too large" in rejected(token, max_bytes=len(token) - 1).description
    # Oversized garbage reports its size, proving nothing was decoded first.
    assert "too large" in rejected("é" * 20000).description


def test_non_ascii_characters_are_rejected() -> None:
    header, payload, sig = make().split(".")
    assert "ASCII" in rejected(f"{header}.{payload}é.{sig}").description
    assert "ASCII" in rejected(f"{header}.{payload}.{sig}\u00a0").description


@pytest.mark.parametrize("count", [1, 2, 4, 6])
def test_anything_but_three_segments_is_rejected(count: int) -> None:
    token = ".".join(["eyJhIjoxfQ"] * count)
    assert "three" in rejected(token).description


def test_five_segments_are_reported_as_jwe() -> None:
    assert "JWE" in rejected("eyJhbGciOiJSU0EifQ.a2V5.aXY.Y2lwaGVy.dGFn").description


@pytest.mark.parametrize("index", [0, 1, 2])
def test_empty_segment_is_rejected(index: int) -> None:
    parts = make().split(".")
    parts[index] = ""
    assert "empty" in rejected(".".join(parts)).description


# --- strict base64url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: s + "=", id="padding"),
        pytest.param(lambda s: s[:-1] + "+", id="plus"),
        pytest.param(lambda s: s[:-1] + "/", id="slash"),
        pytest.param(lambda s: s[:5] + " " + s[5:], id="space"),
        pytest.param(lambda s: s[:5] + "\n" + s[5:], id="newline"),
        pytest.param(lambda s: s[:5] + "\t" + s[5:], id="tab"),
        pytest.param(lambda s: s + "A" * (5 - len(s) % 4), id="length-mod-4-is-1"),
        pytest.param(lambda s: s[:5] + "!" + s[5:], id="foreign-char"),
    ],
)
@pytest.mark.parametrize("index", [0, 1, 2])
def test_non_strict_base64url_is_rejected(mutate: Any, index: int) -> None:
    parts = make().split(".")
    parts[index] = mutate(parts[index])
    assert "base64url" in rejected(".".join(parts)).description


def test_padded_signature_is_rejected_even_when_otherwise_valid() -> None:
    header, payload, _ = make().split(".")
    sig = base64.urlsafe_b64encode(b"sig!").decode()  # "c2lnIQ=="
    assert sig.endswith("=")
    rejected(f"{header}.{payload}.{sig}")
    assert parse(f"{header}.{payload}.{sig.rstrip('=')}").signature == b"sig!"


@pytest.mark.parametrize(("canonical", "twin"), [("QQ", "QR"), ("QQ", "QV"), ("QUI", "QUJ"), ("QUI", "QUL")])
def test_non_canonical_trailing_bits_are_rejected(canonical: str, twin: str) -> None:
    # Both strings decode to the same bytes in a lenient decoder; only the canonical one is accepted.
    assert base64.urlsafe_b64decode(canonical + "==") == base64.urlsafe_b64decode(twin + "==")
    header, payload, _ = make().split(".")
    assert parse(f"{header}.{payload}.{canonical}").signature in (b"A", b"AB")
    assert "base64url" in rejected(f"{header}.{payload}.{twin}").description


def test_non_canonical_header_segment_is_rejected() -> None:
    header = seg('{"alg":"RS256"} ')  # 16 bytes of JSON -> 22 chars, 4 unused low bits
    assert len(header) % 4 == 2
    tweaked = header[:-1] + chr(ord(header[-1]) + 1)
    assert base64.urlsafe_b64decode(tweaked + "==") == base64.urlsafe_b64decode(header + "==")
    rejected(f"{tweaked}.{seg(CLAIMS)}.c2ln")


# --- strict UTF-8 JSON objects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param(b'{"sub":"\xff"}', "UTF-8", id="invalid-byte"),
        pytest.param(b'{"sub":"\xc0\xaf"}', "UTF-8", id="overlong"),
        pytest.param(b'{"sub":"\xed\xa0\x80"}', "UTF-8", id="encoded-surrogate"),
        pytest.param(b'{"sub":"\xe2\x82"}', "UTF-8", id="truncated-sequence"),
        pytest.param(b'\xef\xbb\xbf{"sub":"a"}', "byte order mark", id="bom"),
        pytest.param('{"sub":"a"}'.encode("utf-16"), "UTF-8", id="utf-16-bom"),
        pytest.param('{"sub":"a"}'.encode("utf-16-le"), "JSON", id="utf-16-le"),
        pytest.param('{"sub":"a"}'.encode("utf-32-be"), "JSON", id="utf-32-be"),
    ],
)
def test_payload_that_is_not_strict_utf8_is_rejected(raw: bytes, fragment: str) -> None:
    assert fragment in rejected(make(claims=raw)).description


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_non_finite_numbers_are_rejected(constant: str) -> None:
    err = rejected(make(claims=f'{{"exp":{constant}}}'))
    assert "non-finite" in err.description


@pytest.mark.parametrize(
    "text",
    [r'{"sub":"\ud800"}', r'{"sub":"x\udc00y"}', r'{"\udbff":1}', r'{"a":["\ud83d"]}'],
)
def test_lone_surrogate_escapes_are_rejected(text: str) -> None:
    assert "surrogate" in rejected(make(claims=text)).description


def test_escaped_surrogate_pair_and_escaped_backslash_are_accepted() -> None:
    assert parse(make(claims=r'{"sub":"\ud83d\ude00"}')).claims == {"sub": "\U0001f600"}
    assert parse(make(claims=r'{"sub":"\\ud800"}')).claims == {"sub": "\\ud800"}


@pytest.mark.parametrize(
    "text",
    [
        '{"sub":"a","sub":"b"}',
        '{"a":{"x":1,"x":1}}',
        '{"a":[{"k":1},{"k":1,"k":2}]}',
        '{"s\\u0075b":"a","sub":"b"}',  # same name, spelled with an escape
    ],
)
def test_duplicate_member_names_are_rejected_at_any_depth(text: str) -> None:
    assert "duplicate" in rejected(make(claims=text)).description


def test_duplicate_member_in_header_is_rejected() -> None:
    rejected(make(header='{"alg":"RS256","alg":"none"}'))


def nested(depth: int) -> str:
    """An object whose container depth (top-level object = 1) is exactly ``depth``."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def test_nesting_up_to_the_limit_is_accepted_and_one_more_is_rejected() -> None:
    assert parse(make(claims=nested(MAX_JSON_DEPTH))).claims["a"]
    assert "deeply" in rejected(make(claims=nested(MAX_JSON_DEPTH + 1))).description
    arrays = '{"a":' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    parse(make(claims=arrays))
    rejected(make(claims='{"a":' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"))


def test_brackets_inside_strings_and_wide_objects_do_not_count_as_depth() -> None:
    claims = {"s": "{[" * 50 + '\\"{', "groups": [[i] for i in range(40)],
              "o": {str(i): {} for i in range(40)}}
    assert parse(make(claims=claims)).claims == claims


@pytest.mark.parametrize(
    "text",
    [
        '{"a":' * 100_000,
        "[" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        # Unterminated strings after many brackets: the depth pre-scan must stay linear on these.
        "[" * 30 + '"' + '\\"' * 6000,
        "[" * 30 + '"\\' * 6000,
    ],
)
def test_pathologically_deep_input_is_rejected_without_recursion_error(text: str) -> None:
    token = make(claims=text)
    assert "deeply" in rejected(token, max_bytes=len(token)).description


@pytest.mark.parametrize("text", ["[]", '"sub"', "1", "null", "true", '[{"sub":"a"}]'])
def test_payload_that_is_not_an_object_is_rejected(text: str) -> None:
    assert "not a JSON object" in rejected(make(claims=text)).description


def test_header_that_is_not_an_object_is_rejected() -> None:
    rejected(make(header='["RS256"]'))


@pytest.mark.parametrize(
    "text", ['{"sub":"a"} x', "{'sub':'a'}", '{"sub":"a",}', '{"sub":"a\x01"}', "{sub:1}", '{"n":0x10}']
)
def test_invalid_json_is_rejected(text: str) -> None:
    assert "not valid JSON" in rejected(make(claims=text)).description


def test_integer_with_too_many_digits_is_rejected_not_raised_as_value_error() -> None:
    text = '{"exp":' + "9" * 5000 + "}"
    token = make(claims=text)
    rejected(token, max_bytes=len(token))


def test_whitespace_around_json_is_allowed() -> None:
    assert parse(make(claims=' \n{ "sub" : "a" }\t')).claims == {"sub": "a"}


# --- header parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [{}, {"alg": None}, {"alg": 256}, {"alg": ["RS256"]}, {"typ": "JWT"}])
def test_missing_or_non_string_alg_is_rejected(header: dict[str, Any]) -> None:
    assert "'alg'" in rejected(make(header)).description


def test_any_crit_extension_is_rejected() -> None:
    err = rejected(make({"alg": "RS256", "crit": ["exp"], "exp": 1}))
    assert "critical extension" in err.description


@pytest.mark.parametrize("crit", [[], "b64", [1], None, ["a", 2], {}])
def test_malformed_crit_is_rejected(crit: Any) -> None:
    assert "'crit'" in rejected(make({"alg": "RS256", "crit": crit})).description


@pytest.mark.parametrize("b64_value", [False, True, "false"])
def test_unencoded_payload_option_is_rejected(b64_value: Any) -> None:
    assert "b64" in rejected(make({"alg": "RS256", "b64": b64_value})).description


@pytest.mark.parametrize("member", [{"zip": "DEF"}, {"enc": "A256GCM"}, {"zip": None}])
def test_encryption_parameters_in_a_signed_token_header_are_rejected(member: dict[str, Any]) -> None:
    # A reader honouring "zip" would inflate the payload and check other claims than we do.
    assert "encryption parameter" in rejected(make({"alg": "RS256", **member})).description


@pytest.mark.parametrize("name", ["kid", "typ", "cty"])
@pytest.mark.parametrize("value", [None, 1, ["x"], {"a": "b"}, True])
def test_non_string_kid_typ_cty_are_rejected(name: str, value: Any) -> None:
    assert "wrong type" in rejected(make({"alg": "RS256", name: value})).description


@pytest.mark.parametrize("cty", ["JWT", "jwt", "application/jwt", "Application/JWT",
                                 "application/jwt; charset=utf-8", "JWT ;x=1"])
def test_nested_jwt_content_type_is_rejected(cty: str) -> None:
    assert "Nested" in rejected(make({"alg": "RS256", "cty": cty})).description


def test_other_content_types_and_typ_values_are_left_to_the_claims_policy() -> None:
    header = {"alg": "RS256", "cty": "json", "typ": "logout+jwt", "kid": ""}
    assert parse(make(header)).header == header


# --- nothing leaks, nothing else escapes --------------------------------------------------------------


def test_descriptions_never_echo_token_content() -> None:
    marker = "SECRETMARKER"
    for token in (
        make(claims=f'{{"{marker}":1,"{marker}":2}}'),
        make({"alg": marker, "crit": [marker]}),
        make(claims=f'{{"{marker}": NaN}}'),
        f"{marker}.{marker}",
    ):
        err = rejected(token)
        assert marker not in str(err)
        assert marker.lower() not in err.description.lower()


@given(st.text(max_size=300))
def test_arbitrary_text_only_parses_or_raises_malformed(text: str) -> None:
    try:
        result = parse(text)
    except MalformedTokenError:
        return
    assert isinstance(result, ParsedToken)


@given(st.binary(max_size=200), st.binary(max_size=200), st.binary(max_size=80))
def test_arbitrary_segment_bytes_only_parse_or_raise_malformed(
    header: bytes, claims: bytes, sig: bytes
) -> None:
    try:
        result = parse(f"{b64(header)}.{b64(claims)}.{b64(sig)}")
    except MalformedTokenError:
        return
    assert result.signature == sig


@given(st.text(alphabet="{}[]\":,0123456789.eE+-aNIfinity \\u", max_size=120))
def test_json_like_noise_only_parses_or_raises_malformed(text: str) -> None:
    try:
        result = parse(make(claims=text))
    except MalformedTokenError:
        return
    assert isinstance(result.claims, dict)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=8))
def test_any_json_object_round_trips_through_a_signed_looking_token(claims: dict[str, Any]) -> None:
    for ensure_ascii in (True, False):
        text = json.dumps(claims, ensure_ascii=ensure_ascii)
        assert parse(make(claims=text), max_bytes=1 << 20).claims == claims


def test_a_remembered_header_never_admits_a_bad_payload_or_leaks_mutations() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "cache-k"}).encode()).rstrip(b"=")
    good = base64.urlsafe_b64encode(b'{"sub":"a"}').rstrip(b"=")
    first = parse(f"{header.decode()}.{good.decode()}.c2ln")
    first.header["alg"] = "none"  # a caller mutating its copy must not reach the next parse
    again = parse(f"{header.decode()}.{good.decode()}.c2ln")
    assert again.header == {"alg": "HS256", "kid": "cache-k"}
    dup = base64.urlsafe_b64encode(b'{"sub":"a","sub":"b"}').rstrip(b"=")
    with pytest.raises(MalformedTokenError):
        parse(f"{header.decode()}.{dup.decode()}.c2ln")


SECRET = "shared-secret-" * 5  # 70 bytes: long enough for HS512 (RFC 7518 §3.2)


NOW = 1_700_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs_token(payload: bytes, header: bytes = b'{"alg":"HS256","typ":"JWT"}', key: str = SECRET) -> str:
    signing_input = _b64(header) + "." + _b64(payload)
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def _outcome(verifier: Verifier | MultiIssuerVerifier, token: str) -> str:
    try:
        return "ok:" + str(verifier.verify(token).get("sub"))
    except AuthError as err:
        return type(err).__name__


def _nested(depth: int) -> bytes:
    return b'{"exp":9999999999,"n":' + b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1) + b"}"


PAYLOADS = [
    (b'{"exp":9999999999,"sub":"a"}', "ok:a"),
    (b' {"exp":9999999999,"sub":"a"}\n', "ok:a"),  # whitespace around the object is JSON
    (b'\xef\xbb\xbf{"exp":9999999999}', "MalformedTokenError"),
    (b'{"exp":9999999999,"o":{"x":1,"x":2}}', "MalformedTokenError"),  # nested duplicate
    (b'{"exp":9999999999,"sub":"a","sub":"b"}', "MalformedTokenError"),
    (b'{"exp":1e400}', "MalformedTokenError"),
    (b'{"exp":-1e400}', "MalformedTokenError"),
    (b'{"exp":NaN}', "MalformedTokenError"),
    (b'{"exp":Infinity}', "MalformedTokenError"),
    (b'{"exp":9999999999,"sub":"\\ud800"}', "MalformedTokenError"),
    (b'{"exp":9999999999,"sub":"\\udc00\\ud800"}', "MalformedTokenError"),
    (b'{"exp":9999999999,"sub":"\\ud83d\\ude00"}', "ok:\U0001f600"),
    (b'{"exp":9999999999,"sub":"\\u0061"}', "ok:a"),
    (b'{"exp":9999999999,"sub":"a\x01"}', "MalformedTokenError"),  # raw control character
    (b'{"exp":9999999999,"sub":"\xc0\xaf"}', "MalformedTokenError"),  # overlong UTF-8
    (b'{"exp":9999999999,"sub":"\xed\xa0\x80"}', "MalformedTokenError"),  # encoded surrogate
    (b'{"exp":' + b"9" * 5000 + b"}", "MalformedTokenError"),  # beyond int()'s digit limit
    (_nested(MAX_JSON_DEPTH), "ok:None"),
    (_nested(MAX_JSON_DEPTH + 1), "MalformedTokenError"),
    (b'{"exp":9999999999,"s":"' + b"[" * 40 + b'"}', "ok:None"),  # brackets in a string
    (b'["exp"]', "MalformedTokenError"),
    (b'{"exp":9999999999}{}', "MalformedTokenError"),
    # time claims: exact ints take the fast path; everything else the full rule
    (b'{"exp":true}', "InvalidClaimError"),
    (b'{"exp":false}', "InvalidClaimError"),
    (b'{"exp":"9999999999"}', "InvalidClaimError"),
    (b'{"exp":null}', "InvalidClaimError"),
    (b'{"sub":"a"}', "InvalidClaimError"),
    (b'{"exp":-0}', "TokenExpiredError"),
    (b'{"exp":1e308,"sub":"f"}', "ok:f"),
    (b'{"exp":' + b"1" + b"0" * 400 + b',"sub":"big"}', "ok:big"),
    (b'{"exp":9999999999,"nbf":true}', "InvalidClaimError"),
    (b'{"exp":9999999999,"nbf":' + b"1" + b"0" * 400 + b"}", "InvalidClaimError"),
    (b'{"exp":9999999999,"iat":9999999999.5}', "InvalidClaimError"),
    (b'{"exp":9999999999,"iat":-0.0,"sub":"z"}', "ok:z"),
]


HEADERS = [
    (b'{"alg":"HS256","typ":"JWT"}', "ok:a"),
    (b'{"alg":"HS256","alg":"HS256"}', "MalformedTokenError"),
    (b'{"alg":"HS256","x":1e400}', "MalformedTokenError"),
    (b'{"alg":"HS\\u0032\\u0035\\u0036"}', "ok:a"),  # escapes take the strict path, same meaning
    (b'{"alg":"HS256","kid":"\\ud800"}', "MalformedTokenError"),
    (b'{"alg":"HS256","crit":["exp"]}', "MalformedTokenError"),
    (b'{"alg":"HS256","typ":"dpop+jwt"}', "InvalidClaimError"),
    (b'{"alg":"HS384"}', "InvalidSignatureError"),  # allowed, but the signature is HS256's
    (b'{"alg":"none"}', "AlgorithmNotAllowedError"),
]


@pytest.mark.parametrize(("payload", "expected"), PAYLOADS)
def test_signed_edge_case_payloads_meet_the_strict_rules(payload: bytes, expected: str) -> None:
    token = _hs_token(payload)
    for cache in (0, 8):
        verifier = Verifier(secrets=SECRET, verified_cache_size=cache, clock=lambda: NOW)
        # Twice each: the second call runs on the plan (and on the verified cache when on).
        assert [_outcome(verifier, token), _outcome(verifier, token)] == [expected, expected]


@pytest.mark.parametrize(("header", "expected"), HEADERS)
def test_signed_edge_case_headers_meet_the_strict_rules(header: bytes, expected: str) -> None:
    token = _hs_token(b'{"exp":9999999999,"sub":"a"}', header=header)
    verifier = Verifier(secrets=SECRET, algorithms=["HS256", "HS384"], verified_cache_size=0,
                        clock=lambda: NOW)
    assert [_outcome(verifier, token), _outcome(verifier, token)] == [expected, expected]


@pytest.mark.parametrize("segment", [
    b"eyJzdWIiOiJhIn0=",  # padded
    base64.b64encode(b'{"sub":"a?>"}'),  # standard alphabet ('+' / '/')
    b"eyJzdWIi!!!!OiJhIn0",  # junk the lenient decoder skips
])
def test_decode_steps_refuse_what_parse_refuses(segment: bytes) -> None:
    with pytest.raises(MalformedTokenError):
        token_module.parse("eyJhbGciOiJIUzI1NiJ9." + segment.decode() + ".c2ln")
    with pytest.raises(MalformedTokenError):
        token_module.decode_payload(segment)


def test_decode_gives_the_payload_signing_input_and_signature_parse_gives() -> None:
    token = make(signature=bytes(range(256)))
    parsed = parse(token)
    header_segment, claims, signing_input, signature = token_module.decode(token)
    assert header_segment == token.split(".")[0].encode()
    assert (claims, signing_input, signature) == (parsed.claims, parsed.signing_input, parsed.signature)
    assert claims is not parse(token).claims  # a new dict on every call


@pytest.mark.parametrize("token", [
    make(claims=b'{"sub":"a","sub":"b"}'),  # duplicate member
    make(claims=b'{"exp":NaN}'),
    make(claims=b"[]"),
    f"{seg(HEADER)}.{seg(CLAIMS)}.c2ln=",  # padded signature
    f"{seg(HEADER)}.{seg(CLAIMS)}.c2l+",  # standard alphabet
    f"{seg(HEADER)}.{seg(CLAIMS)}",  # two segments
    f"{seg(HEADER)}.{seg(CLAIMS)}.c2ln\u00e9",
    "a" * 20000,
    None,
])
def test_decode_refuses_with_the_description_parse_gives(token: Any) -> None:
    expected = rejected(token).description
    with pytest.raises(MalformedTokenError) as info:
        token_module.decode(token)
    assert info.value.description == expected


def test_decode_leaves_the_header_to_decode_header() -> None:
    # The verifier reads the header through its plan cache: decode() never looks at it.
    token = make(header=b'{"alg":"RS256","alg":"none"}')
    header_segment, claims, _, _ = token_module.decode(token)
    assert claims == CLAIMS
    with pytest.raises(MalformedTokenError) as info:
        token_module.decode_header(header_segment)
    assert info.value.description == token_module._DUPLICATE
