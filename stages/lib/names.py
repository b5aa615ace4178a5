"""The names params.yaml gives losses, activations and arithmetics: each written once, then imported."""

BCE, MSE = "bce", "mse"
LOSSES = (BCE, MSE)

RELU, TANH, LEAKY_RELU = "relu", "tanh", "leaky_relu"
ACTIVATIONS = (RELU, TANH, LEAKY_RELU)

EXACT, NATIVE = "exact", "native"  # stages/lib/arithmetic.py: the same bits everywhere, or PyTorch's kernels
ARITHMETICS = (EXACT, NATIVE)
