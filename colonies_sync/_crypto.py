"""Keys, ids and signatures of ColonyOS (secp256k1, SHA3-256, RFC 6979, low-s).

The scheme, in short (PROTOCOL.md section 3):

* a private key is 64 hex characters, a scalar ``0 < d < n``;
* an id is the SHA3-256 hex digest of the *text* ``"04" + hex(X) + hex(Y)``;
* a signature is ``hex(r || s || v)`` (65 bytes) over SHA3-256 of the signed
  text, with an RFC 6979 nonce, ``s <= n/2`` and the recovery byte ``v`` in {0, 1}.

Two interchangeable backends do the curve arithmetic: ``coincurve`` (libsecp256k1)
when it is importable, else the pure-Python ``ecdsa`` package. Both give the same
bytes. ``COLONIES_SYNC_CRYPTO=ecdsa`` forces the pure-Python one.

Validation of signatures (hex, length, recovery code, ranges, low-s) is done here
in plain integers before any backend runs, so that both backends reject the same
inputs with the same texts. The texts follow the real server's, because the fake
server answers with them.

This module does no I/O and keeps no state besides small caches.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import importlib
import os
import secrets
import threading
from typing import Any, Optional, Protocol

from ecdsa import rfc6979 as _rfc6979

from colonies_sync import _secp256k1 as _curve
from colonies_sync._exceptions import InvalidPrivateKey, InvalidSignature

__all__ = [
    "Crypto",
    "SignerHint",
    "available_backends",
    "default_backend",
    "generate_private_key",
    "hash_text",
    "id_from_private_key",
    "recover_id",
    "sign",
]

# secp256k1 domain parameters.
_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _N // 2

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _optional_coincurve() -> Any:
    try:
        return importlib.import_module("coincurve")
    except ImportError:  # pragma: no cover - depends on the environment
        return None


_coincurve: Any = _optional_coincurve()


def hash_text(text: str | bytes) -> str:
    """SHA3-256 (FIPS 202, not Keccak) of the UTF-8 bytes of ``text``, as hex."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha3_256(data).hexdigest()


def _digest(message: str | bytes) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hashlib.sha3_256(data).digest()


def _id_from_point_hex(pub_hex: str) -> str:
    return hashlib.sha3_256(pub_hex.encode("ascii")).hexdigest()


def _private_scalar(prvkey: str) -> int:
    """Parse a private key text the way the real server does, or raise."""
    if not isinstance(prvkey, str):
        raise InvalidPrivateKey(f"private key must be a hex string, not {type(prvkey).__name__}")
    if len(prvkey) % 2 or not _HEX_DIGITS.issuperset(prvkey):
        raise InvalidPrivateKey("Invalid private key: not a hex string")
    if len(prvkey) != 64:
        raise InvalidPrivateKey("Invalid private key length, should be 256 bits")
    d = int(prvkey, 16)
    if not 0 < d < _N:
        raise InvalidPrivateKey("Invalid private key")
    return d


def _go_hex_decode(text: str) -> bytes:
    """Decode hex like Go's ``encoding/hex``, with its error texts."""
    if not isinstance(text, str):
        raise InvalidSignature("signature must be a hex string")
    for i in range(0, len(text) - len(text) % 2, 2):
        for ch in text[i : i + 2]:
            if ch not in _HEX_DIGITS:
                raise InvalidSignature(f"encoding/hex: invalid byte: {_go_rune(ch)}")
    if len(text) % 2:
        if text[-1] not in _HEX_DIGITS:
            raise InvalidSignature(f"encoding/hex: invalid byte: {_go_rune(text[-1])}")
        raise InvalidSignature("encoding/hex: odd length hex string")
    return bytes.fromhex(text)


def _go_rune(ch: str) -> str:
    # Go's %#U: "U+0078 'x'", the quoted character only when printable.
    code = f"U+{ord(ch):04X}"
    return f"{code} '{ch}'" if ch.isprintable() else code


