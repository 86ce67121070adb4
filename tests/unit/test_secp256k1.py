"""The pure-Python curve arithmetic agrees with the ``ecdsa`` package, and hints never change an answer."""

from __future__ import annotations

import ecdsa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colonies_sync import Crypto
from colonies_sync import _secp256k1 as curve
from colonies_sync._crypto import SignerHint

G = ecdsa.SECP256k1.generator
N = curve.N
scalars = st.one_of(
    st.integers(min_value=1, max_value=N - 1),
    st.sampled_from([1, 2, 3, N - 1, N - 2, 2**128, 2**255, (N - 1) // 2, curve.LAMBDA, N - curve.LAMBDA]),
)


def affine(point: ecdsa.ellipticcurve.PointJacobi) -> tuple[int, int] | None:
    return None if point == ecdsa.ellipticcurve.INFINITY else (point.x(), point.y())


def test_the_endomorphism_constants_are_those_of_the_curve() -> None:
    assert curve.mul_g(curve.LAMBDA) == (curve.BETA * curve.G[0] % curve.P, curve.G[1])
    assert pow(curve.LAMBDA, 3, N) == 1 and curve.LAMBDA != 1
    assert affine(G) == curve.G


@settings(max_examples=200, deadline=None)
@given(scalars)
def test_scalar_split_recombines_into_half_length_parts(k: int) -> None:
    k1, k2 = curve.split_scalar(k)
    assert (k1 + k2 * curve.LAMBDA - k) % N == 0
    assert max(abs(k1), abs(k2)) < 2**129


@settings(max_examples=200, deadline=None)
@given(scalars)
def test_generator_multiples_match_ecdsa(k: int) -> None:
    assert curve.mul_g(k) == affine(G * k)


def test_zero_times_the_generator_is_infinity() -> None:
    assert curve.mul_g(0) is None
    assert curve.mul_g(N) is None


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=N - 1), scalars, scalars)
def test_mul_add_matches_ecdsa(u1: int, d: int, u2: int) -> None:
    q = G * d
    q_affine = affine(q)
    assert q_affine is not None
    assert curve.mul_add(u1, q_affine, u2) == affine(G * u1 + q * u2)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=N - 1), scalars, scalars)
def test_the_comb_of_any_point_matches_ecdsa(u1: int, d: int, u2: int) -> None:
    q = G * d
    q_affine = affine(q)
    assert q_affine is not None
    comb = curve.Comb(q_affine, 4)
    assert curve.mul_add_comb(u1, comb, u2) == affine(G * u1 + q * u2)


def test_a_sum_that_cancels_is_infinity() -> None:
    q = affine(G * 5)
    assert curve.mul_add(N - 5, q, 1) is None  # -5 G + (5 G)
    assert curve.mul_add(N - 10, q, 2) is None


def test_lift_x_finds_the_point_of_either_parity_or_none() -> None:
    x, y = curve.G
    assert curve.lift_x(x, bool(y & 1)) == (x, y)
    assert curve.lift_x(x, not (y & 1)) == (x, curve.P - y)
    assert curve.lift_x(5, False) is None  # 5**3 + 7 is not a square mod p
    assert curve.lift_x(curve.P, False) is None


@pytest.mark.parametrize("backend", ["ecdsa", "coincurve"])
def test_a_hint_never_changes_who_signed(backend: str) -> None:
    if backend == "coincurve":
        pytest.importorskip("coincurve")
    crypto = Crypto(backend)
    keys = [crypto.generate_private_key() for _ in range(3)]
    hint = SignerHint()
    # Long runs of one key (the hint is used), then switches (the guess is wrong once).
    order = [0] * 6 + [1] * 4 + [0] + [2] * 5 + [1, 0, 1, 0]
    for i, k in enumerate(order):
        message = f"message {i}"
        signature = crypto.sign(message, keys[k])
        assert crypto.recover_id(message, signature, hint=hint) == crypto.id(keys[k])
        assert crypto.recover_id(message, signature) == crypto.id(keys[k])


def test_a_hinted_check_of_a_forged_signature_falls_back_to_recovery() -> None:
    crypto = Crypto("ecdsa")
    key = crypto.generate_private_key()
    hint = SignerHint()
    for i in range(5):
        crypto.recover_id(f"m{i}", crypto.sign(f"m{i}", key), hint=hint)
    signature = crypto.sign("signed text", key)
    # The same signature over other text names some other key, hint or no hint.
    assert crypto.recover_id("other text", signature, hint=hint) == crypto.recover_id("other text", signature)
    assert crypto.recover_id("other text", signature, hint=hint) != crypto.id(key)
