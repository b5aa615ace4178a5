"""Fit diagnosis from the loss curves: generalisation gap, best epoch, and a verdict by documented rules.

The rules, checked in this order (the first that holds is the verdict):

1. not converged: the training loss still fell by more than 1% over the last 10% of the epochs;
2. overfitting: the final validation loss is more than 2% above its lowest, and the lowest came
   before the last 10% of the epochs;
3. underfitting: validation accuracy is more than 0.03 below the noise ceiling; where there is no
   ceiling (real data), the final training loss is above half that of always predicting the
   training base rate;
4. good fit: none of these.
"""

from dataclasses import asdict, dataclass

import numpy as np

TAIL = 0.1  # the last tenth of the epochs is "the end of the curves"
STILL_FALLING = 0.01
RISEN_FROM_BEST = 0.02
BELOW_CEILING = 0.03
ABOVE_CONSTANT = 0.5
VERDICTS = ("not converged", "overfitting", "underfitting", "good fit")


@dataclass(frozen=True)
class Diagnosis:
    """What the curves say about the fit; `verdict` is one of VERDICTS."""

    generalization_gap: float  # final validation loss minus final training loss
    best_epoch: int  # 1-based epoch of the lowest validation loss
    verdict: str

    def as_metrics(self) -> dict:
        return asdict(self)


def diagnose(
    train_loss: np.ndarray,
    val_loss: np.ndarray,
    accuracy: float,
    noise_ceiling: float | None,
    constant_loss: float,
) -> Diagnosis:
    """Apply the module's rules to per-epoch losses; `constant_loss` is the base-rate predictor's loss."""
    train_loss, val_loss = np.asarray(train_loss, float), np.asarray(val_loss, float)
    tail_start = len(train_loss) - max(1, round(TAIL * len(train_loss)))
    best = int(np.argmin(val_loss))
    if train_loss[-1] < (1 - STILL_FALLING) * train_loss[max(0, tail_start - 1)]:
        verdict = "not converged"
    elif val_loss[-1] > (1 + RISEN_FROM_BEST) * val_loss[best] and best < tail_start:
        verdict = "overfitting"
    elif _underfit(train_loss[-1], accuracy, noise_ceiling, constant_loss):
        verdict = "underfitting"
    else:
        verdict = "good fit"
    return Diagnosis(float(val_loss[-1] - train_loss[-1]), best + 1, verdict)


def _underfit(final_train_loss: float, accuracy: float, ceiling: float | None, constant: float) -> bool:
    if ceiling is not None:
        return accuracy < ceiling - BELOW_CEILING
    return final_train_loss > ABOVE_CONSTANT * constant
