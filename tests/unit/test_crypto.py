"""Keys, ids and signatures (PROTOCOL.md section 3), on every available backend.

Every vector of ``tests/data/vectors/crypto.json`` is checked on each backend,
the backends are compared with each other on random inputs, and each way the
real server refuses a signature or a private key is checked with its text.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from colonies_sync import Crypto, CryptoError, InvalidPrivateKey, InvalidSignature
from colonies_sync import _crypto

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "vectors" / "crypto.json").read_text(encoding="utf-8")
)

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = N // 2
RECOVER_PREFIX = "Failed to recover public key: invalid signature: "

# A vector signature and its signer, reused by the malformed-signature tests.
HELLO = next(s for s in VECTORS["signatures"] if s["message"] == "hello" and s["v"] == 1)
HELLO_V0 = next(s for s in VECTORS["signatures"] if s["message"] == "hello" and s["v"] == 0)


@pytest.fixture(params=_crypto.available_backends())
def crypto(request: pytest.FixtureRequest) -> Crypto:
    """A Crypto on each backend usable here."""
    c = Crypto(backend=request.param)
    assert c.backend == request.param
    return c


def _sig(r: int, s: int, v: int) -> str:
    return f"{r:064x}{s:064x}{v:02x}"


def _split(signature: str) -> tuple[int, int, int]:
    return int(signature[:64], 16), int(signature[64:128], 16), int(signature[128:], 16)


# --- the vectors ------------------------------------------------------------------------


def test_vector_file_has_the_documented_sections() -> None:
    """The vector file holds 7 keys and 7 x 3 signatures, so the loops below are not vacuous."""
    assert len(VECTORS["keys"]) == 7
    assert len(VECTORS["signatures"]) == 21
    assert len(VECTORS["extra_signatures"]) == 2
    assert len(VECTORS["negative"]) == 4


def test_sha3_check_value_is_sha3_256_not_keccak(crypto: Crypto) -> None:
    """hash() is FIPS 202 SHA3-256: 'hello world' gives the vector's digest."""
    check = VECTORS["sha3_check"]
    assert crypto.hash(check["input"]) == check["sha3_256_hex"]
    assert _crypto.hash_text(check["input"]) == check["sha3_256_hex"]
    assert _crypto.hash_text(check["input"].encode()) == check["sha3_256_hex"]


@pytest.mark.parametrize("key", VECTORS["keys"], ids=lambda k: k["prvkey"][:8])
def test_key_vector_gives_public_key_and_id(crypto: Crypto, key: dict[str, str]) -> None:
    """Each vector key derives the exact uncompressed public key and id."""
    assert crypto.public_key(key["prvkey"]) == key["pubkey_uncompressed_hex"]
    assert crypto.id(key["prvkey"]) == key["id"]
    # The id is SHA3-256 of the public key's hex *text*.
    assert crypto.hash(key["pubkey_uncompressed_hex"]) == key["id"]


@pytest.mark.parametrize("vec", VECTORS["signatures"], ids=lambda s: f"{s['prvkey'][:8]}-{s['message'][:8] or 'empty'}")
def test_signature_vector_is_reproduced_and_recovers_the_id(crypto: Crypto, vec: dict[str, Any]) -> None:
    """sign() reproduces the vector byte for byte (RFC 6979, low-s) and recover_id() gives the signer."""
    assert crypto.hash(vec["message"]) == vec["sha3_256_of_message_hex"]
    signature = crypto.sign(vec["message"], vec["prvkey"])
    assert signature == vec["signature"]
    assert len(signature) == 130
    assert int(signature[128:], 16) == vec["v"]
    assert crypto.recover_id(vec["message"], vec["signature"]) == vec["id"]