def _parse_signature(signature: str) -> tuple[int, int, int]:
    """Check a signature as the real server does and return (r, s, recid).

    The order of the checks, and their texts, follow the server: hex, length,
    recovery code, then the ranges of r and s. High-s is rejected last, after
    recovery in the server; no recovery can fail after these checks except for
    an r that is not the x of a curve point, which :func:`_lift_x` reports.
    """
    raw = _go_hex_decode(signature)
    if len(raw) != 65:
        raise InvalidSignature("Invalid signature length")
    code = (raw[64] + 27) & 0xFF
    if not 27 <= code <= 34:
        raise InvalidSignature(
            "Failed to recover public key: invalid signature: public key recovery "
            f"code {code} is not in the valid range [27, 34]"
        )
    recid = (code - 27) & 3  # 4..7 are the "compressed key" aliases of 0..3
    r = int.from_bytes(raw[:32], "big")
    s = int.from_bytes(raw[32:64], "big")
    prefix = "Failed to recover public key: invalid signature: "
    if r == 0:
        raise InvalidSignature(prefix + "R is 0")
    if r >= _N:
        raise InvalidSignature(prefix + "R >= group order")
    if s == 0:
        raise InvalidSignature(prefix + "S is 0")
    if s >= _N:
        raise InvalidSignature(prefix + "S >= group order")
    if recid & 2 and r + _N >= _P:
        raise InvalidSignature(prefix + "signature R + N >= P")
    return r, s, recid


def _check_low_s(s: int) -> None:
    if s > _HALF_N:
        raise InvalidSignature("Failed verify signature: Signature s value is over half the order")


class SignerHint:
    """Who signed the last requests on one connection: a guess at who signs the next one.

    With the pure-Python backend, a request from the same key as the last few
    is checked against that key (two table lookups) instead of recovering the
    key from scratch (a full scalar multiplication): about 0.35 ms instead of
    0.8. The answer is the same either way, and a wrong guess costs only the
    check. Keep one per connection; sharing one between threads is safe but
    makes guesses worse.
    """

    __slots__ = ("pubkey", "streak")

    def __init__(self) -> None:
        self.pubkey = ""
        self.streak = 0

    def note(self, pubkey: str) -> None:
        """``pubkey`` signed the request just recovered."""
        if pubkey == self.pubkey:
            self.streak += 1
        else:
            self.pubkey, self.streak = pubkey, 1


# A key's table costs about 3 ms to build, so it is built only for a key that keeps signing.
_HINT_STREAK = 3
_KEY_COMBS_MAX = 64
_key_combs: collections.OrderedDict[str, _curve.Comb] = collections.OrderedDict()
_key_combs_lock = threading.Lock()


def _key_comb(pubkey: str) -> _curve.Comb:
    with _key_combs_lock:
        comb = _key_combs.get(pubkey)
        if comb is not None:
            _key_combs.move_to_end(pubkey)
            return comb
    comb = _curve.Comb((int(pubkey[2:66], 16), int(pubkey[66:], 16)), 4)
    with _key_combs_lock:
        _key_combs[pubkey] = comb
        while len(_key_combs) > _KEY_COMBS_MAX:
            _key_combs.popitem(last=False)
    return comb


class _Backend(Protocol):
    """The curve arithmetic a backend provides; inputs are already validated."""

    name: str

    def public_hex(self, d: int) -> str: ...

    def sign(self, digest: bytes, d: int) -> bytes: ...

    def recover_public_hex(
        self, digest: bytes, r: int, s: int, recid: int, hint: Optional[SignerHint] = None
    ) -> str: ...


