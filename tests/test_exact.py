"""The exact kernels (stages/lib/exact.py): a few units from the true value, the same bits from either ops."""

import numpy as np
import pytest
import torch

from stages.lib import exact
from stages.lib.exact import NUMPY
from stages.lib.exact_torch import TORCH

# The most a kernel may be off, in float32 units in the last place (ulps) of the correctly rounded value.
# Measured on the grids below: exp 1, expm1 1, sigmoid 2, tanh 2, log 3 against float64's value, and at
# most 3 against torch's own functions (themselves up to a unit off). 4 keeps a unit of margin.
ULP_BOUND = 4
N = 10**6
KERNELS = {
    "exp": exact.exp,
    "expm1": exact.expm1,
    "sigmoid": exact.sigmoid,
    "tanh": exact.tanh,
    "log": exact.log,
}


def spread(low: float, high: float, n: int = N) -> np.ndarray:
    """`n` evenly spaced float32 numbers from `low` to `high`."""
    return np.linspace(low, high, n, dtype=np.float32)


def near_zero(n: int = 10**5) -> np.ndarray:
    """± magnitudes log-spaced from the smallest subnormal float32 to 1e-3."""
    magnitudes = np.geomspace(1e-45, 1e-3, n).astype(np.float32)
    return np.concatenate([-magnitudes, magnitudes])


POSITIVE = np.geomspace(1e-45, 3e38, N).astype(np.float32)  # every binade, subnormals included
SUBNORMAL = np.arange(1, 2**23, 64, dtype=np.int32).view(np.float32)
GRIDS = {  # each kernel over the range where it is defined; beyond it exp clamps and tanh is ±1
    "exp": spread(-87, 88),
    "expm1": np.concatenate([spread(-87, 88), near_zero()]),
    "sigmoid": spread(-87, 88),
    "tanh": np.concatenate([spread(-20, 20), near_zero()]),
    "log": np.concatenate([POSITIVE, SUBNORMAL, spread(0.5, 2, 8 * 10**5), np.float32([1.0])]),
}
FLOAT64 = {
    "exp": np.exp,
    "expm1": np.expm1,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "log": np.log,
}
TORCH_OWN = {
    "exp": torch.exp,
    "expm1": torch.expm1,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "log": torch.log,
}
# Random bit patterns: finite float32 numbers of every exponent, then the values where kernels turn.
RNG = np.random.default_rng(0)
RANDOM = RNG.integers(-(2**31), 2**31, 10**5, dtype=np.int64).astype(np.int32).view(np.float32)
SPECIAL = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 88.0, -87.0, 20.0, -20.0, 1e-45, -1e-45])
EVERY_FLOAT = np.concatenate([RANDOM[np.isfinite(RANDOM)], SPECIAL])


def kernel_on(name: str, ops: exact.Ops, x: np.ndarray) -> np.ndarray:
    """Kernel `name` on float32 `x` through `ops`, as a NumPy array."""
    if ops is TORCH:
        return KERNELS[name](TORCH, torch.from_numpy(x)).numpy()
    return KERNELS[name](NUMPY, x)


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """How many float32 steps apart `got` and `want` (rounded to float32 first) are."""
    ordered = []
    for values in (got, want):
        bits = np.asarray(values, np.float32).view(np.int32).astype(np.int64)
        ordered.append(np.where(bits < 0, -(bits & 0x7FFFFFFF), bits))  # the bits' order is the values'
    return np.abs(ordered[0] - ordered[1])


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """The same float32 bits, NaNs apart (a NaN's payload carries no result): NaN in the same places."""
    nan = np.isnan(a)
    return np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.int32), b[~nan].view(np.int32))


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_is_within_the_bound_of_float64s_value(name):
    x = GRIDS[name]
    with np.errstate(over="ignore"):  # log scales subnormals by 2^24, and `where` computes it for all
        got = kernel_on(name, NUMPY, x)
    assert ulps(got, FLOAT64[name](x.astype(np.float64))).max() <= ULP_BOUND


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_is_within_the_bound_of_torchs_own_function(name):
    x = GRIDS[name]
    got = kernel_on(name, TORCH, x)
    assert ulps(got, TORCH_OWN[name](torch.from_numpy(x)).numpy()).max() <= ULP_BOUND


@pytest.mark.parametrize("name", KERNELS)
def test_numpy_and_torch_ops_give_the_same_bits(name):
    x = np.concatenate([GRIDS[name], EVERY_FLOAT])
    with np.errstate(over="ignore", invalid="ignore"):
        assert same_bits(kernel_on(name, NUMPY, x), kernel_on(name, TORCH, x))


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_log_of_zero_is_minus_infinity(ops):
    assert (kernel_on("log", ops, np.float32([0.0, -0.0])) == -np.inf).all()


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_log_of_a_negative_number_or_nan_is_nan(ops):
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(kernel_on("log", ops, np.float32([-1e-45, -1.0, -3e38, -np.inf, np.nan]))).all()


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_log_of_one_is_exactly_zero(ops):
    assert kernel_on("log", ops, np.float32([1.0])).tolist() == [0.0]


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_exp_clamps_to_the_normal_range_instead_of_overflowing(ops):
    x = np.float32([-np.inf, -1e30, -200, -87, 88, 200, 1e30, np.inf])
    got = kernel_on("exp", ops, x)
    assert np.isfinite(got).all() and (got > 0).all()
    assert got[:4].tolist() == [got[3]] * 4 and got[4:].tolist() == [got[4]] * 4


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_tanh_of_a_large_magnitude_is_plus_or_minus_one(ops):
    x = np.float32([9.1, 20, 21, 1e4, 3e38, np.inf])
    assert kernel_on("tanh", ops, x).tolist() == [1.0] * 6
    assert kernel_on("tanh", ops, -x).tolist() == [-1.0] * 6


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_sigmoid_stays_within_zero_and_one(ops):
    x = np.concatenate([spread(-1e4, 1e4, 10**5), np.float32([-np.inf, -3e38, 3e38, np.inf])])
    got = kernel_on("sigmoid", ops, x)
    assert ((got >= 0) & (got <= 1)).all()