@pytest.mark.parametrize("vec", VECTORS["extra_signatures"], ids=["zero-padded-s", "go-interop"])
def test_extra_signature_vectors_recover_the_id(crypto: Crypto, vec: dict[str, Any]) -> None:
    """A zero-padded s and the Go repo's non-RFC-6979 signature both recover the signer's id."""
    assert crypto.recover_id(vec["message"], vec["signature"]) == vec["id"]
    assert crypto.id(vec["prvkey"]) == vec["id"]


def test_zero_padded_s_vector_is_reproduced_with_padding(crypto: Crypto) -> None:
    """An s whose first byte is 0x00 is still written as 64 hex digits."""
    vec = VECTORS["extra_signatures"][0]
    signature = crypto.sign(vec["message"], vec["prvkey"])
    assert signature == vec["signature"]
    assert signature[64:66] == "00"


def test_envelope_example_signature(crypto: Crypto) -> None:
    """The envelope example: payload is base64 of the JSON, signed over the base64 text itself."""
    ex = VECTORS["envelope_example"]
    env = ex["envelope"]
    assert crypto.id(ex["prvkey"]) == ex["id"]
    assert crypto.sign(env["payload"], ex["prvkey"]) == env["signature"]
    assert crypto.recover_id(env["payload"], env["signature"]) == ex["id"]
    # Signing the decoded JSON instead would give another signature.
    assert crypto.recover_id(ex["payload_json"], env["signature"]) != ex["id"]


def test_negative_high_s_twin_is_rejected(crypto: Crypto) -> None:
    """The high-s twin of a valid signature is refused with the server's text."""
    vec = VECTORS["negative"][0]
    assert _split(vec["signature"])[1] > HALF_N
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id(vec["message"], vec["signature"])
    assert str(info.value) == "Failed verify signature: Signature s value is over half the order"


def test_negative_64_byte_signature_is_rejected(crypto: Crypto) -> None:
    """A signature without its recovery byte is refused: 'Invalid signature length'."""
    vec = VECTORS["negative"][1]
    assert len(vec["signature"]) == 128
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id(vec["message"], vec["signature"])
    assert str(info.value) == "Invalid signature length"


def test_negative_non_hex_signature_is_rejected_with_go_hex_text(crypto: Crypto) -> None:
    """A non-hex signature is refused with Go's encoding/hex text."""
    vec = VECTORS["negative"][2]
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id(vec["message"], vec["signature"])
    assert str(info.value).startswith("encoding/hex: invalid byte")
    assert str(info.value) == "encoding/hex: invalid byte: U+0078 'x'"


def test_negative_signature_of_another_message_recovers_another_id(crypto: Crypto) -> None:
    """A valid signature over a different message is no error: it recovers some other id."""
    vec = VECTORS["negative"][3]
    recovered = crypto.recover_id(vec["message"], vec["signature"])
    assert recovered == vec["recovered_id_if_checked_against_message"]
    assert recovered != crypto.id(vec["prvkey"])


# --- malformed signatures ---------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 2, 128, 132])
def test_signature_of_wrong_byte_length_is_rejected(crypto: Crypto, length: int) -> None:
    """0, 1, 64 and 66 bytes are refused with 'Invalid signature length'."""
    signature = (HELLO["signature"] + "00")[:length]
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id("hello", signature)
    assert str(info.value) == "Invalid signature length"


def test_odd_length_hex_signature_is_rejected(crypto: Crypto) -> None:
    """An odd number of hex digits gives Go's 'odd length hex string' text."""
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id("hello", HELLO["signature"][:-1])
    assert str(info.value) == "encoding/hex: odd length hex string"


def test_upper_case_hex_signature_is_accepted(crypto: Crypto) -> None:
    """Upper-case hex decodes like lower-case (Go's hex decoder accepts both)."""
    assert crypto.recover_id("hello", HELLO["signature"].upper()) == HELLO["id"]


