"""The MLP's arithmetic, forward and backward, and its losses: one definition for torch and JAX.

Every function takes `ops` (stages/lib/exact.py) and arrays with a leading copy axis, so one model and a
study's many run the same code: nothing sums across copies, and copy k gets the bits it gets alone.
The trained weights of all copies are one flat array (copies, n_weights); `unflatten` gives views.
The backward pass is written out (autograd's would sum in its libraries' orders) and tested against
autograd in tests/test_net.py. No array is divided by a scalar: XLA would turn that into a product
with the scalar's reciprocal, so every path multiplies by the float32 reciprocal itself.
"""

import math
from collections.abc import Sequence

from stages.lib.exact import Ops, f32, log, sigmoid, tanh, tree_sum
from stages.lib.names import BCE, LEAKY_RELU, MSE, RELU, TANH

Recipe = tuple[
    tuple, ...
]  # ("standardize", i), ("linear", i), ("activation", name), ("dropout", p), ("sigmoid",)
Layout = tuple[tuple[str, tuple[int, ...]], ...]  # the trained tensors' state-dict names and shapes, in order
LEAKY_SLOPE = f32(0.01)  # torch's and JAX's default
BCE_LOG_FLOOR = -100.0  # torch's binary_cross_entropy clamps each log here
BCE_GRADIENT_FLOOR = f32(1e-12)  # and divides by at least this in its gradient


def unflatten(flat, layout: Layout) -> dict:
    """Each trained tensor of `layout` as a (copies, *shape) view of `flat` (copies, n_weights)."""
    views, offset = {}, 0
    for name, shape in layout:
        size = math.prod(shape)
        views[name] = flat[:, offset : offset + size].reshape(flat.shape[0], *shape)
        offset += size
    return views


def linear(ops: Ops, x, weight, bias):
    """x (copies, rows, in) · weightᵀ (copies, out, in) + bias: a product and a sum per input, in order."""
    out = bias[:, None, :]
    for i in range(x.shape[-1]):
        out = out + ops.mul(x[..., i : i + 1], weight[:, None, :, i])
    return out


def _linear_input_gradient(ops: Ops, gradient, weight):
    """gradient (copies, rows, out) · weight (copies, out, in), summed over out in order."""
    total = ops.mul(gradient[..., 0:1], weight[:, None, 0, :])
    for j in range(1, weight.shape[1]):
        total = total + ops.mul(gradient[..., j : j + 1], weight[:, None, j, :])
    return total


def _activate(ops: Ops, name: str, x):
    if name == RELU:
        return ops.where(x > 0, x, 0.0)
    if name == LEAKY_RELU:
        return ops.where(x > 0, x, ops.mul(x, LEAKY_SLOPE))
    assert name == TANH, name
    return tanh(ops, x)


def _activation_gradient(ops: Ops, name: str, gradient, x, y):
    """The gradient through activation `name`, whose input was `x` and output `y`."""
    if name == RELU:
        return ops.where(x > 0, gradient, 0.0)
    if name == LEAKY_RELU:
        return ops.where(x > 0, gradient, ops.mul(gradient, LEAKY_SLOPE))
    assert name == TANH, name
    return ops.mul(gradient, 1.0 - ops.mul(y, y))


def forward(ops: Ops, steps: Recipe, weights: dict, stats: dict, x, keeps: Sequence = ()) -> tuple:
    """P(y = 1) (copies, rows) for inputs x (copies, rows, features), and each step's input (the tape).

    With `keeps`, one mask (copies, rows, width) per dropout layer, dropout is on (training)."""
    masks, tape = iter(keeps), []
    for kind, *arg in steps:
        tape.append(x)
        if kind == "standardize":
            scale = 1.0 / stats[f"{arg[0]}.std"][:, None, :]  # divided once: see the module's docstring
            x = ops.mul(x - stats[f"{arg[0]}.mean"][:, None, :], scale)
        elif kind == "linear":
            x = linear(ops, x, weights[f"{arg[0]}.weight"], weights[f"{arg[0]}.bias"])
        elif kind == "dropout":
            x = ops.mul(ops.mul(x, next(masks)), f32(1 / (1 - arg[0]))) if keeps else x
        elif kind == "sigmoid":
            x = sigmoid(ops, x)
        else:
            x = _activate(ops, arg[0], x)
    tape.append(x)
    return x[..., 0], tape


