"""The exact arithmetic against each framework's own, and PyTorch's own against JAX's, over whole runs of
every named experiment (journey/agreement.py)."""

import dataclasses

import pytest
from conftest import ROOT

from journey.agreement import JAX_TOLERANCES, TOLERANCES, Differences, compare, differences, run
from stages.lib.configs import ALL, load_experiments
from stages.lib.names import EXACT, NATIVE

EXPERIMENTS = load_experiments(ROOT / "experiments.yaml", ALL)
# One experiment per distinct run: nb2-torch and nb2-jax are nb2-mse in another arithmetic.
DISTINCT = [name for name, params in EXPERIMENTS.items() if params.train.arithmetic == EXACT]


def within(gaps: Differences, limits: dict[str, float]) -> dict[str, bool]:
    return {key: getattr(gaps, key) <= limit for key, limit in limits.items()}


def framework(params, name: str):
    return dataclasses.replace(params, train=dataclasses.replace(params.train, framework=name))


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTINCT)
def test_exact_and_pytorch_end_within_tolerance(name):
    gaps = compare(framework(EXPERIMENTS[name], "torch"))
    assert within(gaps, TOLERANCES) == dict.fromkeys(TOLERANCES, True), gaps
    assert gaps.same_verdict
    assert gaps.weights > 0  # two arithmetics, not one twice


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTINCT)
def test_jax_in_its_own_arithmetic_ends_within_tolerance_of_pytorchs_own_and_of_exact(name):
    pytest.importorskip("jax", reason="the jax extra is not installed: pip install -e '.[jax]'")
    params = EXPERIMENTS[name]
    jax_own = run(params, NATIVE, "jax")
    for other in (run(params, NATIVE, "torch"), run(params, EXACT, "torch")):
        gaps = differences(other, jax_own)
        assert within(gaps, JAX_TOLERANCES) == dict.fromkeys(JAX_TOLERANCES, True), gaps
        assert gaps.same_verdict
        assert gaps.weights > 0  # two arithmetics' rounding, not one twice


@pytest.mark.slow
@pytest.mark.parametrize("limits", [TOLERANCES, JAX_TOLERANCES], ids=["pytorch", "jax"])
def test_the_tolerances_catch_a_real_change(limits):
    """Beyond the threshold: runs that differ in their seed are far outside every tolerance; a run
    against itself is inside with nothing to spare."""
    params = dataclasses.replace(EXPERIMENTS["nb1-bce"], train=dataclasses.replace(
        EXPERIMENTS["nb1-bce"].train, epochs=30))  # fmt: skip
    exact = run(params, EXACT)
    reseeded = run(dataclasses.replace(params, train=dataclasses.replace(params.train, seed=1)), NATIVE)
    assert within(differences(exact, reseeded), limits) == dict.fromkeys(limits, False)
    assert differences(exact, exact) == Differences(0.0, 0.0, 0.0, True)
