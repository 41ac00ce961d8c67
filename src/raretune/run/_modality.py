"""Tables and images: the one small interface through which the run tells them apart.

Every stage of a run works on labelled rows and raw model scores; what differs between a
table and an image set is how the network's inputs are described (a feature schema or an
image shape), which hypermodel searches it, how a part is scored, and how new rows are
read for prediction. :func:`modality_of` picks the modality for loaded data, and
:func:`modality_from_record` rebuilds it from a finished run's ``config.json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..datasets import ImageData

#: Categories a column keeps for the HistGradientBoosting baseline (its limit is 255 bins).
_BASELINE_CATEGORIES = 254

__all__ = ["ImageModality", "TableModality", "modality_from_record", "modality_of"]


@dataclass(frozen=True)
class TableModality:
    """Tables: an MLP over raw columns, preprocessing learnt on training rows (a ``FeatureSchema``)."""

    schema: object = None
    kind = "table"
    cross_fits = True

    @property
    def default_strategies(self) -> tuple:
        from ..remedies import DEFAULT_STRATEGIES

        return DEFAULT_STRATEGIES

    def learn(self, train) -> "TableModality":
        """This modality with the schema of the training rows."""
        from ..models import FeatureSchema

        return replace(self, schema=FeatureSchema.from_data(train))

    def hypermodel(self, plan, rows, fold_layout=None, sample_weight=None):
        """The Keras Tuner hypermodel that searches network and remedy on ``rows`` (``sample_weight``:
        theirs, or ``None``)."""
        from ..tuning import TabularHyperModel

        return TabularHyperModel(self.schema, strategies=plan.strategies, objective=plan.objective,
                                 random_state=plan.seed, folds=plan.folds, rows=rows if plan.cross_fitted else None,
                                 fold_layout=fold_layout, sample_weight=sample_weight)

    def predict_raw(self, model, rows) -> np.ndarray:
        """The network's raw scores for labelled or unlabelled rows: (n,) binary, (n, K) multiclass."""
        return self.predict_inputs(model, self.inputs(rows))

    def inputs(self, rows) -> dict:
        """The network's inputs for ``rows`` (made apart from the scoring, e.g. in a readahead thread)."""
        return self.schema.inputs(rows.features)

    def predict_inputs(self, model, inputs: dict) -> np.ndarray:
        """:meth:`predict_raw` of rows already made into :meth:`inputs`."""
        from ..models import predict_proba

        return predict_proba(model, inputs)

    def reference(self, classes, target: str):
        """A table with no rows but the run's columns and classes: what new rows must look like."""
        from ..datasets import TabularData

        return TabularData(features=pd.DataFrame(columns=list(self.schema.columns)), y=np.zeros(0, dtype=int),
                           classes=tuple(classes), target=target, numeric=self.schema.numeric,
                           categorical=self.schema.categorical)

    def columns(self, data) -> dict:
        """The inputs, for ``metrics.json``."""
        return {"numeric": list(data.numeric), "categorical": list(data.categorical)}

    def baseline_features(self, rows, train):
        """What the HistGradientBoosting baseline sees: the columns, categories typed from ``train``.

        HistGradientBoosting takes at most 255 categories a column: the 254 most frequent
        training categories are kept, rarer ones count as missing.
        """
        features = rows.features.copy()
        for name in rows.categorical:
            kept = sorted(train.features[name].value_counts(sort=True).index[:_BASELINE_CATEGORIES])
            values = features[name].where(features[name].isin(kept))  # rarer categories: missing
            features[name] = pd.Categorical(values, categories=kept)
        return features

    def digest(self, digest, data) -> None:
        """Feed the rows into a fingerprint."""
        digest.update(pd.util.hash_pandas_object(data.features, index=False).to_numpy().tobytes())
        digest.update(np.asarray(data.y).tobytes())
        digest.update(json.dumps([data.classes, data.numeric, data.categorical]).encode())

    def record(self) -> dict:
        """What ``config.json`` keeps to rebuild the modality."""
        return {"schema": self.schema.to_dict(), "image": None}


@dataclass(frozen=True)
class ImageModality:
    """Images: a small CNN over uint8 pixels (an ``ImageSchema``: shape, classes)."""

    schema: object = None
    kind = "image"
    cross_fits = False

    @property
    def default_strategies(self) -> tuple:
        from ..remedies import DEFAULT_IMAGE_STRATEGIES

        return DEFAULT_IMAGE_STRATEGIES

    def learn(self, train) -> "ImageModality":
        from ..models import ImageSchema

        return replace(self, schema=ImageSchema.from_data(train))

    def hypermodel(self, plan, rows, fold_layout=None, sample_weight=None):
        from ..tuning import ImageHyperModel

        return ImageHyperModel(self.schema, strategies=plan.strategies, objective=plan.objective, random_state=plan.seed)

    def predict_raw(self, model, rows) -> np.ndarray:
        from ..models import predict_images

        return predict_images(model, rows.images)

    def reference(self, classes, target: str):
        return ImageData(images=np.zeros((0, *self.schema.image_shape), dtype=np.uint8), y=np.zeros(0, dtype=np.int64),
                         classes=tuple(classes), target=target)

    def columns(self, data) -> dict:
        return {"image": ["x".join(str(d) for d in data.image_shape) + " uint8"]}

    def baseline_features(self, rows, train):
        return rows.images.reshape(rows.n_rows, -1)  # pixels as features

    def digest(self, digest, data) -> None:
        digest.update(np.ascontiguousarray(data.images).tobytes())
        digest.update(np.asarray(data.y).tobytes())
        digest.update(json.dumps([data.classes, data.image_shape]).encode())

    def record(self) -> dict:
        return {"schema": None, "image": self.schema.to_dict()}


def modality_of(data):
    """The modality of loaded data (``TabularData`` or ``ImageData``)."""
    return ImageModality() if isinstance(data, ImageData) else TableModality()


def modality_from_record(config: dict):
    """The modality of a finished run, from its ``config.json``."""
    from ..models import FeatureSchema, ImageSchema

    if config.get("image") is not None:
        return ImageModality(ImageSchema.from_dict(config["image"]))
    return TableModality(FeatureSchema.from_dict(config["schema"]))


def fingerprint(modality, data, test_data, options: dict) -> str:
    """SHA-256 of the data and the options that decide the search (resume and workers compare it)."""
    digest = hashlib.sha256()
    for table in (data, test_data):
        if table is not None:
            modality.digest(digest, table)
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()
