"""The image path of a run: a CNN and the image remedies, on the shared run pipeline.

:func:`raretune.run` loads the data, diagnoses, splits and prepares the run folder the same
way for tables and images; when the data is an :class:`~raretune.datasets.ImageData` it
calls :func:`run_images`, which only sets up what differs (the image schema and
:class:`~raretune.tuning.ImageHyperModel`) and hands over to the shared search,
calibration, threshold, test scoring and artefact writing. :func:`predict_images_run` is
the image side of :func:`raretune.predict`.
"""

from __future__ import annotations

import pandas as pd

from . import __version__
from ._errors import DataError
from ._io import write_json
from ._run import RunConfig, RunResult, _Prepared, _score_frame, _search_and_finish

__all__ = ["run_images", "predict_images_run"]


def run_images(config: RunConfig, prepared: _Prepared) -> RunResult:
    """Search a CNN and the remedy on prepared image data, then finish the run as for tables.

    Parameters
    ----------
    config : RunConfig
        Validated, with ``strategies`` resolved for images.
    prepared : _Prepared
        The split image data and the ready run folder, from :func:`raretune._run._run`.

    Returns
    -------
    RunResult
    """
    import keras

    from .tuning import ImageHyperModel, ImageSchema
    from .tuning._image import predict_images

    out, split, data = prepared.out, prepared.split, prepared.data
    is_worker = prepared.role is not None and prepared.role.kind == "worker"
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    schema = ImageSchema.from_data(split.train)
    if not config.resume and not is_worker:
        write_json(out / "config.json", {
            "raretune_version": __version__, "config": config.to_dict(), "fingerprint": prepared.fingerprint,
            "schema": None, "image": schema.to_dict(), "classes": list(data.classes), "target": data.target,
        })
    hypermodel = ImageHyperModel(schema, strategies=config.strategies, objective=prepared.objective, random_state=config.seed)
    shape = "x".join(str(d) for d in schema.image_shape)
    return _search_and_finish(
        config, prepared, hypermodel,
        predict_part=lambda model, part: predict_images(model, part.images),
        columns={"image": [f"{shape} uint8"]},
    )


def predict_images_run(loaded: dict, data, *, data_dir=None) -> pd.DataFrame:
    """Score images with a finished image run (see :func:`raretune.predict`).

    Parameters
    ----------
    loaded : dict
        From :func:`raretune.load_run` (it holds ``image``, the run's image schema).
    data : str, tf.data.Dataset, numpy.ndarray or tuple
        ``"tfds:NAME[:SPLIT]"``, a dataset of images or ``(image, label)`` pairs, an array
        of shape (n, H, W[, C]) or ``(images, labels)``; labels are ignored.

    Returns
    -------
    pandas.DataFrame
        Binary: ``score``, ``prediction`` (0/1). Multiclass: ``score_<class>`` per class and
        ``prediction`` (the class name).
    """
    from .datasets._images import _as_uint8, _shape_text, read_images
    from .tuning._image import ImageSchema, predict_images

    schema = ImageSchema.from_dict(loaded["image"])
    images, _, _, _, source = read_images(data, data_dir=data_dir)
    images, _ = _as_uint8(images, source)
    if tuple(images.shape[1:]) != tuple(schema.image_shape):
        raise DataError(
            f"Images from {source} are {_shape_text(images.shape[1:])}; the model was built for "
            f"{_shape_text(schema.image_shape)}."
        )
    return _score_frame(loaded, predict_images(loaded["model"], images))
