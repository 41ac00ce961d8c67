"""A weighted average of Keras models, as one Keras model of built-in layers."""

from __future__ import annotations

__all__ = ["average_models"]


def average_models(models, weights, *, name: str = "raretune_ensemble"):
    """One Keras model whose output is the weighted average of ``models``' outputs.

    The models must take the same named inputs. Each becomes a nested model (renamed
    ``member_<i>``); integer ``weights`` repeat members in a built-in ``Average`` layer,
    so the result has no custom objects and ``keras.models.load_model`` reads it.

    Parameters
    ----------
    models : sequence of keras.Model
    weights : sequence of int
        Counts, e.g. from :func:`raretune.tuning.greedy_ensemble`; members with 0 are left out.

    Returns
    -------
    keras.Model
    """
    import keras

    chosen = [(m, int(w)) for m, w in zip(models, weights) if int(w) > 0]
    if not chosen:
        raise ValueError("average_models needs at least one member with a positive weight.")
    if len(chosen) == 1:
        return chosen[0][0]
    first = chosen[0][0]
    inputs = {key: keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype, name=key)
              for key, tensor in _named_inputs(first).items()}
    outputs = []
    for i, (model, weight) in enumerate(chosen):
        member = keras.Model(model.input, model.output, name=f"member_{i}")
        output = member({key: inputs[key] for key in _named_inputs(model)})
        outputs.extend([output] * weight)
    return keras.Model(inputs, keras.layers.Average(name="probability")(outputs), name=name)


def _named_inputs(model) -> dict:
    """``{input name: input tensor}`` of a functional model."""
    return {tensor.name.split(":")[0]: tensor for tensor in model.inputs}
