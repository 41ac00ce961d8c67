"""Keras callbacks of a trial: exact validation scores and the one finite-loss check.

Keras's own metrics approximate PR-AUC; :class:`ValidationScorer` scores the validation
rows exactly after every epoch (scikit-learn on the predictions), so Keras Tuner and its
checkpointing read exact values. A loss or prediction that is not finite fails the trial
with the reason (``keras_tuner.errors.FailedTrialError``), which Keras Tuner never retries.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np

from ..metrics import Objective, get_objective, log_loss

__all__ = ["EpochRelay", "ValidationScorer", "check_finite_loss", "validation_logs"]


def check_finite_loss(logs, where: str) -> None:
    """Fail the trial when the training loss in ``logs`` is not finite (``where``: "in batch 3")."""
    loss = (logs or {}).get("loss")
    if loss is not None and not np.isfinite(loss):
        raise kt.errors.FailedTrialError(f"training loss became {loss} {where}")


def validation_logs(objective: Objective, y, proba, epoch: int) -> dict:
    """Exact validation scores of one epoch, as Keras log entries.

    ``<objective.metric>``, ``val_pr_auc`` and ``val_loss``. Predictions that are not finite
    fail the trial (``keras_tuner.errors.FailedTrialError``).
    """
    if not np.isfinite(proba).all():
        raise kt.errors.FailedTrialError(f"predictions are not finite at epoch {epoch + 1}")
    logs = {objective.metric: objective.score(y, proba)}
    if objective.name != "pr_auc":
        logs["val_pr_auc"] = get_objective("pr_auc").score(y, proba)
    logs["val_loss"] = log_loss(y, proba)
    return logs


class ValidationScorer(keras.callbacks.Callback):
    """Keras callback that scores the validation rows exactly after every epoch.

    It writes ``val_<objective>`` (and ``val_pr_auc``, ``val_loss``) into the epoch logs, so
    Keras Tuner and early stopping read an exact score rather than Keras's approximations.

    Parameters
    ----------
    inputs : dict or numpy.ndarray
        Validation model inputs.
    y : numpy.ndarray
        Validation class indices.
    objective : Objective
    batch_size : int
        Prediction batch size.
    """

    def __init__(self, inputs, y, objective: Objective, *, batch_size: int = 4096):
        super().__init__()
        self.inputs = inputs
        self.y = y
        self.objective = objective
        self.batch_size = batch_size

    def on_train_batch_end(self, batch, logs=None):
        check_finite_loss(logs, f"in batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        from ..models import predict_proba

        logs = logs if logs is not None else {}
        check_finite_loss(logs, f"at epoch {epoch + 1}")
        proba = predict_proba(self.model, self.inputs, batch_size=self.batch_size)
        logs.update(validation_logs(self.objective, self.y, proba, epoch))


class EpochRelay(keras.callbacks.Callback):
    """Relay the epochs of an inner ``fit`` to the tuner's callbacks, as if they trained ``model``.

    Cross-fitting and balanced bagging train views of the saved model (towers, bags); Keras
    Tuner's callbacks (checkpointing, TensorBoard) must see the saved model and its exact
    scores. ``score(epoch) -> dict`` gives the epoch's validation logs.

    Parameters
    ----------
    callback_list : keras.callbacks.CallbackList
        The tuner's callbacks, bound to the saved model.
    model : keras.Model
        The saved model (its ``stop_training`` is read back).
    score : callable
        ``score(epoch)``: validation log entries of the saved model after this epoch.
    """

    def __init__(self, callback_list, model, score):
        super().__init__()
        self.callback_list = callback_list
        self.saved = model
        self.score = score

    def on_epoch_begin(self, epoch, logs=None):
        self.callback_list.on_epoch_begin(epoch)

    def on_train_batch_end(self, batch, logs=None):
        check_finite_loss(logs, f"in batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if "loss" not in logs:
            logs["loss"] = np.nan
        check_finite_loss(logs, f"at epoch {epoch + 1}")
        self.callback_list.on_epoch_end(epoch, {"loss": float(logs["loss"]), **self.score(epoch)})
        if self.saved.stop_training:
            self.model.stop_training = True