@pytest.mark.parametrize(("v", "code"), [(27, 54), (28, 55), (8, 35), (255, 26)])
def test_recovery_byte_outside_0_to_7_is_rejected(crypto: Crypto, v: int, code: int) -> None:
    """v = 27/28 (Ethereum style) or >= 8 is refused: code v+27 is not in [27, 34]."""
    r, s, _ = _split(HELLO["signature"])
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id("hello", _sig(r, s, v))
    assert str(info.value) == (RECOVER_PREFIX + f"public key recovery code {code} is not in the valid range [27, 34]")


@pytest.mark.parametrize("vec", [HELLO_V0, HELLO], ids=["v0", "v1"])
def test_recovery_byte_4_and_5_are_aliases_of_0_and_1(crypto: Crypto, vec: dict[str, Any]) -> None:
    """v + 4 (the 'compressed key' header) recovers the same id as v."""
    r, s, v = _split(vec["signature"])
    assert crypto.recover_id(vec["message"], _sig(r, s, v + 4)) == vec["id"]
    # and the other alias is a different key, not an error
    assert crypto.recover_id(vec["message"], _sig(r, s, (v ^ 1) + 4)) != vec["id"]


@pytest.mark.parametrize("v", [2, 3, 6, 7])
def test_recovery_byte_with_overflow_bit_is_rejected(crypto: Crypto, v: int) -> None:
    """v = 2, 3, 6, 7 claim R.x >= n, impossible for a realistic r: '... signature R + N >= P'."""
    r, s, _ = _split(HELLO["signature"])
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id("hello", _sig(r, s, v))
    assert str(info.value) == RECOVER_PREFIX + "signature R + N >= P"


@pytest.mark.parametrize(
    ("r", "s", "text"),
    [
        (0, None, "R is 0"),
        (None, 0, "S is 0"),
        (N, None, "R >= group order"),
        (2**256 - 1, None, "R >= group order"),
        (None, N, "S >= group order"),
        (None, 2**256 - 1, "S >= group order"),
    ],
    ids=["r=0", "s=0", "r=n", "r=max", "s=n", "s=max"],
)
def test_out_of_range_r_or_s_is_rejected(crypto: Crypto, r: Any, s: Any, text: str) -> None:
    """r or s equal to 0 or >= n is refused with the secp256k1 library's text."""
    r0, s0, v0 = _split(HELLO["signature"])
    with pytest.raises(InvalidSignature) as info:
        crypto.recover_id("hello", _sig(r0 if r is None else r, s0 if s is None else s, v0))
    assert str(info.value) == RECOVER_PREFIX + text


def test_s_exactly_half_the_order_is_not_high(crypto: Crypto) -> None:
    """s == n // 2 is still 'low' (the check is s > n/2): no low-s error for it."""
    r0, _, v0 = _split(HELLO["signature"])
    # Some id is recovered (not the signer's): the point is that it is not refused.
    assert re.fullmatch(r"[0-9a-f]{64}", crypto.recover_id("hello", _sig(r0, HALF_N, v0)))
    with pytest.raises(InvalidSignature, match="over half the order"):
        crypto.recover_id("hello", _sig(r0, HALF_N + 1, v0))


def test_invalid_signature_is_a_value_error() -> None:
    """InvalidSignature is a CryptoError and a ValueError."""
    assert issubclass(InvalidSignature, CryptoError)
    assert issubclass(InvalidSignature, ValueError)


# --- private keys -----------------------------------------------------------------------

BAD_KEYS = [
    pytest.param("6d2fb6f546bacfd98c68769e61e0b44a697a30596c018a50e28200aa59b01c", id="62-hex"),
    pytest.param("6d2fb6f546bacfd98c68769e61e0b44a697a30596c018a50e28200aa59b01c0a00", id="66-hex"),
    pytest.param("", id="empty"),
    pytest.param("6d2fb6f546bacfd98c68769e61e0b44a697a30596c018a50e28200aa59b01c0", id="63-hex"),
    pytest.param("zz2fb6f546bacfd98c68769e61e0b44a697a30596c018a50e28200aa59b01c0a", id="non-hex"),
    pytest.param(" 6d2fb6f546bacfd98c68769e61e0b44a697a30596c018a50e28200aa59b01c0", id="space"),
    pytest.param("0" * 64, id="zero"),
    pytest.param(f"{N:064x}", id="n"),
    pytest.param(f"{N + 1:064x}", id="n+1"),
    pytest.param("f" * 64, id="max"),
]