def test_sqrt_is_correctly_rounded_with_numpy_and_torch_ops():
    positive = RNG.integers(1, 0x7F800000, N, dtype=np.int32).view(np.float32)  # every exponent
    want = np.sqrt(positive.astype(np.float64)).astype(np.float32)  # float64's root rounds to float32's
    assert same_bits(NUMPY.sqrt(positive), want)
    assert same_bits(TORCH.sqrt(torch.from_numpy(positive)).numpy(), want)
    assert same_bits(np.sqrt(positive), want)


def test_torch_sqrt_keeps_ieees_special_values():
    x = np.float32([0.0, -0.0, np.inf, np.nan, -1.0, -np.inf])
    got = TORCH.sqrt(torch.from_numpy(x)).numpy()
    assert got[:3].view(np.int32).tolist() == x[:3].view(np.int32).tolist()  # -0's sign kept
    assert np.isnan(got[3:]).all()


def tree_by_hand(values: list[np.float32]) -> np.float32:
    """Neighbours summed pairwise, an odd last one carried up a level, until one is left."""
    if len(values) == 1:
        return values[0]
    pairs = [np.float32(a + b) for a, b in zip(values[0::2], values[1::2], strict=False)]
    return tree_by_hand(pairs + values[-1:] if len(values) % 2 else pairs)


def mixed_magnitudes(*shape: int) -> np.ndarray:
    """float32 values of both signs from 1e-4 to 1e4: most orders of summing round them differently."""
    rng = np.random.default_rng(1)
    return (rng.standard_normal(shape) * 10 ** rng.uniform(-4, 4, shape)).astype(np.float32)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 37])
@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_tree_sum_adds_in_a_fixed_pairwise_order(ops, size):
    values = mixed_magnitudes(size)
    got = exact.tree_sum(ops, values if ops is NUMPY else torch.from_numpy(values), axis=0)
    assert np.asarray(got).view(np.int32) == tree_by_hand(list(values)).view(np.int32)


def test_tree_sum_order_is_not_the_sequential_one():
    values = mixed_magnitudes(37)
    sequential = np.float32(0)
    for value in values:
        sequential = np.float32(sequential + value)
    assert exact.tree_sum(NUMPY, values, axis=0) != sequential  # so the test above tells orders apart


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_tree_sum_of_a_column_does_not_depend_on_the_columns_beside_it(ops):
    values = mixed_magnitudes(3, 37, 5)  # (copies, rows, weights), as net.gradient sums it
    place = np.asarray if ops is NUMPY else torch.from_numpy
    together = np.asarray(exact.tree_sum(ops, place(values), axis=1))
    for copy in range(3):
        for column in range(5):
            alone = np.asarray(exact.tree_sum(ops, place(values[copy : copy + 1, :, column]), axis=1))
            assert alone.view(np.int32)[0] == together.view(np.int32)[copy, column]


@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_tree_sum_over_the_last_axis_sums_each_copy_alone(ops):
    values = mixed_magnitudes(4, 37)  # (copies, rows), as net.mean_loss sums it
    place = np.asarray if ops is NUMPY else torch.from_numpy
    together = np.asarray(exact.tree_sum(ops, place(values), axis=-1))
    alone = [np.asarray(exact.tree_sum(ops, place(row[None]), axis=-1))[0] for row in values]
    assert together.view(np.int32).tolist() == np.float32(alone).view(np.int32).tolist()


def horner_by_hand(x: float, coefficients: tuple[float, ...]) -> np.float32:
    """Horner's rule one float32 operation at a time: every product and sum rounded on its own."""
    result = np.float32(np.float32(x) * np.float32(coefficients[0]))
    result = np.float32(result + np.float32(coefficients[1]))
    for coefficient in coefficients[2:]:
        result = np.float32(np.float32(result * np.float32(x)) + np.float32(coefficient))
    return result


@pytest.mark.parametrize("coefficients", [exact.EXP_TERMS, exact.LOG_TERMS], ids=["exp", "log"])
@pytest.mark.parametrize("ops", [NUMPY, TORCH], ids=["numpy", "torch"])
def test_polynomial_is_horners_rule_with_separate_products(ops, coefficients):
    x = spread(-0.35, 0.35, 4001)
    got = np.asarray(exact.polynomial(ops, x if ops is NUMPY else torch.from_numpy(x), coefficients))
    want = np.float32([horner_by_hand(value, coefficients) for value in x])
    assert got.view(np.int32).tolist() == want.view(np.int32).tolist()
