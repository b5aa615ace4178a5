"""The names params.yaml gives losses, activations and arithmetics: each written once, then imported."""

BCE, MSE = "bce", "mse"
LOSSES = (BCE, MSE)

RELU, TANH, LEAKY_RELU = "relu", "tanh", "leaky_relu"
ACTIVATIONS = (RELU, TANH, LEAKY_RELU)

TORCH, JAX = "torch", "jax"
FRAMEWORKS = (TORCH, JAX)

EXACT, NATIVE = "exact", "native"  # the same bits everywhere, or the framework's own kernels
ARITHMETICS = (EXACT, NATIVE)