class _EcdsaBackend:
    """Pure Python: RFC 6979 nonces from the ``ecdsa`` package, curve arithmetic from ``_secp256k1``."""

    name = "ecdsa"

    def public_hex(self, d: int) -> str:
        point = _curve.mul_g(d)
        assert point is not None  # 0 < d < n
        return f"04{point[0]:064x}{point[1]:064x}"

    def sign(self, digest: bytes, d: int) -> bytes:
        z = int.from_bytes(digest, "big")
        retry = 0
        while True:
            k = int(_rfc6979.generate_k(_N, d, hashlib.sha256, digest, retry_gen=retry))
            point = _curve.mul_g(k)
            assert point is not None  # 0 < k < n
            rx = point[0]
            r = rx % _N
            s = pow(k, -1, _N) * (z + r * d) % _N
            if r and s:
                break
            retry += 1  # pragma: no cover - probability about 2**-256
        v = (point[1] & 1) | (2 if rx >= _N else 0)
        if s > _HALF_N:
            s = _N - s
            v ^= 1
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])

    def recover_public_hex(self, digest: bytes, r: int, s: int, recid: int, hint: Optional[SignerHint] = None) -> str:
        if hint is not None and hint.streak >= _HINT_STREAK and self._signed_by(hint.pubkey, digest, r, s, recid):
            hint.note(hint.pubkey)
            return hint.pubkey
        pubkey = self._recover(digest, r, s, recid)
        if hint is not None:
            hint.note(pubkey)
        return pubkey

    @staticmethod
    def _signed_by(pubkey: str, digest: bytes, r: int, s: int, recid: int) -> bool:
        """Whether recovering (r, s, recid) would give ``pubkey``: R = (z G + r Q) / s is the point it names."""
        w = pow(s, -1, _N)
        point = _curve.mul_add_comb(int.from_bytes(digest, "big") * w % _N, _key_comb(pubkey), r * w % _N)
        return point is not None and point[0] == (r + _N if recid & 2 else r) and point[1] & 1 == recid & 1

    @staticmethod
    def _recover(digest: bytes, r: int, s: int, recid: int) -> str:
        big_r = _curve.lift_x(r + _N if recid & 2 else r, bool(recid & 1))
        if big_r is None:
            raise InvalidSignature(
                "Failed to recover public key: invalid signature: signature is not for a valid curve point"
            )
        z = int.from_bytes(digest, "big")
        r_inv = pow(r, -1, _N)
        q = _curve.mul_add(-z * r_inv % _N, big_r, s * r_inv % _N)  # Q = r^-1 (s R - z G)
        if q is None:
            raise InvalidSignature(
                "Failed to recover public key: invalid signature: recovered pubkey is the point at infinity"
            )
        return f"04{q[0]:064x}{q[1]:064x}"


class _CoincurveBackend:
    """libsecp256k1 through ``coincurve``."""

    name = "coincurve"

    def public_hex(self, d: int) -> str:
        assert _coincurve is not None
        key = _coincurve.PrivateKey(d.to_bytes(32, "big"))
        return str(key.public_key.format(compressed=False).hex())

    def sign(self, digest: bytes, d: int) -> bytes:
        assert _coincurve is not None
        key = _coincurve.PrivateKey(d.to_bytes(32, "big"))
        return bytes(key.sign_recoverable(digest, hasher=None))

    def recover_public_hex(self, digest: bytes, r: int, s: int, recid: int, hint: Optional[SignerHint] = None) -> str:
        assert _coincurve is not None  # libsecp256k1 recovers in 40 us: no use for a hint
        compact = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recid])
        try:
            pub = _coincurve.PublicKey.from_signature_and_message(compact, digest, hasher=None)
        except Exception as exc:  # libsecp256k1 reports every failure the same way
            raise InvalidSignature(
                "Failed to recover public key: invalid signature: signature is not for a valid curve point"
            ) from exc
        return str(pub.format(compressed=False).hex())


_BACKENDS: dict[str, _Backend] = {"ecdsa": _EcdsaBackend(), "coincurve": _CoincurveBackend()}


def available_backends() -> list[str]:
    """Names of the backends usable here, the fastest first."""
    names = ["ecdsa"]
    if _coincurve is not None:
        names.insert(0, "coincurve")
    return names


