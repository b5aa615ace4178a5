"""The names params.yaml gives losses and activations: each written once, then imported."""

BCE, MSE = "bce", "mse"
LOSSES = (BCE, MSE)

RELU, TANH, LEAKY_RELU = "relu", "tanh", "leaky_relu"
ACTIVATIONS = (RELU, TANH, LEAKY_RELU)
