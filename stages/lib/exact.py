"""Arithmetic that gives the same bits on every machine: IEEE 754's exactly rounded operations only.

Add, subtract, multiply, divide, compare, select and a correctly rounded square root give one result
whatever the CPU, its vector width or its libraries, so each kernel here is built from those alone, in
an order this code fixes. What a library would round its own way (exp, log, tanh, sums whose order
follows the vector width, fused multiply-adds) is written out. Every kernel takes `ops`, the handful
of operations whose names differ between libraries: NumPy (`NUMPY`, the CPU path: its calls cost a
quarter of torch's on arrays this small), torch (stages/lib/exact_torch.py, for CUDA: imported only
there, since torch's import costs more than a stage's work) and JAX (stages/lib/train_jax.py). All three
run this one definition and give the same bits.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def f32(value: float) -> float:
    """`value` rounded to float32 once, here, so that no framework rounds a constant its own way."""
    return float(np.float32(value))


LN2_HI, LN2_LO = 0.693145751953125, f32(math.log(2) - 0.693145751953125)  # n · LN2_HI exact for |n| < 2^8
INV_LN2 = f32(1 / math.log(2))
SQRT2 = f32(math.sqrt(2))
# e^r = 1 + r + r² P(r) on |r| ≤ ln 2 / 2: Cephes' expf polynomial (S. Moshier), under one unit.
EXP_TERMS = tuple(f32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                                   1.6666665459e-1, 5.0000001201e-1))  # fmt: skip
# log(m) = 2 atanh(s), s = (m - 1)/(m + 1) with |s| ≤ 0.172: 2 s^(2k+1)/(2k+1) up to k = 5.
LOG_TERMS = tuple(f32(2 / (2 * k + 1)) for k in range(5, -1, -1))
EXP_LIMITS = (-87.0, 88.0)  # e^x and 2^n stay normal float32 numbers
TANH_LIMIT = 20.0  # tanh(20) is 1 in float32
SMALLEST_NORMAL = 2.0**-126


@dataclass(frozen=True)
class Ops:
    """The few operations whose names differ between frameworks; each is exact in IEEE 754's sense."""

    mul: Callable  # a product rounded on its own, never fused into a following add
    where: Callable  # (condition, a, b)
    clip: Callable  # (x, low, high), either bound may be None
    round: Callable  # to the nearest integer, ties to even
    sqrt: Callable  # correctly rounded
    to_bits: Callable  # float32 → the int32 of its bits
    from_bits: Callable  # int32 bits → float32
    to_int: Callable  # integral float32 → int32
    to_float: Callable  # int32 → float32
    cat: Callable  # (arrays, axis)


def _numpy_where(condition, a, b):
    """np.where, but float32 where both choices are Python floats (NumPy would make them float64)."""
    if isinstance(a, float) and isinstance(b, float):
        a, b = np.float32(a), np.float32(b)
    return np.where(condition, a, b)


def _numpy_clip(x, low, high):
    """np.clip as np.maximum and np.minimum: the same values at a third of the cost on small arrays."""
    x = x if low is None else np.maximum(x, np.float32(low))
    return x if high is None else np.minimum(x, np.float32(high))


NUMPY = Ops(
    mul=np.multiply,
    where=_numpy_where,
    clip=_numpy_clip,
    round=np.round,
    sqrt=np.sqrt,  # the processor's square root instruction, which IEEE 754 has correctly rounded
    to_bits=lambda x: x.view(np.int32),
    from_bits=lambda bits: bits.view(np.float32),
    to_int=lambda x: x.astype(np.int32),
    to_float=lambda n: n.astype(np.float32),
    cat=lambda arrays, axis: np.concatenate(arrays, axis=axis),
)


def polynomial(ops: Ops, x, coefficients: tuple[float, ...]):
    """Horner's rule, highest coefficient first, a product and a sum per term (no fused multiply-add)."""
    result = ops.mul(x, coefficients[0]) + coefficients[1]
    for coefficient in coefficients[2:]:
        result = ops.mul(result, x) + coefficient
    return result


def _reduce(ops: Ops, x):
    """x = n ln 2 + r with |r| ≤ ln 2 / 2: returns (2^n, r), 2^n built from its bits."""
    x = ops.clip(x, *EXP_LIMITS)
    n = ops.round(ops.mul(x, INV_LN2))
    r = (x - ops.mul(n, LN2_HI)) - ops.mul(n, LN2_LO)
    return ops.from_bits((ops.to_int(n) + 127) << 23), r


def expm1(ops: Ops, x):
    """e^x - 1, accurate near 0 (tanh needs that), within a few units in the last place elsewhere."""
    scale, r = _reduce(ops, x)
    return ops.mul(scale, _expm1_reduced(ops, r)) + (scale - 1.0)


def exp(ops: Ops, x):
    """e^x, clamped to float32's normal range, within a few units in the last place."""
    scale, r = _reduce(ops, x)
    return ops.mul(scale, _expm1_reduced(ops, r) + 1.0)


def _expm1_reduced(ops: Ops, r):
    """e^r - 1 for |r| ≤ ln 2 / 2, without adding 1 first."""
    return ops.mul(ops.mul(polynomial(ops, r, EXP_TERMS), r), r) + r


def log(ops: Ops, x):
    """Natural log (-inf at 0, NaN below 0 and at NaN), from the exponent's bits and atanh's series on
    the mantissa."""
    tiny = x < SMALLEST_NORMAL
    x = ops.where(tiny, ops.mul(x, 2.0**24), x)  # subnormal: make it normal first (exact)
    bits = ops.to_bits(x)
    exponent = ops.to_float(((bits >> 23) & 255) - 127) - ops.where(tiny, 24.0, 0.0)
    mantissa = ops.from_bits((bits & 0x7FFFFF) | 0x3F800000)  # [1, 2)
    high = mantissa > SQRT2
    mantissa = ops.where(high, ops.mul(mantissa, 0.5), mantissa)  # [√½, √2)
    exponent = exponent + ops.where(high, 1.0, 0.0)
    s = (mantissa - 1.0) / (mantissa + 1.0)
    series = ops.mul(polynomial(ops, ops.mul(s, s), LOG_TERMS), s)
    value = ops.mul(exponent, LN2_HI) + (series + ops.mul(exponent, LN2_LO))
    return ops.where(x > 0, value, ops.where(x == 0, -math.inf, math.nan))  # NaN: a diverged run says so


def sigmoid(ops: Ops, x):
    """1 / (1 + e^-x)."""
    return 1.0 / (exp(ops, -x) + 1.0)


def tanh(ops: Ops, x):
    """tanh x = t / (t + 2) with t = e^(2|x|) - 1, and tanh's sign."""
    t = expm1(ops, ops.mul(ops.clip(abs(x), None, TANH_LIMIT), 2.0))
    value = t / (t + 2.0)
    return ops.where(x < 0, -value, value)


def tree_sum(ops: Ops, x, axis: int):
    """Sum over `axis` as a fixed binary tree, neighbours first (an odd one out waits a level): the
    same order on any vector width, where a library's sum follows the machine's."""
    head = (slice(None),) * (axis % x.ndim)
    while x.shape[axis] > 1:
        size = x.shape[axis]
        pairs = x[(*head, slice(0, size - 1, 2))] + x[(*head, slice(1, size, 2))]
        x = ops.cat([pairs, x[(*head, slice(size - 1, size))]], axis) if size % 2 else pairs
    return x[(*head, 0)]
