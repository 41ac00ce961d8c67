"""Export a finished run for serving: a TensorFlow SavedModel that scores and decides.

The SavedModel's ``serving_default`` signature takes the raw columns as a user passes them
(one 1-D tensor per column: strings for categories, float32 for numbers, NaN allowed) and
returns the calibrated score and the decision at the deployed threshold, so serving needs
neither raretune nor the run's ``metrics.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import RunStateError
from ._paths import check_output_file
from ._predict import load_run

__all__ = ["export_saved_model"]


def export_saved_model(run_dir, out_dir) -> Path:
    """Write a finished run as a TensorFlow SavedModel with a serving signature.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`raretune.run`.
    out_dir : path
        A new (or empty) folder, outside any run folder.

    Returns
    -------
    pathlib.Path
        ``out_dir``. Its ``serving_default`` signature takes, for a table, one 1-D tensor
        per input column (named as the model's inputs: ``tf.string`` or ``tf.float32``,
        shape ``(None,)``), for images the image batch; it returns ``"score"`` (binary: the
        calibrated positive-class probability, shape ``(None,)``; multiclass: the class
        probabilities, ``(None, K)``) and ``"decision"`` (binary: ``score >= threshold``,
        the deployed threshold; multiclass: the index of the most probable class, in the
        order of ``metrics.json["task"]["classes"]``).

    Raises
    ------
    RunStateError
        ``run_dir`` is not a finished run, or ``out_dir`` exists and is not empty, or lies
        inside a run folder.

    Examples
    --------
    >>> from raretune.run._export import export_saved_model                 # doctest: +SKIP
    >>> export_saved_model("runs/fraud", "serving/fraud/1")                  # doctest: +SKIP
    >>> # in TensorFlow Serving or plain TensorFlow, without raretune:
    >>> import tensorflow as tf                                              # doctest: +SKIP
    >>> serve = tf.saved_model.load("serving/fraud/1").signatures["serving_default"]  # doctest: +SKIP
    >>> serve(amount=tf.constant([12.5]), channel=tf.constant(["web"]))["score"]    # doctest: +SKIP
    """
    out = _check_export_folder(out_dir)
    loaded = load_run(run_dir)
    if not loaded["calibrated"]:
        raise RunStateError(f"{str(run_dir)!r} was written by an older raretune whose model.keras is not calibrated; "
                            "run it again to export it.")
    _export(loaded["model"], loaded["threshold"], out)
    return out


def _check_export_folder(out_dir) -> Path:
    """The export folder, refused when it holds files or lies in a run (one-line errors)."""
    text = os.fspath(out_dir)
    if not str(text).strip():
        raise RunStateError("--out is empty; name a new folder for the SavedModel.")
    out = Path(os.path.normpath(text))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunStateError(f"--out {str(text)!r} exists and is not an empty folder; name a new folder.")
    # the same refusals as an output file (system folders, run folders, unwritable places)
    check_output_file(out / "saved_model.pb")
    return out


def _export(model, threshold, out: Path) -> None:
    import keras
    import tensorflow as tf

    binary = model.output.shape[-1] == 1
    tables = isinstance(model.input, dict)
    if tables:
        names = sorted(model.input)
        signature = [{name: tf.TensorSpec((None,), model.input[name].dtype, name=name) for name in names}]
    else:
        signature = [tf.TensorSpec(model.input.shape, model.input.dtype, name="image")]
    cutoff = tf.constant(0.5 if threshold is None else threshold, dtype=tf.float64)

    def serve(inputs):
        # a user passes a column as a 1-D tensor; the model takes (n, 1)
        if tables:
            inputs = {name: tf.reshape(column, (-1, 1)) for name, column in inputs.items()}
        score = model(inputs, training=False)
        if binary:
            score = score[:, 0]
            # compared in float64, as raretune.predict compares the float32 score
            decision = tf.cast(score, tf.float64) >= cutoff
        else:
            decision = tf.argmax(score, axis=-1)
        return {"score": score, "decision": decision}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=serve, input_signature=signature)
    archive.write_out(str(out), verbose=False)
