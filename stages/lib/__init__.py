"""Helpers the stages share: the model, training loop, optimiser, metrics, I/O and command-line plumbing."""