def default_backend() -> str:
    """The backend used when none is named: ``COLONIES_SYNC_CRYPTO``, else the fastest."""
    wanted = os.environ.get("COLONIES_SYNC_CRYPTO", "").strip().lower()
    if wanted:
        if wanted not in available_backends():
            raise ValueError(f"COLONIES_SYNC_CRYPTO={wanted!r} is not usable here; available: {available_backends()}")
        return wanted
    return available_backends()[0]


class Crypto:
    """ColonyOS key and signature operations, as in the other ColonyOS SDKs.

    ``Crypto()`` picks the fastest backend available (or the one named by ``COLONIES_SYNC_CRYPTO``);
    ``Crypto(backend="ecdsa")`` forces one. Every backend gives identical results.
    """

    def __init__(self, backend: Optional[str] = None) -> None:
        name = backend or default_backend()
        if name not in available_backends():
            raise ValueError(f"crypto backend {name!r} is not available; available: {available_backends()}")
        self._impl = _BACKENDS[name]
        # Deriving an id costs a scalar multiplication; clients ask for the same few.
        self._id_cache = functools.lru_cache(maxsize=256)(self._id_uncached)

    @property
    def backend(self) -> str:
        """Which backend is in use, ``"coincurve"`` or ``"ecdsa"``."""
        return self._impl.name

    def generate_private_key(self) -> str:
        """A new random private key: 64 lowercase hex characters, ``0 < d < n``."""
        while True:
            d = secrets.randbits(256)
            if 0 < d < _N:
                return f"{d:064x}"

    def public_key(self, prvkey: str) -> str:
        """The uncompressed public key of ``prvkey`` as 130 lowercase hex characters."""
        return self._impl.public_hex(_private_scalar(prvkey))

    def id(self, prvkey: str) -> str:
        """The ColonyOS id of ``prvkey``: SHA3-256 of the public key's hex text."""
        _private_scalar(prvkey)
        return self._id_cache(prvkey.lower())

    def _id_uncached(self, prvkey: str) -> str:
        return _id_from_point_hex(self._impl.public_hex(int(prvkey, 16)))

    def sign(self, message: str | bytes, prvkey: str) -> str:
        """Sign ``message`` (the text itself is hashed) and return ``hex(r || s || v)``."""
        d = _private_scalar(prvkey)
        return self._impl.sign(_digest(message), d).hex()

    def recover_id(self, message: str | bytes, signature: str, *, hint: Optional[SignerHint] = None) -> str:
        """The id of the key that signed ``message``, as the real server recovers it.

        Raises :class:`~colonies_sync.InvalidSignature` with the server's text for a
        signature the server would refuse (bad hex, wrong length, recovery code,
        out-of-range r or s, high s). A well-formed signature by another key, or of
        another message, recovers some other id: that is not an error here.
        ``hint`` (one per connection) only makes repeated recoveries faster.
        """
        r, s, recid = _parse_signature(signature)
        pub_hex = self._impl.recover_public_hex(_digest(message), r, s, recid, hint)
        _check_low_s(s)
        return _id_from_point_hex(pub_hex)

    def hash(self, text: str | bytes) -> str:
        """SHA3-256 of ``text`` as hex (the hash ColonyOS uses everywhere)."""
        return hash_text(text)


@functools.lru_cache(maxsize=None)
def _default() -> Crypto:
    return Crypto()


def generate_private_key() -> str:
    """A new random private key (see :meth:`Crypto.generate_private_key`)."""
    return _default().generate_private_key()


def id_from_private_key(prvkey: str) -> str:
    """The id of ``prvkey`` (see :meth:`Crypto.id`)."""
    return _default().id(prvkey)


def sign(message: str | bytes, prvkey: str) -> str:
    """Sign ``message`` with ``prvkey`` (see :meth:`Crypto.sign`)."""
    return _default().sign(message, prvkey)


def recover_id(message: str | bytes, signature: str) -> str:
    """The signer's id of ``signature`` over ``message`` (see :meth:`Crypto.recover_id`)."""
    return _default().recover_id(message, signature)
