"""INTERIM (replaced by the models package on merge)."""
from ..tuning import FeatureSchema, ImageSchema, average_models, logistic_model, trees_model
from ..tuning._hypermodel import predict_proba
from ..tuning._image import predict_images