@pytest.mark.parametrize("prvkey", BAD_KEYS)
def test_invalid_private_key_is_rejected_everywhere(crypto: Crypto, prvkey: str) -> None:
    """Wrong length, non-hex, zero and >= n raise InvalidPrivateKey from id, public_key and sign."""
    with pytest.raises(InvalidPrivateKey):
        crypto.id(prvkey)
    with pytest.raises(InvalidPrivateKey):
        crypto.public_key(prvkey)
    with pytest.raises(InvalidPrivateKey):
        crypto.sign("hello", prvkey)


def test_private_key_length_and_range_texts(crypto: Crypto) -> None:
    """The texts follow the Go server: a wrong length, then an out-of-range scalar."""
    with pytest.raises(InvalidPrivateKey) as info:
        crypto.id("ab" * 31)
    assert str(info.value) == "Invalid private key length, should be 256 bits"
    with pytest.raises(InvalidPrivateKey) as info:
        crypto.id("0" * 64)
    assert str(info.value) == "Invalid private key"
    with pytest.raises(InvalidPrivateKey) as info:
        crypto.id(f"{N:064x}")
    assert str(info.value) == "Invalid private key"


def test_largest_valid_private_key_n_minus_1_works(crypto: Crypto) -> None:
    """n - 1 is the largest valid scalar; its public key is -G (same x as G, odd y)."""
    pub = crypto.public_key(f"{N - 1:064x}")
    gx = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    assert pub[:66] == "04" + gx
    assert crypto.public_key("0" * 63 + "1") == (
        "04" + gx + "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
    )


def test_upper_case_private_key_is_accepted(crypto: Crypto) -> None:
    """An upper-case key gives the same public key, id and signature as its lower-case form."""
    key = VECTORS["keys"][0]
    upper = key["prvkey"].upper()
    assert crypto.public_key(upper) == key["pubkey_uncompressed_hex"]
    assert crypto.id(upper) == key["id"]
    assert crypto.sign("hello", upper) == crypto.sign("hello", key["prvkey"])


def test_private_key_with_leading_zero_byte_works(crypto: Crypto) -> None:
    """A key whose first byte is 0x00 keeps its 64 digits and signs and recovers."""
    key = next(k for k in VECTORS["keys"] if k["prvkey"].startswith("00"))
    assert crypto.id(key["prvkey"]) == key["id"]
    signature = crypto.sign("payload", key["prvkey"])
    assert crypto.recover_id("payload", signature) == key["id"]


