"""Plain Keras graphs: the tabular MLPs, the image CNN, averaging, calibration, and compiled exports.

Every model here is made of built-in Keras layers only, so its saved ``.keras`` file loads
with plain ``keras.models.load_model`` in a process without raretune. Nothing here imports
Keras Tuner or :mod:`raretune.tuning`: this package only builds graphs and predicts.

Importing this package imports Keras.
"""

from ._average import average_models
from ._calibration import CALIBRATED_NAME, calibrated_model
from ._cnn import build_image_model
from ._inputs import encoded_inputs
from ._mlp import build_stacked_model, build_tabular_model, tower_outputs
from ._predict import predict_images, predict_proba
from ._schema import FeatureSchema, ImageSchema, fold_schemas

__all__ = [
    "CALIBRATED_NAME",
    "FeatureSchema",
    "ImageSchema",
    "average_models",
    "build_image_model",
    "build_stacked_model",
    "calibrated_model",
    "build_tabular_model",
    "encoded_inputs",
    "fold_schemas",
    "predict_images",
    "predict_proba",
    "tower_outputs",
]
