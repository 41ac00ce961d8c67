"""The ``synthetic_digits`` TFDS dataset (importing this package registers it)."""

from .synthetic_digits_dataset_builder import Builder

__all__ = ["Builder"]