def test_generate_private_key_gives_64_lowercase_hex_in_range(crypto: Crypto) -> None:
    """Generated keys are 64 lowercase hex characters with 0 < d < n, and differ."""
    keys = {crypto.generate_private_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert re.fullmatch(r"[0-9a-f]{64}", key)
        assert 0 < int(key, 16) < N
        assert re.fullmatch(r"[0-9a-f]{64}", crypto.id(key))
    assert re.fullmatch(r"[0-9a-f]{64}", _crypto.generate_private_key())


def test_module_functions_match_the_vectors() -> None:
    """The module-level helpers give the same results as a Crypto."""
    vec = HELLO
    assert _crypto.id_from_private_key(vec["prvkey"]) == vec["id"]
    assert _crypto.sign(vec["message"], vec["prvkey"]) == vec["signature"]
    assert _crypto.recover_id(vec["message"], vec["signature"]) == vec["id"]


def test_sign_accepts_bytes_like_text(crypto: Crypto) -> None:
    """Signing bytes equals signing their UTF-8 text."""
    vec = HELLO
    assert crypto.sign(vec["message"].encode(), vec["prvkey"]) == vec["signature"]
    assert crypto.recover_id(vec["message"].encode(), vec["signature"]) == vec["id"]


# --- backends ---------------------------------------------------------------------------


def test_backends_agree_on_random_keys_and_messages() -> None:
    """Every backend derives the same public key and id, signs the same bytes and recovers the same id."""
    backends = [Crypto(backend=name) for name in _crypto.available_backends()]
    rng = random.Random(20261126)
    for i in range(25):
        key = f"{rng.randrange(1, N):064x}"
        message = "".join(rng.choice("ABCDEFabcdef0123456789+/=é") for _ in range(rng.randrange(0, 80)))
        results = set()
        for c in backends:
            signature = c.sign(message, key)
            results.add((c.public_key(key), c.id(key), signature, c.recover_id(message, signature)))
        assert len(results) == 1, (i, key, message, results)
        ((_, ident, signature, recovered),) = results
        assert recovered == ident
        assert _split(signature)[1] <= HALF_N
        assert _split(signature)[2] in (0, 1)


def test_backends_agree_on_recovering_foreign_signatures() -> None:
    """A signature made by one backend recovers to the same id on every other one."""
    names = _crypto.available_backends()
    rng = random.Random(7)
    for _ in range(10):
        key = f"{rng.randrange(1, N):064x}"
        message = f"message-{rng.random()}"
        for signer in names:
            signature = Crypto(backend=signer).sign(message, key)
            assert {Crypto(backend=n).recover_id(message, signature) for n in names} == {Crypto().id(key)}


def test_available_backends_lists_ecdsa_last() -> None:
    """The pure-Python ecdsa backend is always available and listed last (the fastest comes first)."""
    names = _crypto.available_backends()
    assert names[-1] == "ecdsa"
    assert set(names) <= {"coincurve", "ecdsa"}


def test_env_variable_selects_the_pure_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """COLONIES_SYNC_CRYPTO=ecdsa makes the pure-Python backend the default."""
    monkeypatch.setenv("COLONIES_SYNC_CRYPTO", "ecdsa")
    assert _crypto.default_backend() == "ecdsa"
    assert Crypto().backend == "ecdsa"


def test_env_variable_is_case_and_space_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    """' ECDSA ' selects the same backend as 'ecdsa'."""
    monkeypatch.setenv("COLONIES_SYNC_CRYPTO", " ECDSA ")
    assert Crypto().backend == "ecdsa"


def test_without_env_variable_the_fastest_backend_is_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no COLONIES_SYNC_CRYPTO the first available backend is used."""
    monkeypatch.delenv("COLONIES_SYNC_CRYPTO", raising=False)
    assert Crypto().backend == _crypto.available_backends()[0]


def test_env_variable_naming_an_unknown_backend_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown name in COLONIES_SYNC_CRYPTO raises ValueError rather than falling back."""
    monkeypatch.setenv("COLONIES_SYNC_CRYPTO", "openssl")
    with pytest.raises(ValueError, match="openssl"):
        _crypto.default_backend()
    with pytest.raises(ValueError):
        Crypto()


def test_env_variable_naming_an_uninstalled_backend_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """coincurve named while it is not importable raises ValueError."""
    monkeypatch.setattr(_crypto, "_coincurve", None)
    assert _crypto.available_backends() == ["ecdsa"]
    monkeypatch.setenv("COLONIES_SYNC_CRYPTO", "coincurve")
    with pytest.raises(ValueError, match="coincurve"):
        _crypto.default_backend()
    with pytest.raises(ValueError):
        Crypto()


def test_explicit_unknown_backend_raises() -> None:
    """Crypto(backend=...) with an unknown name raises ValueError."""
    with pytest.raises(ValueError):
        Crypto(backend="nosuch")