def backward(ops: Ops, steps: Recipe, weights: dict, tape: list, keeps: Sequence, gradient) -> dict:
    """Each row's gradient of each trained tensor (copies, rows, *shape), from the gradient of P(y = 1)."""
    masks = list(keeps)
    rows, gradient = {}, gradient[..., None]
    first_linear = next(step[1] for step in steps if step[0] == "linear")  # no gradient into the data
    for position in range(len(steps) - 1, -1, -1):
        (kind, *arg), x, y = steps[position], tape[position], tape[position + 1]
        if kind == "sigmoid":
            gradient = ops.mul(ops.mul(gradient, 1.0 - y), y)
        elif kind == "linear":
            rows[f"{arg[0]}.weight"] = ops.mul(gradient[..., :, None], x[..., None, :])
            rows[f"{arg[0]}.bias"] = gradient
            if arg[0] == first_linear:
                break
            gradient = _linear_input_gradient(ops, gradient, weights[f"{arg[0]}.weight"])
        elif kind == "dropout":
            gradient = ops.mul(ops.mul(gradient, masks.pop()), f32(1 / (1 - arg[0])))
        elif kind == "activation":
            gradient = _activation_gradient(ops, arg[0], gradient, x, y)
    return rows


def bce_terms(ops: Ops, p, y):
    """torch's binary_cross_entropy per row: each log clamped at -100."""
    rows = p.shape[-1]
    logs = ops.clip(log(ops, ops.cat([p, 1.0 - p], -1)), BCE_LOG_FLOOR, None)  # one call: half the overhead
    return -(ops.mul(y, logs[..., :rows]) + ops.mul(1.0 - y, logs[..., rows:]))


def bce_gradient(ops: Ops, p, y):
    """torch's derivative of binary_cross_entropy in p: (p - y) / max(p (1 - p), 1e-12)."""
    return (p - y) / ops.clip(ops.mul(1.0 - p, p), BCE_GRADIENT_FLOOR, None)


def mse_terms(ops: Ops, p, y):
    """Squared error per row between P(y = 1) and the 0/1 label."""
    error = p - y
    return ops.mul(error, error)


def mse_gradient(ops: Ops, p, y):
    return ops.mul(p - y, 2.0)


LOSSES = {BCE: (bce_terms, bce_gradient), MSE: (mse_terms, mse_gradient)}


def mean_loss(ops: Ops, loss: str, p, y):
    """Each copy's mean loss over its rows (copies,)."""
    return ops.mul(tree_sum(ops, LOSSES[loss][0](ops, p, y), axis=-1), f32(1 / p.shape[-1]))


def gradient(ops: Ops, steps: Recipe, layout: Layout, flat, stats: dict, x, y, keeps: Sequence, loss: str):
    """The gradient of each copy's mean loss on the batch, flat like the weights (copies, n_weights)."""
    weights = unflatten(flat, layout)
    p, tape = forward(ops, steps, weights, stats, x, keeps)
    return weight_gradient(ops, steps, layout, weights, tape, keeps, mean_loss_gradient(ops, loss, p, y))


def mean_loss_gradient(ops: Ops, loss: str, p, y):
    """The gradient of each copy's mean loss in P(y = 1) (copies, rows)."""
    return ops.mul(LOSSES[loss][1](ops, p, y), f32(1 / p.shape[-1]))


def weight_gradient(ops: Ops, steps: Recipe, layout: Layout, weights: dict, tape: list, keeps: Sequence,
                    grad_p):  # fmt: skip
    """From the gradient in P(y = 1) (copies, rows), each copy's gradient of the weights summed over its
    rows as a fixed tree, flat like the weights (copies, n_weights)."""
    per_row = backward(ops, steps, weights, tape, keeps, grad_p)
    columns = [per_row[name].reshape(*grad_p.shape, -1) for name, _ in layout]
    return tree_sum(ops, ops.cat(columns, -1), axis=1)
