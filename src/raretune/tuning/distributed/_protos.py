"""Trials and search spaces as gRPC messages, without Keras Tuner's stray ``print``.

Keras Tuner 1.4.8's ``conditions.Parent.to_proto`` prints the condition's first value every
time a trial crosses the wire (a line such as ``class_weight`` per call, in chief and
workers). Rather than replace that method for the whole process, raretune serialises a copy
whose conditions are :class:`_QuietParent`, a subclass with a silent ``to_proto``; Keras
Tuner's own classes, and every other user of them, are left as they are. The copies live
only for the call: the messages they produce decode into plain ``Parent`` conditions.
"""

from __future__ import annotations

import copy

from keras_tuner.src import protos
from keras_tuner.src.engine import conditions

__all__ = ["space_to_proto", "trial_to_proto", "quiet_trial"]


class _QuietParent(conditions.Parent):
    """``conditions.Parent`` whose ``to_proto`` is Keras Tuner's without the ``print``."""

    def to_proto(self):
        proto = protos.get_proto()
        first = self.values[0]
        if isinstance(first, str):
            kind = "string_value"
        elif isinstance(first, bool):
            kind = "boolean_value"
        elif isinstance(first, int):
            kind = "int_value"
        else:
            kind = "float_value"
        values = [proto.Value(**{kind: value}) for value in self.values]
        return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))


def _quiet_space(hyperparameters):
    """A copy of ``hyperparameters`` whose ``Parent`` conditions serialise silently."""
    quiet = hyperparameters.copy()
    for hp in quiet.space:
        hp.conditions = [_QuietParent(c.name, c.values) if type(c) is conditions.Parent else c
                         for c in hp.conditions]
    return quiet


def quiet_trial(trial):
    """A copy of ``trial`` that Keras Tuner's gRPC client can send without printing.

    Parameters
    ----------
    trial : keras_tuner.engine.trial.Trial

    Returns
    -------
    keras_tuner.engine.trial.Trial
        Same id, status, message, metrics and values; only the conditions' class differs.
    """
    quiet = copy.copy(trial)
    quiet.hyperparameters = _quiet_space(trial.hyperparameters)
    return quiet


def trial_to_proto(trial):
    """``trial.to_proto()``, silently."""
    return quiet_trial(trial).to_proto()


def space_to_proto(hyperparameters):
    """``hyperparameters.to_proto()``, silently."""
    return _quiet_space(hyperparameters).to_proto()
