"""Each fit verdict on a curve made to show it, and the gap and best epoch."""

import numpy as np
import pytest

from stages.lib.diagnosis import VERDICTS, diagnose

EPOCHS = np.arange(1, 201)
FLAT = 0.2 + 0.5 * np.exp(-EPOCHS / 10)  # falls fast, then flat
CEILING = 0.95
CONSTANT = 0.693  # BCE of always predicting 0.5


def test_flat_curves_near_the_ceiling_are_a_good_fit():
    fit = diagnose(FLAT, FLAT + 0.02, accuracy=0.94, noise_ceiling=CEILING, constant_loss=CONSTANT)
    assert fit.verdict == "good fit"
    assert fit.generalization_gap == pytest.approx(0.02)


def test_a_training_loss_still_falling_at_the_end_is_not_converged():
    falling = 0.7 - 0.002 * EPOCHS  # loses about 6% over the last 20 epochs
    fit = diagnose(falling, falling + 0.01, accuracy=0.94, noise_ceiling=CEILING, constant_loss=CONSTANT)
    assert fit.verdict == "not converged"


def test_validation_loss_rising_from_an_early_minimum_is_overfitting():
    rising = FLAT + 0.002 * np.maximum(EPOCHS - 50, 0)
    fit = diagnose(FLAT, rising, accuracy=0.94, noise_ceiling=CEILING, constant_loss=CONSTANT)
    assert fit.verdict == "overfitting"
    assert 45 <= fit.best_epoch <= 55


def test_flat_curves_well_below_the_ceiling_are_underfitting():
    fit = diagnose(FLAT + 0.1, FLAT + 0.1, accuracy=0.90, noise_ceiling=CEILING, constant_loss=CONSTANT)
    assert fit.verdict == "underfitting"


def test_without_a_ceiling_a_loss_near_the_constant_predictors_is_underfitting():
    high = np.full(200, 0.6)
    assert diagnose(high, high, 0.7, None, CONSTANT).verdict == "underfitting"
    assert diagnose(FLAT, FLAT, 0.7, None, CONSTANT).verdict == "good fit"


def test_best_epoch_is_one_based_and_every_verdict_is_known():
    fit = diagnose([0.5, 0.4, 0.3], [0.6, 0.5, 0.55], accuracy=0.94, noise_ceiling=CEILING, constant_loss=1.0)
    assert fit.best_epoch == 2 and fit.verdict in VERDICTS
